"""``accessctl codeowners [--check]``: write or verify ``.github/CODEOWNERS``.

``--check`` runs in the PR check, so a PR that changes a target's owner
without regenerating the file (or edits the file by hand) fails with the
exact lines that differ.
"""
from __future__ import annotations

import argparse

from rich.markup import escape

from tools.core import orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.review import codeowners


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true",
                   help="do not write; exit 1 when the file differs from what the org model gives")


def run(args, ctx) -> int:
    org = orgmodel.load(Tree(ctx.root))
    wanted = codeowners.render(org)
    path = ctx.root / codeowners.PATH
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    stale = codeowners.stale_lines(current, wanted)
    if args.check:
        if ctx.format == "json":
            emit_json({"path": codeowners.PATH, "up_to_date": not stale, "differences": stale})
        else:
            out = console()
            if stale:
                out.print(f"[red]✗[/] {codeowners.PATH} is stale; run `accessctl codeowners` and commit it:")
                for line in stale:
                    out.print(f"  {escape(line)}")
            else:
                out.print(f"[green]✓[/] {codeowners.PATH} matches the org model")
        return EXIT_FINDING if stale else EXIT_OK
    if stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted, encoding="utf-8")
    if ctx.format == "json":
        emit_json({"path": codeowners.PATH, "written": bool(stale),
                   "rules": [{"pattern": r.pattern, "owners": list(r.owners)} for r in codeowners.rules(org)]})
    else:
        verb = "wrote" if stale else "unchanged:"
        console().print(f"[green]✓[/] {verb} {codeowners.PATH} ({len(codeowners.rules(org))} rules)")
    return EXIT_OK
