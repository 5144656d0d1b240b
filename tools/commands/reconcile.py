"""``accessctl reconcile``: level-triggered repair of drift between main and the clouds.

``report`` (default) exits 1 when anything drifted; ``fix`` repairs through
the same plan, guard and apply path as ``accessctl apply``, then reads the
clouds again to verify. ``--publish FILE…`` reads no cloud: it merges the
``--format json`` outputs of every shard of a run into the one drift issue,
so a matrix of shards never races on (or splits) that issue.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from tools.core.errors import EXIT_FINDING, EXIT_OK, AccessctlError, UsageError
from tools.core.mdsafe import code, md
from tools.core.output import console, emit_json
from tools.core.tables import print_table
from tools.core.progress import job_summary, per_target
from tools.jobs import drift_issue
from tools.jobs.reconcile import Drift, Shard, drift_of, summary
from tools.provision import freshness, unapproved
from tools.provision import record as records
from tools.provision.apply import build_plan, execute, guard, provider_list
from tools.provision.plan import Plan
from tools.provision.render import target_label
from tools.request.load import path_parts


FORMATS = ("text", "json", "markdown")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=["report", "fix"], default="report",
                   help="report drift (exit 1 if any) or fix it (default: report)")
    p.add_argument("--provider", choices=["aws", "gcp"], help="only this cloud")
    p.add_argument("--shard", metavar="I/N", help="only the I-th of N deterministic slices of the targets")
    p.add_argument("--allow-mass-revoke", action="store_true", help="fix even past the blast-radius limits")
    p.add_argument("--all-or-nothing", action="store_true",
                   help="when the blast-radius guard refuses the removals, fix nothing at all")
    p.add_argument("--no-issue", action="store_true", help="do not open/update the GitHub drift issue")
    p.add_argument("--teams", action="store_true",
                   help="also reconcile team membership: GitHub teams, Identity Center groups and Google "
                        "Groups against teams.yaml (reported; with --mode fix, fixed like `teams apply`)")
    p.add_argument("--publish", nargs="+", metavar="FILE",
                   help="merge these shards' --format json outputs into the one drift issue (no cloud reads)")


def run(args, ctx) -> int:
    if args.publish:
        return publish(args.publish, ctx)
    shard = Shard.parse(args.shard)
    providers = provider_list(args.provider)
    # Files held by apply's re-verification count at their last approved
    # content here too, so a fix never restores what apply refused.
    view = unapproved.view(ctx.root)
    fixing = args.mode == "fix"
    with per_target("reading", ctx.format == "text") as progress:
        # A fixing shard reads every target: the blast-radius guard counts
        # removals against the whole organisation, so a mass revocation that
        # apply refuses is refused by every shard, however it is sliced.
        planned = build_plan(ctx.root, ctx.now, providers, progress=progress,
                             where=None if fixing and shard.count > 1 else shard.owns, view=view)
    plan = planned.plan
    if fixing and not args.allow_mass_revoke:
        guard(planned.org).enforce(plan, args.all_or_nothing)
    if shard.count > 1:
        plan = narrow(plan, shard)
    results = []
    remaining = None
    problems: list[str] = []
    # Held invalid files go to the durable record as apply's do, each by the
    # one shard that owns its target (not once per shard).
    holds_here = [h for h in plan.held_files if _owned(h.path, planned.org, shard)]
    # One journal for the run (grant and team writes alike): its line ids are
    # numbered once, so publishing it again after the team fix adds only the new lines.
    journal = records.Journal(ctx.root / records.DEFAULT_PATH, records.job_provenance(ctx.root), ctx.now,
                              "reconcile") if fixing else None
    if journal is not None and (plan.changes or holds_here):
        freshness.check(ctx.root)  # stops here, before any write, on a stale checkout
        try:
            for h in holds_here:
                journal.held(h.path, h.why)
            if plan.changes:
                results = execute(plan, planned.connectors, journal=journal)
        finally:  # even when interrupted: what was written reaches the durable record
            problem = records.publish(ctx.root, journal)
            if problem:
                problems.append(problem)
    if fixing and plan.changes:
        # Verify by reading again: the fix is only done when the clouds say so.
        again = build_plan(ctx.root, ctx.now, providers, where=shard.owns, view=view)
        guarded = {h.change.grant.key for h in plan.held if h.why.startswith("blast-radius guard")}
        remaining = [c for c in again.plan.changes if c.grant.key not in guarded]
    problems += _findings(plan)
    drift = drift_of(plan, results)
    info = summary(drift, len(plan.targets))
    if remaining is not None:
        info["remaining_after_fix"] = len(remaining)
    rows = [d.as_json(plan.targets) for d in drift]
    team_doc = None
    if args.teams:
        try:
            team_doc = team_drift(ctx, journal, args.allow_mass_revoke)
        except AccessctlError as exc:  # the grant drift above must still be reported
            problems.append(f"team drift not read: {exc}")
    markdown = drift_markdown(rows, info, args.mode) + (teams_markdown(team_doc) if team_doc else "")
    job_summary(markdown)
    # What changed is printed before anything is published to GitHub: an
    # outage or an expired token there must not hide the cloud writes.
    if ctx.format == "json":
        emit_json({"drift": rows, "summary": info, "mode": args.mode, "errors": problems,
                   "guard": {"verdict": "refused" if plan.guard_verdict else "ok", "why": plan.guard_verdict},
                   **({"teams": team_doc} if team_doc is not None else {})})
    elif ctx.format == "markdown":
        sys.stdout.write(markdown)
    else:
        _print_text(drift, plan.targets, info)
        if team_doc is not None:
            _print_teams(team_doc)
    team_drifted = bool(team_doc and (team_doc["changes"] or team_doc["held"] or team_doc["problems"]))
    if fixing and team_doc is not None:
        # fixed when the systems, read again, match (members only reported by
        # design, e.g. unknown ones in additive mode, do not keep the job red)
        team_drifted = bool(team_doc["remaining_after_fix"] or team_doc["problems"]
                            or team_doc["guard"]["verdict"] == "refused"
                            or any(c["outcome"].startswith("failed") for c in team_doc["changes"]))
    published = True
    if not args.no_issue:
        published = _publish_issue(bool(drift) or team_drifted, markdown, shard)
    for problem in problems:
        console(stderr=True).print(f"[red]error[/] {escape(problem)}")
    if args.mode == "report":
        return EXIT_FINDING if drift or team_drifted or problems or not published else EXIT_OK
    # team drift is reported in both modes and, with --mode fix, fixed like `teams apply` does
    return EXIT_FINDING if team_drifted or info["failed"] or remaining or problems or not published else EXIT_OK


def _owned(path: str, org, shard: Shard) -> bool:
    """Does this shard own the target of the request file at ``path``? A file
    whose folder names no known target belongs to the first shard."""
    provider, name, _ = path_parts(path)
    target = org.target(provider, name) if provider else None
    return shard.owns(target) if target is not None else shard.index == 1


def narrow(plan: Plan, shard: Shard) -> Plan:
    """The part of a whole-organisation plan that this shard owns."""
    def mine(key) -> bool:
        target = plan.targets.get(key)
        return target is not None and shard.owns(target)

    out = Plan([c for c in plan.changes if mine((c.grant.provider, c.grant.target))],
               [h for h in plan.held if mine((h.change.grant.provider, h.change.grant.target))],
               {k: v for k, v in plan.live_counts.items() if mine(k)},
               {k: t for k, t in plan.targets.items() if shard.owns(t)}, plan.expiry)
    out.failed_targets = {k: e for k, e in plan.failed_targets.items() if k not in plan.targets or mine(k)}
    out.held_files, out.guard_verdict = plan.held_files, plan.guard_verdict
    return out


def _findings(plan: Plan) -> list[str]:
    out = []
    if plan.guard_verdict:
        out.append(f"blast-radius guard (counted over the whole organisation) refused the removals: "
                   f"{plan.guard_verdict}; they are held, the other fixes went ahead")
    out += [f"{p} {t}: cannot be read, not reconciled: {e}" for (p, t), e in plan.failed_targets.items()]
    out += [h.why for h in plan.held_files]
    return out


def _publish_issue(drifted: bool, markdown: str, shard: Shard) -> bool:
    """Open/update/close the drift issue; a GitHub failure is reported on
    stderr (the results are already out) and makes the run exit 1."""
    try:
        drift_issue.publish(drifted, markdown, shard)
        return True
    except Exception as exc:  # any GitHub failure: the cloud results above stand
        console(stderr=True).print(f"[red]error[/] publishing the drift issue to GitHub failed: "
                                   f"{escape(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}")
        return False


def _print_text(drift: list[Drift], targets, info: dict) -> None:
    out = console()
    if drift:
        table = Table(title="Drift", title_justify="left")
        for col in ("kind", "where", "principal", "what", "request", "outcome"):
            table.add_column(col)
        colour = {"missing": "yellow", "extra": "red", "changed": "magenta"}
        for d in drift:
            g = d.change.grant
            table.add_row(f"[{colour[d.kind]}]{d.kind}[/]", target_label(g, targets), escape(g.principal),
                          escape(f"{g.kind} {g.entitlement}"), escape(g.request or "—"), escape(d.outcome))
        print_table(out, table)
    out.print(f"{info['total']} drifted grant(s) in {info['targets']} target(s): "
              f"{info['missing']} missing, {info['extra']} extra, {info['changed']} changed; "
              f"{info['fixed']} fixed, {info['failed']} failed"
              + (f"; {info['remaining_after_fix']} still drifted after the fix" if "remaining_after_fix" in info else ""))


def drift_markdown(rows: list[dict], info: dict, mode: str) -> str:
    """The drift table from ``Drift.as_json`` rows: the same for one shard's
    run and for the merged shards of ``--publish``."""
    if not rows:
        return f"**No drift** in {info['targets']} target(s): the clouds match main.\n"
    lines = [f"**{info['total']} drifted grant(s)** in {info['targets']} target(s) "
             f"({info['missing']} missing, {info['extra']} extra, {info['changed']} changed; mode `{mode}`).", "",
             "| drift | account / project | principal | what | request | outcome |",
             "|---|---|---|---|---|---|"]
    for d in rows:
        where = d.get("account_name") or d.get("account") or d.get("project")
        lines.append(f"| {d['kind']} | {md(where)} | {code(d['principal'])} | {md(d['grant_kind'])} "
                     f"{code(d['target'])} | {code(d['request']) if d.get('request') else '—'} | {md(d['outcome'])} |")
    return "\n".join(lines) + "\n"


def publish(paths: list[str], ctx) -> int:
    """One drift issue for a whole sharded run, from the shards' JSON outputs."""
    rows, info, modes = [], {k: 0 for k in ("missing", "extra", "changed", "total", "targets", "fixed", "failed")}, set()
    teams_docs: list[dict] = []
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            rows += doc["drift"]
            if doc.get("teams") is not None:
                teams_docs.append(doc["teams"])
            modes.add(doc.get("mode", "report"))
            for key in info:
                info[key] += int(doc["summary"].get(key, 0))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not the output of `accessctl reconcile --format json` ({exc})") from None
    markdown = drift_markdown(rows, info, "/".join(sorted(modes))) + "".join(teams_markdown(d) for d in teams_docs)
    job_summary(markdown)
    team_drifted = any(d["changes"] or d["held"] or d["problems"] for d in teams_docs)
    number = drift_issue.publish(bool(rows) or team_drifted, markdown, Shard(1, 1))
    if ctx.format == "json":
        emit_json({"drift": rows, "summary": info, "issue": number})
    else:
        console().print(f"{info['total']} drifted grant(s) from {len(paths)} shard(s); "
                        + (f"drift issue #{number}" if number else "no GitHub context: no issue written"))
    return EXIT_OK


