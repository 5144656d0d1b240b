"""``accessctl apply``: make the clouds match main, with the fewest calls.

Before planning, re-verifies that every change since ``--since`` came
through an approved PR (tools/provision/verify.py); a change that did not is
held at its last approved content, reported, and makes the run exit 1.
Refuses a plan over the blast-radius limits unless ``--allow-mass-revoke``;
gathers every per-change failure and exits 1 if any change failed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from tools.core.errors import EXIT_FINDING, EXIT_OK
from tools.core.output import console, emit_json
from tools.core.repo import require_commit
from tools.core.tables import print_table
from tools.provision import record as records
from tools.provision import trust
from tools.provision.apply import build_plan, execute, guard, provider_list
from tools.provision.render import change_json, plan_table, summary_line


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=["aws", "gcp"], help="only this cloud")
    p.add_argument("--since", metavar="COMMIT",
                   help="fast path for the merge job: only targets whose requests changed since COMMIT")
    p.add_argument("--dry-run", action="store_true", help="plan and report, change nothing")
    p.add_argument("--allow-mass-revoke", action="store_true",
                   help="apply even if the plan removes more than the blast-radius limits")
    p.add_argument("--record", metavar="PATH", default=None,
                   help=f"append one JSON line per applied change (default: {records.DEFAULT_PATH} in the repository)")


def _verify(args, ctx):
    """The re-verification hook: judge, keep the held list, report it durably
    before anything is provisioned (so a later refusal cannot hide it)."""
    verification = trust.verify_before_apply(ctx.root, args.since, ctx.now, save=not args.dry_run)
    if verification.held_now and not args.dry_run:
        records.append(Path(args.record) if args.record else ctx.root / records.DEFAULT_PATH,
                       trust.record_lines(verification, ctx.now, records.collect_provenance(ctx.root).run))
    if not args.dry_run:
        trust.publish(verification)
    return verification


def run(args, ctx) -> int:
    if args.since:
        require_commit(ctx.root, args.since, "--since")
    verification = _verify(args, ctx)
    planned = build_plan(ctx.root, ctx.now, provider_list(args.provider), args.since,
                         view=trust.view_of(ctx.root, verification))
    plan = planned.plan
    if not args.allow_mass_revoke:
        guard(planned.org).check(plan)
    results = execute(plan, planned.connectors, dry_run=args.dry_run)
    if results and not args.dry_run:  # the audit trail of what was done, failures included
        records.append(Path(args.record) if args.record else ctx.root / records.DEFAULT_PATH,
                       records.lines(results, records.collect_provenance(ctx.root), ctx.now))
    failed = [r for r in results if not r.ok]
    if ctx.format == "json":
        emit_json({"dry_run": args.dry_run, "verification": verification.as_json(),
                   "results": [dict(change_json(r.change, plan.targets), ok=r.ok, error=r.error, calls=r.calls)
                               for r in results],
                   "summary": dict(plan.summary(), applied=len(results) - len(failed), failed=len(failed),
                                   calls=sum(r.calls for r in results))})
    else:
        out = console()
        for line in trust.text_lines(verification):
            out.print(f"[yellow]![/] {escape(line)}")
        if plan.changes or plan.held:
            print_table(out, plan_table(plan, "Dry run: nothing applied" if args.dry_run else "Applied"))
        for r in failed:
            g = r.change.grant
            out.print(f"[red]✗[/] {g.provider} {g.target} {escape(g.principal)} {g.kind} "
                      f"{escape(g.entitlement)}: {escape(r.error or 'failed')}")
        verdict = f"{len(failed)} of {len(results)} change(s) failed; re-run to retry — apply is idempotent" \
            if failed else summary_line(plan)
        out.print(verdict)
    return EXIT_FINDING if failed or verification.held_now else EXIT_OK

