"""``accessctl reconcile``: level-triggered repair of drift between main and the clouds.

``report`` (default) exits 1 when anything drifted; ``fix`` repairs through
the same plan, guard and apply path as ``accessctl apply``, then reads the
clouds again to verify.
"""
from __future__ import annotations

import argparse
import sys

from rich.markup import escape
from rich.table import Table

from tools import drift_issue
from tools.apply import build_plan, execute, guard, provider_list
from tools.errors import EXIT_FINDING, EXIT_OK
from tools.output import console, emit_json
from tools.progress import job_summary, per_target
from tools.reconcile import Drift, Shard, drift_of, summary
from tools.render_plan import target_label


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=["report", "fix"], default="report",
                   help="report drift (exit 1 if any) or fix it (default: report)")
    p.add_argument("--provider", choices=["aws", "gcp"], help="only this cloud")
    p.add_argument("--shard", metavar="I/N", help="only the I-th of N deterministic slices of the targets")
    p.add_argument("--allow-mass-revoke", action="store_true", help="fix even past the blast-radius limits")
    p.add_argument("--no-issue", action="store_true", help="do not open/update the GitHub drift issue")


def run(args, ctx) -> int:
    shard = Shard.parse(args.shard)
    providers = provider_list(args.provider)
    with per_target("reading", ctx.format == "text") as progress:
        planned = build_plan(ctx.root, ctx.now, providers, progress=progress, where=shard.owns)
    plan = planned.plan
    results = []
    remaining = None
    if args.mode == "fix" and plan.changes:
        if not args.allow_mass_revoke:
            guard(planned.org).check(plan)
        results = execute(plan, planned.connectors)
        # Verify by reading again: the fix is only done when the clouds say so.
        again = build_plan(ctx.root, ctx.now, providers, where=shard.owns)
        remaining = again.plan.changes
    drift = drift_of(plan, results)
    info = summary(drift, len(plan.targets))
    if remaining is not None:
        info["remaining_after_fix"] = len(remaining)
    markdown = drift_markdown(drift, plan.targets, info, args.mode)
    job_summary(markdown)
    if not args.no_issue:
        drift_issue.publish(drift, markdown, shard)
    if ctx.format == "json":
        emit_json({"drift": [d.as_json(plan.targets) for d in drift], "summary": info})
    elif ctx.format == "markdown":
        sys.stdout.write(markdown)
    else:
        _print_text(drift, plan.targets, info)
    if args.mode == "report":
        return EXIT_FINDING if drift else EXIT_OK
    return EXIT_FINDING if info["failed"] or remaining else EXIT_OK


def _print_text(drift: list[Drift], targets, info: dict) -> None:
    out = console()
    if drift:
        table = Table(title="Drift", title_justify="left")
        for col in ("kind", "where", "principal", "what", "outcome"):
            table.add_column(col)
        colour = {"missing": "yellow", "extra": "red", "changed": "magenta"}
        for d in drift:
            g = d.change.grant
            table.add_row(f"[{colour[d.kind]}]{d.kind}[/]", target_label(g, targets), escape(g.principal),
                          escape(f"{g.kind} {g.entitlement}"), escape(d.outcome))
        out.print(table)
    out.print(f"{info['total']} drifted grant(s) in {info['targets']} target(s): "
              f"{info['missing']} missing, {info['extra']} extra, {info['changed']} changed; "
              f"{info['fixed']} fixed, {info['failed']} failed"
              + (f"; {info['remaining_after_fix']} still drifted after the fix" if "remaining_after_fix" in info else ""))


def drift_markdown(drift: list[Drift], targets, info: dict, mode: str) -> str:
    if not drift:
        return f"**No drift** in {info['targets']} target(s): the clouds match main.\n"
    lines = [f"**{info['total']} drifted grant(s)** in {info['targets']} target(s) "
             f"({info['missing']} missing, {info['extra']} extra, {info['changed']} changed; mode `{mode}`).", "",
             "| drift | account / project | principal | what | request | outcome |",
             "|---|---|---|---|---|---|"]
    for d in drift:
        g = d.change.grant
        lines.append(f"| {d.kind} | {target_label(g, targets)} | `{g.principal}` | {g.kind} `{g.entitlement}` | "
                     f"{g.request or '—'} | {d.outcome.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
