"""``accessctl apply``: make the clouds match main, with the fewest calls.

Before planning, re-verifies that every change since ``--since`` came
through an approved PR (tools/provision/verify.py); a change that did not is
held at its last approved content, reported, and makes the run exit 1.
Refuses a plan over the blast-radius limits unless ``--allow-mass-revoke``;
gathers every per-change failure and exits 1 if any change failed. Before
its first write it checks that it runs on main's tip (tools.provision.freshness);
``--since-marker`` applies everything since the last commit applied in full
and moves that marker once the run succeeded (tools.provision.marker).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.repo import Tree, git
from tools.core.output import console, emit_json
from tools.core.repo import require_commit
from tools.core.tables import print_table
from tools.provision import access_reviews, freshness, marker
from tools.provision import record as records
from tools.provision import unapproved
from tools.provision import trust
from tools.provision.apply import build_plan, execute, guard, provider_list
from tools.provision.render import change_json, plan_table, summary_line


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=["aws", "gcp"], help="only this cloud")
    p.add_argument("--since", metavar="COMMIT",
                   help="fast path for the merge job: only targets whose requests changed since COMMIT")
    p.add_argument("--since-marker", action="store_true",
                   help=f"the merge job: every target changed since the last commit applied in full "
                        f"({marker.MARKER_REF}), which moves to HEAD when every change succeeded")
    p.add_argument("--dry-run", action="store_true", help="plan and report, change nothing")
    p.add_argument("--allow-mass-revoke", action="store_true",
                   help="apply even if the plan removes more than the blast-radius limits")
    p.add_argument("--all-or-nothing", action="store_true",
                   help="when the blast-radius guard refuses the removals, apply nothing at all "
                        "(default: hold the removals, apply the rest)")
    p.add_argument("--record", metavar="PATH", default=None,
                   help=f"append one JSON line per applied change (default: {records.DEFAULT_PATH} in the repository)")


def _verify(args, ctx, since: str | None, notes: list[str]):
    """The re-verification hook: judge and store the held list in the durable
    record before anything is provisioned (so a later refusal or a crash
    cannot lose it), then report it."""
    verification = trust.verify_before_apply(ctx.root, since, ctx.now, save=False)
    if not args.dry_run:
        # Stored only from main's tip: verdicts from an old checkout must not
        # overwrite (or release) the ones of the tip.
        notes.append(freshness.check(ctx.root).note)  # stops here, before any write, on a stale checkout
        if verification.checked:
            unapproved.save(ctx.root, verification.state)
        trust.publish(verification)
    return verification


def run(args, ctx) -> int:
    if args.since and args.since_marker:
        raise UsageError("--since and --since-marker both say where to start; pass one")
    if args.since:
        require_commit(ctx.root, args.since, "--since")
    notes: list[str] = []
    since = args.since
    head = git(ctx.root, "rev-parse", "HEAD", check=False).strip()
    if args.since_marker:
        since, why = marker.since(ctx.root)
        notes.append(why)
    verification = _verify(args, ctx, since, notes)
    planned = build_plan(ctx.root, ctx.now, provider_list(args.provider), since,
                         view=trust.view_of(ctx.root, verification))
    plan = planned.plan
    if not args.allow_mass_revoke:
        guard(planned.org).enforce(plan, args.all_or_nothing)
    if plan.expiry and (plan.guard_verdict or args.allow_mass_revoke):
        notes.append(f"{len(plan.expiry)} expiry revocation(s) are exempt from the blast-radius guard")
    journal = None
    problems: list[str] = []
    results: list = []
    if not args.dry_run:
        journal = records.Journal(Path(args.record) if args.record else ctx.root / records.DEFAULT_PATH,
                                  records.collect_provenance(ctx.root), ctx.now, "apply")
        try:
            journal.extra(trust.record_lines(verification, ctx.now, journal.prov.run))
            for h in plan.held_files:
                journal.held(h.path, h.why)
            results = execute(plan, planned.connectors, journal=journal)
            # who attested which grants in the access reviews this merge brought
            # (tools.provision.access_reviews); a held review attests nothing
            access_reviews.record_attestations(
                journal, Tree(ctx.root), [p for p in access_reviews.added_reviews(ctx.root, since, head)
                                          if p not in verification.state.files], planned.org)
        finally:  # even when interrupted: what was written reaches the durable record
            problem = records.publish(ctx.root, journal)
            if problem:
                problems.append(problem)
    else:
        results = execute(plan, planned.connectors, dry_run=True)
    failed = [r for r in results if not r.ok]
    findings = _findings(plan)
    clean = not (failed or plan.failed_targets or plan.guard_verdict or plan.held_files)
    if args.since_marker and not args.dry_run and clean and head:
        error = marker.advance(ctx.root, head)
        if error:
            problems.append(error)
        else:
            notes.append(f"applied marker moved to {head[:12]}")
    if ctx.format == "json":
        emit_json({"dry_run": args.dry_run, "verification": verification.as_json(),
                   "results": [dict(change_json(r.change, plan.targets), ok=r.ok, error=r.error, calls=r.calls)
                               for r in results],
                   "held": [dict(change_json(h.change, plan.targets), held=h.why) for h in plan.held],
                   "guard": {"verdict": "refused" if plan.guard_verdict else "ok", "why": plan.guard_verdict},
                   "failed_targets": [{"provider": p, "target": t, "error": e}
                                      for (p, t), e in plan.failed_targets.items()],
                   "held_files": [{"file": h.path, "why": h.why} for h in plan.held_files],
                   "summary": dict(plan.summary(), applied=len(results) - len(failed), failed=len(failed),
                                   calls=sum(r.calls for r in results)),
                   "notes": notes, "errors": problems + findings})
    else:
        out = console()
        for line in trust.text_lines(verification):
            out.print(f"[yellow]![/] {escape(line)}", soft_wrap=False)  # prose: wrap to the terminal
        for note in notes:
            out.print(f"[dim]{escape(note)}[/]", soft_wrap=False)
        if plan.changes or plan.held:
            print_table(out, plan_table(plan, "Dry run: nothing applied" if args.dry_run else "Applied"))
        for r in failed:
            g = r.change.grant
            out.print(f"[red]✗[/] {g.provider} {g.target} {escape(g.principal)} {g.kind} "
                      f"{escape(g.entitlement)}: {escape(r.error or 'failed')}")
        for problem in problems + findings:
            out.print(f"[red]error[/] {escape(problem)}")
        out.print(f"blast-radius guard: {'refused — ' + plan.guard_verdict if plan.guard_verdict else 'ok'}")
        verdict = f"{len(failed)} of {len(results)} change(s) failed; re-run to retry — apply is idempotent" \
            if failed else summary_line(plan)
        out.print(verdict)
    return EXIT_FINDING if failed or problems or findings or verification.held_now else EXIT_OK


def _findings(plan) -> list[str]:
    """What the run must exit 1 for besides failed changes: a refused mass
    revocation, unreadable targets, invalid files whose access is held."""
    out = []
    if plan.guard_verdict:
        out.append(f"blast-radius guard refused the removals: {plan.guard_verdict}; they are held, the other "
                   "changes went ahead (re-run with --allow-mass-revoke if intended, --all-or-nothing to "
                   "refuse the whole plan)")
    out += [f"{p} {t}: cannot be read, not planned: {e}" for (p, t), e in plan.failed_targets.items()]
    out += [h.why for h in plan.held_files]
    return out
