"""The two ways a hook check says "Failed" on purpose (anything else is an unexpected error)."""

from __future__ import annotations


class HookFailed(Exception):
    """A check found the deployment unhealthy; the message is the reason that gets logged."""

    @property
    def reason(self) -> str:
        return str(self)


class ConfigError(HookFailed):
    """An environment variable is missing or malformed, so the check could not run."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")
