"""``accessctl audit``: who has what, since when, approved by whom.

``who-has TARGET [--role R] [--live]``, ``history PRINCIPAL``,
``report [--format html|csv|json]`` and ``summary`` (the merged PR's
comment from the apply record). Each reads git history once and the apply
record once; ``--live`` reads the target's cloud once, through apply's plan.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from tools.audit import reviews as audit_reviews
from tools.audit import history as audit_history
from tools.audit import revocations
from tools.audit import nhi
from tools.audit import who_has as audit
from tools.audit.report import LiveFinding, Report, last_review
from tools.core import orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json
from tools.core.tables import print_table
from tools.core.repo import Tree, git
from tools.jobs import last_used as usage
from tools.provision import durable, unapproved
from tools.provision import record as records

LISTING = ["text", "json", "markdown"]
SUBCOMMAND_FORMATS = {"who-has": LISTING, "history": LISTING, "report": ["text", "json", "csv", "html"],
                      "summary": ["text", "markdown", "json"], "push-record": ["text", "json"]}
# `accessctl audit --format X SUB` is checked against SUB's own list in run().
FORMATS = ["text", "json", "markdown", "csv", "html"]


def _sub(sub, name: str, help_text: str, formats: list[str]) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    # Accepted after the subcommand too; the defaults stay those of `accessctl audit`.
    p.add_argument("--repo", metavar="PATH", default=argparse.SUPPRESS, help="access repository")
    p.add_argument("--format", choices=formats, default=argparse.SUPPRESS, help="output format")
    p.add_argument("--record", metavar="PATH", default=None,
                   help=f"apply record to read (default: {records.DEFAULT_PATH} in the repository)")
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    w = _sub(sub, "who-has", "who holds what in an account or project, and how it got there", LISTING)
    w.add_argument("target", help="account name or id, project id, or aws/<name> / gcp/<id>")
    w.add_argument("--role", metavar="ENTITLEMENT", help="only this group / permission set / policy / role")
    w.add_argument("--live", action="store_true",
                   help="cross-check the cloud; exit 1 if it holds access the repository cannot explain")
    h = _sub(sub, "history", "timeline of one person's or service account's access", LISTING)
    h.add_argument("principal", help="user:<email>, an email, a GitHub login, group:<team> or serviceAccount:…")
    r = _sub(sub, "report", "access matrix for auditors", SUBCOMMAND_FORMATS["report"])
    r.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    r.add_argument("--live", action="store_true",
                   help="read the clouds: add the live access the repository cannot explain, with its drift kind")
    _sub(sub, "push-record", "push this checkout's local journal to the durable record (the workflows' "
         "if: always() step after a killed or failed writer); idempotent", ["text", "json"])
    s = _sub(sub, "summary", "Markdown summary of the last apply run (the merged PR's comment)",
             SUBCOMMAND_FORMATS["summary"])
    s.add_argument("--comment", action="store_true", help="post it on the run's PR (needs GitHub context)")
    s.add_argument("--pr", type=int, metavar="N", help="PR to comment on (default: the one in the record)")


def run(args, ctx) -> int:
    record = Path(args.record) if args.record else None
    fmt = args.format
    if fmt not in SUBCOMMAND_FORMATS[args.audit_command]:
        raise UsageError(f"audit {args.audit_command} has no --format {fmt}; use one of: "
                         + ", ".join(SUBCOMMAND_FORMATS[args.audit_command]))
    if args.audit_command == "who-has":
        return _who_has(args, ctx, fmt, record)
    if args.audit_command == "history":
        return _history(args, ctx, fmt, record)
    if args.audit_command == "report":
        return _report(args, ctx, fmt, record)
    if args.audit_command == "push-record":
        return _push_record(ctx, fmt, record)
    return _summary(args, ctx, fmt, record)


# ---- who-has -------------------------------------------------------------
def _who_has(args, ctx, fmt: str, record: Path | None) -> int:
    org = orgmodel.load(Tree(ctx.root))
    target = audit.resolve_target(org, args.target)
    evidence = audit.Evidence.load(ctx.root, record)
    found = audit.rows(ctx.root, org, ctx.now, evidence, audit.role_filter(target, None))
    if args.role is not None:
        known = roles_at(org, target, found)
        if args.role not in known:
            raise UsageError(f"--role {args.role!r} is not a role in {target.provider}/{target.name}; "
                             "roles there: " + (", ".join(known) or "none"))
        found = [r for r in found if r.grant.entitlement == args.role]
    unexplained = audit.cross_check(ctx.root, ctx.now, target, found, args.role) if args.live else []
    drifted = [r for r in found if r.live not in ("live", "not checked")]
    label = f"{target.provider}/{target.name}" + (f" ({target.id})" if target.id != target.name else "")
    if fmt == "json":
        doc = {"target": {"provider": target.provider, "id": target.id, "name": target.name,
                          "owner": target.owner, "environment": target.environment},
               "role": args.role, "live_checked": args.live, "grants": [r.as_json() for r in found]}
        if args.live:
            doc["unexplained"] = [u.as_json() for u in unexplained]
        emit_json(doc)
    elif fmt == "markdown":
        sys.stdout.write(_who_has_markdown(label, found, unexplained, args.live))
    else:
        out = _out()
        table = Table(title=f"Who has access in {label}" + (f", {args.role}" if args.role else ""))
        for col in ("principal", "entitlement", "tier", "expires", "request", "PR", "merged", "approvers",
                    *(["cloud"] if args.live else [])):
            table.add_column(col)
        for r in found:
            p = r.prov
            table.add_row(escape(r.grant.principal), escape(r.grant.entitlement), r.tier,
                          _day(r.grant.expires), escape(r.grant.request or "—"),
                          f"#{p.pr}" if p and p.pr else "—", _day(p.merged_at) if p else "—",
                          escape(_approvers(r)), *([escape(r.live)] if args.live else []))
        if found:
            print_table(out, table)
        else:
            out.print(f"Nobody holds access in {label} through the pipeline.")
        for u in unexplained:
            g = u.grant
            out.print(f"[red]unexplained[/] {escape(g.principal)} {g.kind} {escape(g.entitlement)}: {escape(u.why)}")
        if args.live:
            out.print(f"{len(unexplained)} live grant(s) the repository cannot explain; "
                      f"{len(drifted)} requested grant(s) not as requested in the cloud")
    return EXIT_FINDING if unexplained or drifted else EXIT_OK


def roles_at(org, target, found) -> list[str]:
    """What --role can name in a target: what it manages, plus what is held there."""
    managed = {e for entitlements in target.managed.values() for e in entitlements}
    return sorted(managed | {r.grant.entitlement for r in found})


def _out():
    """The console; ``print_table`` keeps an auditor's evidence whole (never
    cut with ellipses) in a terminal, a file or a CI log."""
    return console()


def _approvers(r: audit.Row) -> str:
    if r.prov is None or r.prov.approvers is None:
        return "unknown"
    return ", ".join(r.prov.approvers) or "none recorded"


def _who_has_markdown(label: str, found, unexplained, live: bool) -> str:
    lines = [f"### Who has access in {label}", "",
             "| principal | entitlement | tier | expires | request | PR | merged | approvers |"
             + (" cloud |" if live else ""), "| --- " * (8 + live) + "|"]
    for r in found:
        p = r.prov
        lines.append(f"| {r.grant.principal} | {r.grant.entitlement} | {r.tier} | {_day(r.grant.expires)} | "
                     f"{r.grant.request} | {'#' + str(p.pr) if p and p.pr else '—'} | "
                     f"{_day(p.merged_at) if p else '—'} | {_approvers(r)} |" + (f" {r.live} |" if live else ""))
    for u in unexplained:
        lines.append(f"\n**Unexplained:** {u.grant.principal} {u.grant.kind} {u.grant.entitlement}: {u.why}")
    return "\n".join(lines) + "\n"


def _day(value) -> str:
    return value.strftime("%Y-%m-%d") if value else "—"


# ---- history ---------------------------------------------------------------
def _history(args, ctx, fmt: str, record: Path | None) -> int:
    org = orgmodel.load(Tree(ctx.root))
    principal = audit_history.resolve_principal(org, args.principal)
    events = audit_history.history(ctx.root, org, principal, ctx.now, record)
    # an agent or integration: owner, vendor, key age, last rotation, expiry
    identity = [n for n in nhi.non_human([(r.grant, r.target.name) for r in audit.rows(
        ctx.root, org, ctx.now, audit.Evidence.load(ctx.root, record), lambda g: g.principal == principal)],
        records.read_all(ctx.root, record), ctx.now)]
    if fmt == "json":
        emit_json({"principal": principal, "events": [e.as_json() for e in events],
                   **({"identity": identity[0].as_json()} if identity else {})})
        return EXIT_OK
    if fmt == "markdown":
        rows = [f"### Access history of {principal}", "", "| time | event | request | detail | PR |",
                "| --- | --- | --- | --- | --- |"]
        rows += [f"| {e.time:%Y-%m-%d %H:%M} | {e.kind} | {e.request or '—'} | {e.detail.replace('|', '/')} | "
                 f"{'#' + str(e.pr) if e.pr else '—'} |" for e in events]
        sys.stdout.write("\n".join(rows) + "\n")
        return EXIT_OK
    out = _out()
    for n in identity:
        j = n.as_json()
        out.print(f"{escape(principal)}: {n.use}, owner {escape(n.owner)}"
                  + (f", vendor {escape(n.vendor)}" if n.vendor else "")
                  + (f", key {n.key_age_days} days old (last rotation {_day(n.last_rotation)})"
                     if n.last_rotation else f", key: {j['key']}")
                  + f", expires {_day(n.expires)}; OWASP NHI: {', '.join(j['owasp_nhi_2025'])}")
    if not events:
        out.print(f"No request on main, past or present, names {escape(principal)}.")
        return EXIT_OK
    table = Table(title=f"Access history of {escape(principal)}")
    for col in ("time (UTC)", "event", "request", "detail", "PR", "by"):
        table.add_column(col)
    for e in events:
        table.add_row(f"{e.time:%Y-%m-%d %H:%M}", e.kind, escape(e.request or "—"), escape(e.detail),
                      f"#{e.pr}" if e.pr else "—", escape(e.author or "—"))
    print_table(out, table)
    return EXIT_OK


# ---- push-record -------------------------------------------------------------
def _push_record(ctx, fmt: str, record: Path | None) -> int:
    path = record or ctx.root / records.DEFAULT_PATH
    pushed = durable.push_journal(ctx.root, path)
    if fmt == "json":
        emit_json({"record": str(path), "lines": pushed.total, "pushed": pushed.fresh, "error": pushed.error})
    else:
        console().print(f"{escape(str(path))}: {pushed.total} line(s), {pushed.fresh} new to the durable record"
                        if pushed.total else f"{escape(str(path))}: no local journal, nothing to push")
        if pushed.error:
            console(stderr=True).print(f"[red]error[/] {escape(pushed.error)}")
    return EXIT_FINDING if pushed.error else EXIT_OK


# ---- report ----------------------------------------------------------------
def _report(args, ctx, fmt: str, record: Path | None) -> int:
    org = orgmodel.load(Tree(ctx.root))
    evidence = audit.Evidence.load(ctx.root, record)
    found = audit.rows(ctx.root, org, ctx.now, evidence)
    targets = sorted(org.targets.values(), key=lambda t: (t.provider, t.name))
    commit = git(ctx.root, "rev-parse", "HEAD", check=False).strip() or "uncommitted"
    all_records = list(records.read_all(ctx.root, record))  # read once, used twice
    last_used = None
    if args.live:  # last use is read from the clouds with the rest of the live view, never without --live
        last_used, unread = usage.read(org, [r.grant for r in found])
        for why in unread:
            print(f"warning: last use not read: {why}", file=sys.stderr)
    report = Report(sorted(found, key=lambda r: (r.grant.provider, r.target.name, r.grant.principal,
                                                 r.grant.kind, r.grant.entitlement)),
                    targets, org, ctx.now, commit, _live_findings(ctx, targets, found) if args.live else None,
                    revocations.log(all_records), reviews=audit_reviews.coverage(ctx.root, org, ctx.now, all_records,
                                                   unapproved.view(ctx.root).overrides),
                    non_human=nhi.non_human([(r.grant, r.target.name) for r in found], all_records, ctx.now),
                    last_used=last_used)
    if fmt == "html":
        text = report.as_html()
    elif fmt == "csv":
        text = report.as_csv()
    elif fmt == "json":
        import json
        text = json.dumps(report.as_json(), indent=2) + "\n"
    else:
        if args.output:
            raise UsageError("--output needs --format html, csv or json")
        table = Table(title=f"Access matrix at {ctx.now:%Y-%m-%d}")
        for col in ("target", "principal", "entitlement", "tier", "expires", "owner", "last review",
                    *(["last used"] if args.live else [])):
            table.add_column(col)
        for r in report.rows:
            table.add_row(f"{r.grant.provider}/{r.target.name}", escape(r.grant.principal),
                          escape(r.grant.entitlement), r.tier, _day(r.grant.expires), escape(r.owner),
                          escape(last_review(r, report.reviews)), *([escape(report.used_text(r))] if args.live else []))
        print_table(_out(), table)
        _out().print(escape(report.reviews.text()))
        if report.non_human:
            nt = Table(title="Agents and third-party integrations")
            for col in ("identity", "use", "owner", "vendor", "key age", "last rotation", "expires"):
                nt.add_column(col)
            for n in report.non_human:
                age = "no key" if n.use == "agent" else (f"{n.key_age_days} days" if n.key_age_days is not None
                                                         else "not issued")
                nt.add_row(escape(n.principal), n.use, escape(n.owner), escape(n.vendor or "—"), age,
                           _day(n.last_rotation) if n.last_rotation else "—", _day(n.expires))
            print_table(_out(), nt)
        return EXIT_OK
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
        print(f"wrote {args.output} ({len(report.rows)} grants, {len(report.principals)} principals)",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _live_findings(ctx, targets, found) -> list[LiveFinding]:
    """Each target read once, through the same plan as apply (audit.cross_check)."""
    out: list[LiveFinding] = []
    for t in targets:
        here = [r for r in found if (r.grant.provider, r.grant.target) == (t.provider, t.id)]
        for u in audit.cross_check(ctx.root, ctx.now, t, here, None):
            out.append(LiveFinding("extra", u.grant, t, u.why, u.cloud_says))
        for r in here:
            if r.live.startswith("differs"):
                out.append(LiveFinding("changed", r.grant, t, r.live, r.grant.request))
            elif r.live == "missing in cloud":
                out.append(LiveFinding("missing", r.grant, t, "requested on main, not live", r.grant.request))
    return out


# ---- summary ---------------------------------------------------------------
def _summary(args, ctx, fmt: str, record: Path | None) -> int:
    path = record or ctx.root / records.DEFAULT_PATH
    if not path.is_file():
        raise UsageError(f"no apply record at {path}; run `accessctl apply` or pass --record PATH "
                         "(the apply workflow publishes it as an artifact)")
    last = records.latest_run(records.read(path))
    markdown = records.summary_markdown(last)
    if args.comment:
        number = args.pr or (last[0].pr if last else None)
        if number is None:
            raise UsageError("no PR to comment on: the record names none; pass --pr N")
        from tools.core.github_context import client
        gh = client()
        if gh is None:
            raise UsageError("--comment needs GITHUB_REPOSITORY and GITHUB_TOKEN (the Actions environment)")
        gh.upsert_comment(number, "apply", markdown)
    if fmt == "json":
        emit_json({"record": str(path), "changes": [r.as_json() for r in last],
                   "failed": sum(1 for r in last if not r.ok)})
    else:
        sys.stdout.write(markdown)
    return EXIT_FINDING if any(not r.ok for r in last) else EXIT_OK
