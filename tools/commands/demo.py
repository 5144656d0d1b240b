"""``accessctl demo``: the whole loop on loopback emulators, narrated (see tools/demo.py)."""
from __future__ import annotations

import argparse

from rich.console import Console

NEEDS_REPO = True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--width", type=int, default=None, help="terminal width for the narration")


def run(args, ctx) -> int:
    """With --format json the narration goes to stderr and stdout gets the steps run."""
    from tools.demo import run_demo
    from tools.output import emit_json
    as_json = ctx.format == "json"
    console = Console(width=args.width or None, highlight=False, stderr=as_json)
    return run_demo(ctx.root, console, emit_json if as_json else None)
