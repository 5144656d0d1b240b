"""``accessctl demo``: the whole loop on loopback emulators, narrated (see tools/demo.py)."""
from __future__ import annotations

import argparse

from rich.console import Console

NEEDS_REPO = True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--width", type=int, default=None, help="terminal width for the narration")


def run(args, ctx) -> int:
    from tools.demo import run_demo
    return run_demo(ctx.root, Console(width=args.width or None, highlight=False))
