"""Error kinds the CLI maps to exit codes: :class:`InputError` -> 2, :class:`ToolError` -> 1.

Categories follow the deploy story they grew from: Auth, Config, Build, Platform, Deployment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


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


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a service file: where (dotted field path) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ServiceFileError(Exception):
    """The service file cannot be used; ``problems`` lists every reason found (the CLI exits 2)."""

    def __init__(self, file: Path | str, problems: Iterable[Problem]):
        self.file = str(file)
        self.problems = list(problems)
        super().__init__(self.message())

    def message(self) -> str:
        return "\n".join(f"{self.file}: {p}" for p in self.problems)
