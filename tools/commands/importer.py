"""``accessctl import``: write request files for access that predates the pipeline."""
from __future__ import annotations

import argparse

from rich.markup import escape

from tools.core.errors import UsageError
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.jobs.importer import plan_imports
from tools.provision.apply import build_plan, provider_list


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=["aws", "gcp"], required=True, help="cloud to import from")
    p.add_argument("--target", action="append", metavar="NAME",
                   help="account name or project id (repeatable; default: every target of the provider)")
    p.add_argument("--dry-run", action="store_true", help="show the files, write nothing")


def run(args, ctx) -> int:
    providers = provider_list(args.provider)
    names = set(args.target or [])
    planned = build_plan(ctx.root, ctx.now, providers, where=lambda t: not names or t.name in names)
    unknown = names - {t.name for t in planned.plan.targets.values()}
    if unknown:
        raise UsageError(f"--target {', '.join(sorted(unknown))}: not a known {args.provider} target")
    removals = planned.plan.changes + [h.change for h in planned.plan.held]
    existing = set(Tree(ctx.root).list("requests"))
    files, skipped = plan_imports(removals, dict(planned.plan.targets), planned.org,
                                  ctx.now.strftime("%Y-%m-%d"), existing)
    if not args.dry_run:
        for f in files:
            full = ctx.root / f.path
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_text(f.text, encoding="utf-8")
    if ctx.format == "json":
        emit_json({"written": [] if args.dry_run else [f.path for f in files],
                   "files": [{"path": f.path, "grants": len(f.grants)} for f in files],
                   "skipped": [{"principal": s.grant.principal, "target": s.grant.entitlement,
                                "why": s.why} for s in skipped]})
    else:
        out = console()
        verb = "would write" if args.dry_run else "wrote"
        for f in files:
            out.print(f"[green]{verb}[/] {f.path} ({len(f.grants)} grant(s))")
        for s in skipped:
            out.print(f"[yellow]not imported[/] {escape(s.grant.principal)} {escape(s.grant.entitlement)}: "
                      f"{escape(s.why)}")
        if files:
            out.print("Next: the owners fill in requester, justification and expires in each file "
                      "(`accessctl validate` lists what is missing), then open a PR.")
        else:
            out.print("Nothing to import: every live grant in the managed scope is covered by a request.")
    return 0
