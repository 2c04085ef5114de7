"""One exception family: every error carries a message and a hint for the admin."""

from __future__ import annotations

from pathlib import Path


class LtspError(Exception):
    """An error the admin can act on: what failed, and what to try."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(LtspError):
    """A problem in ltsp.conf, located by file, line and parameter."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        param: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.file = Path(file) if file is not None else None
        self.line = line
        self.param = param

    @property
    def location(self) -> str:
        where = str(self.file) if self.file else "<config>"
        if self.line is not None:
            where += f":{self.line}"
        if self.param:
            where += f": {self.param}"
        return where

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return text if not self.hint else f"{text}\n  hint: {self.hint}"


class CommandError(LtspError):
    """An external command failed, was not found, timed out or was killed."""