def team_drift(ctx, journal: records.Journal | None = None, allow_mass_revoke: bool = False) -> dict:
    """Team membership drift in every system teams.yaml names: the same plan
    as ``accessctl teams plan``, reported next to grant drift. With a
    ``journal`` (``--mode fix``) it is fixed the way ``teams apply`` fixes
    it: the same connectors, the same blast-radius guard (removals counted
    over every membership read), the freshness check before the first write,
    every write journalled and appended to the durable record; then the
    systems are read again to verify."""
    from tools.core import orgmodel
    from tools.core.repo import Tree
    from tools.provision import teams_sync
    org = orgmodel.load(Tree(ctx.root))
    systems = teams_sync.systems_used(org)
    connectors = teams_sync.connectors_for(org, systems)
    p = teams_sync.plan(org, connectors)
    if journal is None:
        return {**p.as_json(), "systems": list(systems)}
    if not allow_mass_revoke:
        limits = guard(org)
        teams_sync.enforce_guard(p, lambda removes, managed: limits.verdict(None, removes, managed))
    results: list = []
    if p.changes:
        freshness.check(ctx.root)  # no writer on a checkout older than main's tip
        results = teams_sync.apply_recorded(ctx.root, org, p, connectors, journal)
    done = {id(r.change): r for r in results}
    doc = {**p.as_json(), "systems": list(systems)}
    for row, c in zip(doc["changes"], p.changes):
        r = done.get(id(c))
        row["outcome"] = "reported" if r is None else ("fixed" if r.ok else f"failed: {r.error}")
    guarded = {(h.change.system, h.change.group, h.change.member) for h in p.held}
    again = teams_sync.plan(org, connectors) if results else p
    doc["remaining_after_fix"] = len([c for c in again.changes
                                      if (c.system, c.group, c.member) not in guarded])
    return doc


