"""Workflow commands, and text output that can never start one.

The Actions runner treats a log line that starts with ``::`` (or the older
``##[``) as a command: ``::warning``, ``::error``, ``::add-mask``,
``::stop-commands``… Request files carry user-controlled text (file names,
justifications) that accessctl prints; a justification containing a line
break followed by ``::error::…`` would otherwise forge an annotation or
worse. So, in GitHub Actions:

- accessctl's own commands go through ``command()``, escaped as GitHub
  documents ("Workflow commands for GitHub Actions": in the message ``%``,
  CR and LF become ``%25``, ``%0D``, ``%0A``; in properties also ``:`` and
  ``,`` become ``%3A`` and ``%2C``);
- every other line written to stdout or stderr passes ``CommandGuard``: a
  line that would start a command is printed between ``::stop-commands::``
  and its resume token, the mechanism GitHub documents for printing text
  that looks like a command without running it.
"""
from __future__ import annotations

import io
import os
import re
import secrets
import sys
from typing import TextIO

LOOKS_LIKE_COMMAND = re.compile(r"^\s*(::|##\[)")


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", stream: TextIO | None = None, **properties: object) -> None:
    """Write one workflow command (``::name k=v,…::message``) past the guard."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v is not None)
    line = f"::{name}{' ' + props if props else ''}::{escape_data(message)}\n"
    target = stream or sys.stdout
    raw = getattr(target, "raw_stream", target)
    raw.write(line)
    raw.flush()


class CommandGuard(io.TextIOBase):
    """A text stream that passes lines through, except that a line which
    would start a workflow command is wrapped in stop-commands."""

    def __init__(self, raw: TextIO):
        self.raw_stream = raw
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._emit(line + "\n")
        return len(text)

    def _emit(self, line: str) -> None:
        if LOOKS_LIKE_COMMAND.match(line):
            token = secrets.token_hex(16)
            line = f"::stop-commands::{token}\n{line}{'' if line.endswith(chr(10)) else chr(10)}::{token}::\n"
        self.raw_stream.write(line)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self._emit(pending)
        self.raw_stream.flush()

    def isatty(self) -> bool:
        return self.raw_stream.isatty()

    def fileno(self) -> int:
        return self.raw_stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw_stream, "encoding", "utf-8")


def guard_output() -> None:
    """In GitHub Actions, route stdout and stderr through ``CommandGuard``."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, CommandGuard):
            setattr(sys, name, CommandGuard(stream))
