"""``accessctl demo``: the whole loop on loopback emulators, narrated (see tools/sandbox/demo.py)."""
from __future__ import annotations

import argparse

from rich.console import Console

NEEDS_REPO = False  # the demo brings its own sample repository


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--width", type=int, default=None, help="terminal width for the narration")


def run(args, ctx) -> int:
    """With --format json the narration goes to stderr and stdout gets the steps run."""
    from tools.commands.cli import main
    from tools.commands.sandbox import require_extra
    from tools.core.output import emit_json
    require_extra()
    from tools.sandbox.demo import run_demo
    as_json = ctx.format == "json"
    console = Console(width=args.width or None, highlight=False, stderr=as_json)
    return run_demo(console, main, emit_json if as_json else None)
