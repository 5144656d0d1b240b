"""``accessctl plan``: what merging main would change in the clouds (read-only)."""
from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from tools.core.output import console, emit_json
from tools.core.repo import require_commit
from tools.core.tables import print_table
from tools.provision.apply import build_plan, guard, provider_list
from tools.provision.render import plan_json, plan_markdown, plan_table, summary_line


FORMATS = ("text", "json", "markdown")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=["aws", "gcp"], help="only this cloud")
    p.add_argument("--since", metavar="COMMIT", help="only targets whose requests changed since COMMIT")


def run(args, ctx) -> int:
    if args.since:
        require_commit(ctx.root, args.since, "--since")
    planned = build_plan(ctx.root, ctx.now, provider_list(args.provider), args.since)
    plan = planned.plan
    guard(planned.org).enforce(plan)  # shows what apply would hold back, and why
    if ctx.format == "json":
        emit_json(dict(plan_json(plan), guard={"verdict": "refused" if plan.guard_verdict else "ok",
                                              "why": plan.guard_verdict},
                       failed_targets=[{"provider": p, "target": t, "error": e}
                                       for (p, t), e in plan.failed_targets.items()],
                       held_files=[{"file": h.path, "why": h.why} for h in plan.held_files]))
    elif ctx.format == "markdown":
        sys.stdout.write(plan_markdown(plan))
    else:
        out = console()
        if plan.changes or plan.held:
            print_table(out, plan_table(plan))
        for (p, t), e in plan.failed_targets.items():
            out.print(f"[red]error[/] {p} {t}: cannot be read, not planned: {escape(e)}")
        for h in plan.held_files:
            out.print(f"[red]error[/] {escape(h.why)}")
        out.print(f"blast-radius guard: {'refused — ' + plan.guard_verdict if plan.guard_verdict else 'ok'}")
        out.print(summary_line(plan))
    return 1 if plan.failed_targets or plan.held_files else 0
