"""``accessctl plan``: what merging main would change in the clouds (read-only)."""
from __future__ import annotations

import argparse
import sys

from tools.core.output import console, emit_json
from tools.core.repo import require_commit
from tools.core.tables import print_table
from tools.provision.apply import build_plan, provider_list
from tools.provision.render import plan_json, plan_markdown, plan_table, summary_line


FORMATS = ("text", "json", "markdown")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=["aws", "gcp"], help="only this cloud")
    p.add_argument("--since", metavar="COMMIT", help="only targets whose requests changed since COMMIT")


def run(args, ctx) -> int:
    if args.since:
        require_commit(ctx.root, args.since, "--since")
    plan = build_plan(ctx.root, ctx.now, provider_list(args.provider), args.since).plan
    if ctx.format == "json":
        emit_json(plan_json(plan))
    elif ctx.format == "markdown":
        sys.stdout.write(plan_markdown(plan))
    else:
        out = console()
        if plan.changes or plan.held:
            print_table(out, plan_table(plan))
        out.print(summary_line(plan))
    return 0
