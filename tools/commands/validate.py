"""``accessctl validate [PATH…]``: every error in every file, then exit."""
from __future__ import annotations

import argparse

from rich.markup import escape

from tools.core import orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.request import load, validate


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="request files or folders (default: all of requests/)")


def selected_paths(ctx, paths: list[str]) -> set[str] | None:
    """Repository-relative paths named on the command line (None = all)."""
    if not paths:
        return None
    from pathlib import Path
    out: set[str] = set()
    for raw in paths:
        full = Path(raw) if Path(raw).is_absolute() else (Path.cwd() / raw)
        try:
            rel = full.absolute().relative_to(ctx.root)
        except ValueError:
            raise UsageError(f"{raw}: not inside the access repository {ctx.root}") from None
        if full.is_dir():
            out.update(p for p in Tree(ctx.root).list(rel.as_posix()))
        elif full.exists() or full.is_symlink():
            out.add(rel.as_posix())
        else:
            raise UsageError(f"{raw}: no such file")
    return out


def load_and_validate(ctx, only: set[str] | None = None, tree: Tree | None = None):
    """All request files of the tree, validated together (cross-file checks
    need every file), plus any named files outside requests/ so they are
    refused with a clear message rather than ignored."""
    tree = tree or Tree(ctx.root)
    org = orgmodel.load(tree)
    paths = tree.list(load.REQUESTS_DIR)
    extra = sorted((only or set()) - set(paths))
    files = [load.read(tree, p) for p in [*paths, *extra]]
    validate.validate(files, org, ctx.now)
    return org, files


def run(args, ctx) -> int:
    only = selected_paths(ctx, args.paths)
    # The org model first: requests cannot be judged against a broken one,
    # and each of its problems is reported with its file and line.
    found = orgmodel.findings(Tree(ctx.root))
    files: list = []
    if not found:
        _, files = load_and_validate(ctx, only)
        found = validate.findings(files, only)
    # What a waiver in force sets aside is shown, never counted as an error.
    waived = sorted((w for rf in files if only is None or rf.path in only for w in rf.waived),
                    key=lambda w: (w.finding.file, w.finding.line or 0))
    checked = len(files) if only is None else len(only)
    if ctx.format == "json":
        emit_json({"files": checked, "valid": not found, "errors": [f.as_json() for f in found],
                   "waived": [w.as_json() for w in waived]})
    else:
        out = console()
        for w in waived:
            out.print(f"[yellow]~[/] {escape(str(w))}")
        for f in found:
            out.print(f"[red]✗[/] {escape(str(f))}")
        bad = len({f.file for f in found})
        if found:
            out.print(f"[red]{len(found)} error(s) in {bad} of {checked} file(s)[/]")
        else:
            out.print(f"[green]✓[/] {checked} request file(s) valid")
    return EXIT_FINDING if found else EXIT_OK
