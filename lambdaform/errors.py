"""Error kinds the CLI maps to exit codes: :class:`InputError` -> 2, :class:`ToolError` -> 1.

Categories follow the deploy story they grew from: Auth, Config, Build, Platform, Deployment.
"""

from __future__ import annotations


class LambdaformError(Exception):
    category = "Error"

    def __str__(self) -> str:
        return f"{self.category} error: {super().__str__()}"


class InputError(LambdaformError):
    """Something the user gave us is wrong or missing; nothing was run or written."""

    category = "Config"


class AuthError(InputError):
    category = "Auth"


class BuildError(InputError):
    category = "Build"


class ToolError(LambdaformError):
    """An external tool (terraform, the emulator, AWS) failed."""

    category = "Deployment"


class PlatformError(ToolError):
    category = "Platform"
