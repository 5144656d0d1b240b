"""One exception hierarchy, mapped to the CLI's exit codes (DESIGN.md)."""
from __future__ import annotations

from dataclasses import dataclass

EXIT_OK, EXIT_FINDING, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong with one file, said so its author can fix it."""

    file: str
    message: str
    fix: str = ""
    line: int | None = None
    rule: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}" + (f" — {self.fix}" if self.fix else "")

    def as_json(self) -> dict:
        return {"file": self.file, "line": self.line, "rule": self.rule,
                "message": self.message, "fix": self.fix}


class AccessctlError(Exception):
    """Base: an error the user can act on; never shown as a traceback."""

    exit_code = EXIT_USAGE


class UsageError(AccessctlError):
    """Wrong flags, missing repository, missing environment."""


class FindingError(AccessctlError):
    """Input the pipeline refuses (bad org model, blast-radius refusal …)."""

    exit_code = EXIT_FINDING
