"""Run a command on a real pseudo-terminal of a given width (tests only)."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def in_terminal(argv: list[str], cols: int, cwd: Path, env: dict[str, str], timeout: float = 240,
                answers: str = "") -> tuple[int, str]:
    """(exit code, what the terminal showed, ANSI codes removed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "ACCESSCTL_TABLES")}
    env.setdefault("TERM", "xterm")
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    if answers:
        os.write(master, answers.encode())
    out, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([master], [], [], 1)[0]:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    if proc.poll() is None:
        proc.kill()
    text = ANSI.sub("", out.decode(errors="replace")).replace("\r\n", "\n")
    return proc.wait(timeout=10), text


def joined(text: str) -> str:
    """The text with line breaks and the indentation after them removed, so a
    value folded over several lines reads as one."""
    return re.sub(r"\n[ │|]*", "", text)


# What the demo prints that a reader acts on: never cut, in any width.
DEMO_VALUES = ("requests/gcp/acme-data-prod/frank-bigquery-admin.yaml", "serviceAccount:acme-data-prod/etl-runner",
               "requests/gcp/acme-data-prod/etl-runner-editor.yaml", "user:frank@acme.example", "roles/bigquery.admin",
               "approval-owner-missing", "privileged-ticket-required", "production-ticket-required",
               "Access history of user:frank@acme.example", "Who has access in gcp/acme-data-prod")


def assert_reads_cleanly(out: str, cols: int, values: tuple[str, ...] = DEMO_VALUES) -> None:
    """Every line fits, nothing a reader acts on is cut, no traceback."""
    lines = out.splitlines()
    too_wide = [line for line in lines if len(line) > cols]
    assert not too_wide, too_wide[:3]
    cut = [line for line in lines if "…" in line]
    assert not cut, cut[:3]
    flat = joined(out)
    for value in values:
        assert value in flat, value
    assert "Traceback" not in out