def teams_markdown(doc: dict) -> str:
    from tools.provision.teams_sync import SYSTEM_LABEL
    rows = [(c, c.get("outcome", "to fix with `accessctl teams apply` or `reconcile --mode fix --teams`"))
            for c in doc["changes"]] + [(h, h["held"]) for h in doc["held"]]
    if not rows and not doc["problems"]:
        return (f"\n**No team drift**: {', '.join(SYSTEM_LABEL[s] + 's' for s in doc['systems'])} "
                "match teams.yaml.\n")
    lines = ["", f"**{len(rows)} team membership(s) drifted** from teams.yaml.", "",
             "| drift | system | team | member | why | outcome |", "|---|---|---|---|---|---|"]
    for c, outcome in rows:
        kind = "missing" if c["action"] == "add" else "extra"
        lines.append(f"| {kind} | {md(SYSTEM_LABEL[c['system']])} {code(c['group'])} | {md(c['team'])} | "
                     f"{code(c['member'])} | {md(c['why'])} | {md(outcome)} |")
    lines += [f"- {md(p)}" for p in doc["problems"]]
    return "\n".join(lines) + "\n"


def _print_teams(doc: dict) -> None:
    from tools.provision.teams_sync import SYSTEM_LABEL
    out = console()
    for c in doc["changes"]:
        kind = "missing" if c["action"] == "add" else "extra"
        out.print(f"team drift: {kind} {escape(SYSTEM_LABEL[c['system']])} {escape(c['group'])}: "
                  f"{escape(c['member'])} ({escape(c['why'])})"
                  + (f": {escape(c['outcome'])}" if "outcome" in c else ""))
    for h in doc["held"]:
        out.print(f"team drift: extra {escape(SYSTEM_LABEL[h['system']])} {escape(h['group'])}: "
                  f"{escape(h['member'])} ({escape(h['held'])})")
    for p in doc["problems"]:
        out.print(f"[red]✗[/] {escape(p)}")
    out.print(f"{len(doc['changes']) + len(doc['held'])} team membership(s) drifted from teams.yaml")
