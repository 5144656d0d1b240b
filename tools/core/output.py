"""Printing results: JSON on stdout for machines, rich text for people."""
from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from tools.core.model import as_json


def console(stderr: bool = False) -> Console:
    # GitHub Actions logs are not a TTY but do render colour.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def emit_json(value: Any) -> None:
    json.dump(as_json(value), sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
