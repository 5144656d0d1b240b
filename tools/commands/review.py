"""``accessctl review open``: the scheduled access review (recertification).

Opens one review PR per owning team with requests due (their tier's
``review_days`` since the last review, or since the request's merge),
adding ``reviews/<yyyy-mm-dd>/<team>.yaml`` with every grant marked
``keep``, and each grant's last use where the cloud reports it (read
from the clouds here, tools/jobs/last_used.py; a dry run reads none). A
team whose review PR is still open gets no second one; once,
``reviews.reminder_days`` before the deadline, that PR gets a comment
mentioning the owners and the requesters. Opened with the pipeline App's
token, so GitHub starts the PR check on it (a PR opened with the workflow
token starts no workflow). Exit 0 when done, 1 when GitHub failed.
"""
from __future__ import annotations

import argparse

from rich.markup import escape

from tools.core import github_context, orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK
from tools.core.expiry import format_expiry
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.jobs import access_review as job
from tools.jobs import last_used as usage
from tools.provision import access_reviews, unapproved
from tools.provision import record as records
from tools.request import load, validate


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="review_command", metavar="SUBCOMMAND", required=True)
    o = sub.add_parser("open", help="open one review PR per owning team with grants due")
    o.add_argument("--dry-run", action="store_true", help="say which reviews are due, open nothing")
    o.add_argument("--format", dest="sub_format", choices=["text", "json"], default=None, help=argparse.SUPPRESS)


def run(args, ctx) -> int:
    tree = Tree(ctx.root)
    org = orgmodel.load(tree)
    files = load.read_all(tree)
    validate.validate(files, org, ctx.now)
    # only files in order: one the org model or time already withdrew is not asked about
    current = [rf for rf in files if all(f.rule == validate.INCOMPLETE_IMPORT for f in rf.findings)]
    # a review held by apply's re-verification counts at its last approved content
    found = access_reviews.review_state(tree, current, org, ctx.now, records.read_all(ctx.root),
                                        unapproved.view(ctx.root).overrides)
    # last use from the clouds, for the grants due only (a dry run reads no cloud)
    due_grants = [g for team in job.due_by_team(found).values() for s in team for g in s.grants]
    last_used, unread = ({}, []) if args.dry_run or not due_grants else usage.read(org, due_grants)
    reviews = job.proposals(found, org, ctx.now, None if args.dry_run else last_used)
    # a review file on main that cannot be read decides nothing: said loudly, exit 1
    broken = [p for r in access_reviews.read_reviews(tree) for p in r.problems]
    report: dict = {"due": [_status_json(s) for r in reviews for s in r.due],
                    "overdue": [_status_json(s) for s in found if s.state == "overdue"],
                    "opened": [], "waiting": [], "reminded": [], "skipped": [],
                    "last_used": [{"request": s.request, "principal": g.principal, "kind": g.kind,
                                   "entitlement": g.entitlement, "last_used": last_used[g.key].text(),
                                   **last_used[g.key].as_json()}
                                  for r in reviews for s in r.due for g in s.grants if g.key in last_used],
                    # last use could not be read here: the review still opens, its entries say "unknown"
                    "warnings": [f"last use not read: {w}" for w in unread],
                    "errors": [f"{p} (this review decides nothing until it is fixed)" for p in broken]}
    gh = None
    if args.dry_run:
        report["skipped"].append("dry run: no PR opened, no reminder sent")
    else:
        try:
            gh = github_context.client()
        except Exception as exc:  # a malformed GITHUB_REPOSITORY is a usage problem, said in one line
            report["errors"].append(str(exc))
        if gh is None and not report["errors"]:
            report["skipped"].append("no GITHUB_TOKEN / GITHUB_REPOSITORY: review PRs and reminders skipped")
    if gh is not None:
        days = access_reviews.settings(org).reminder_days
        for r in reviews:
            try:
                _publish(gh, r, org, ctx, days, report)
            except Exception as exc:  # one team's trouble stays there
                report["errors"].append(f"review of team {r.team}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    fmt = args.sub_format or ctx.format
    if fmt == "json":
        emit_json(report)
    else:
        _print(report)
    return EXIT_FINDING if report["errors"] else EXIT_OK


def _publish(gh, r: job.TeamReview, org, ctx, days: int, report: dict) -> None:
    waiting = gh.open_pulls_from(job.BRANCH_PREFIX.format(team=r.team))
    if waiting:
        number = waiting[0]
        report["waiting"].append({"team": r.team, "pr": number})
    else:
        number = gh.open_pull_request(r.branch, f"Access review: team {r.team} ({len(r.due)} request(s) due)",
                                      job.pr_body(r, org), {r.path: r.text})
        report["opened"].append({"team": r.team, "pr": number, "file": r.path, "branch": r.branch,
                                 "requests": [s.request for s in r.due]})
    if job.reminder_due(list(r.due), ctx.now, days):
        gh.upsert_comment(number, job.REMINDER_KIND, job.reminder_text(r.team, r.requesters, r.deadline, org))
        report["reminded"].append({"team": r.team, "pr": number, "requesters": r.requesters})


def _status_json(s: access_reviews.Status) -> dict:
    return {"request": s.request, "team": s.team, "tier": s.tier, "state": s.state,
            "last_review": format_expiry(s.last_review.time) if s.last_review else None,
            "due": format_expiry(s.due), "deadline": format_expiry(s.deadline)}


def _print(report: dict) -> None:
    out = console()
    out.print(f"{len(report['due'])} request(s) due for review, {len(report['overdue'])} overdue.")
    for o in report["opened"]:
        out.print(f"Opened review PR #{o['pr']} for team {escape(o['team'])}: {escape(o['file'])} "
                  f"({len(o['requests'])} request(s)).")
    for w in report["waiting"]:
        out.print(f"Team {escape(w['team'])}: review PR #{w['pr']} is still open; no second one.")
    for r in report["reminded"]:
        out.print(f"Reminded team {escape(r['team'])} on PR #{r['pr']}.")
    for o in report["overdue"]:
        out.print(f"[yellow]overdue[/] {escape(o['request'])} (team {escape(o['team'])}, deadline {o['deadline']})")
    for why in report["skipped"]:
        out.print(f"[yellow]skipped[/] {escape(why)}")
    for w in report["warnings"]:
        out.print(f"[yellow]warning[/] {escape(w)}")
    for e in report["errors"]:
        out.print(f"[red]error[/] {escape(e)}")
