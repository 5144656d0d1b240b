"""``accessctl expire``: the daily job that ends expired access everywhere.

Revokes (through the same apply path as ``accessctl apply``; expiry is
exempt from the blast-radius guard, and the output says so when the guard
would have objected), including grants whose request file has left main
(their expiry is read from the durable record),
cuts live AWS role sessions, deletes long-disabled service accounts, opens
one PR removing the expired request files, and reminds requesters once.
"""
from __future__ import annotations

import argparse

from rich.markup import escape

from tools.core import github_context, orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK, FindingError
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.jobs import expire
from tools.provision import access_reviews
from tools.jobs import expire, rotate
from tools.provision import desired as state
from tools.provision import freshness, unapproved
from tools.provision import record as records
from tools.provision.apply import Connectors, execute, guard, provider_list, read_live, select_targets
from tools.provision.plan import Plan
from tools.provision.render import change_json
from tools.request import load, validate

CLEANUP_BRANCH = "accessctl/expired-{date}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=["aws", "gcp"], help="only this cloud")
    p.add_argument("--dry-run", action="store_true", help="report what would be revoked, change nothing")
    p.add_argument("--allow-mass-revoke", action="store_true",
                   help="accepted for compatibility: expiry revocations are never blocked by the blast-radius guard")
    p.add_argument("--no-github", action="store_true", help="skip the cleanup PR and the reminders")


def run(args, ctx) -> int:
    tree = Tree(ctx.root)
    # What apply verified against: held files count at their last approved
    # content (an unapproved push cannot extend an expiry or keep a grant
    # desired), and while a rules change is held, the org model and rules
    # are those of the last approved rules commit (a push cannot hide a
    # target from expiry). Expiry itself is never held: held files whose
    # approved content has expired are revoked like any other.
    view = unapproved.view(ctx.root)
    org = orgmodel.load(view.rules_tree(ctx.root))
    files = view.overrides.apply(load.read_all(tree))
    validate.validate(files, org, ctx.now)
    history = list(records.read_all(ctx.root))
    access_reviews.mark_tree(tree, files, org, ctx.now, history, view.overrides)  # revoked or overdue in an access review
    desired_grants = state.desired(files, org, ctx.now).grants
    desired_keys = {g.key for g in desired_grants}
    expired = expire.expired_requests(files, org, ctx.now) + expire.review_withdrawn(files, org, ctx.now)
    targets = select_targets(org, provider_list(args.provider))
    connectors = Connectors(org)
    unreadable: dict[tuple[str, str], str] = {}
    live = read_live(targets, connectors, failed=unreadable)  # one target's trouble stays there
    created = records.created_grants(history)
    plan = Plan(expire.revocations(expired, desired_keys, live, targets, created, ctx.now), [],
                _counts(live), targets)
    notes: list[str] = _held_notes(view)
    # Expiry-driven revocations are never blocked by the blast-radius guard:
    # it protects against accidental mass removal, not against time-boxing.
    # Everything this job revokes is expiry, so the guard only informs here.
    try:
        guard(org).check(plan)
    except FindingError as exc:
        notes.append(f"{len(plan.changes)} expiry revocation(s) exempt from the blast-radius guard, which "
                     f"would otherwise say: {exc}")
    # The rotate step: integration keys past rotate_days, keys past their grace.
    rotation = Plan(rotate.rotations(desired_grants, live), [], _counts(live), targets)
    grace = int(org.setting("organization", "service_account_grace_days", default=14))
    doomed = expire.identities_past_grace(live, desired_keys, ctx.now, grace)
    results, deleted = [], []
    errors = [f"{p} {t}: cannot be read, nothing expired there: {e}" for (p, t), e in sorted(unreadable.items())]
    journal = None
    rotated = []
    if not args.dry_run and (plan.changes or doomed or rotation.changes):
        freshness.check(ctx.root)  # stops here, before any write, on a stale checkout
        journal = records.Journal(ctx.root / records.DEFAULT_PATH, records.job_provenance(ctx.root), ctx.now,
                                  "expire")
        try:
            for c in plan.changes:  # cut live sessions first: they survive a failed delete otherwise
                if c.grant.kind == "aws-ci-role":
                    try:
                        connectors("aws").revoke_role_sessions(c.grant.target, c.grant.entitlement, ctx.now)
                        journal.event("revoke-sessions", c.grant, c.reason, True)
                    except Exception as exc:  # gathered, reported, exit 1
                        journal.event("revoke-sessions", c.grant, c.reason, False, str(exc))
                        errors.append(f"revoke sessions of {c.grant.entitlement}: {exc}")
            results = execute(plan, connectors, journal=journal)
            if rotation.changes:
                rotated = execute(rotation, connectors, journal=journal)
            for g in doomed:
                try:
                    connectors("gcp").delete_service_account(g.target, g.entitlement)
                    journal.event("delete-identity", g, "disabled for longer than the grace period", True)
                    deleted.append(g)
                except Exception as exc:
                    journal.event("delete-identity", g, "disabled for longer than the grace period", False, str(exc))
                    errors.append(f"delete {g.entitlement} in {g.target}: {exc}")
        finally:
            problem = records.publish(ctx.root, journal)
            if problem:
                errors.append(problem)
    failed = [r for r in [*results, *rotated] if not r.ok]
    report = {
        "expired_requests": [e.file.path for e in expired],
        "revoked": [dict(change_json(r.change, targets), ok=r.ok, error=r.error) for r in results]
        if not args.dry_run else [change_json(c, targets) for c in plan.changes],
        "rotated": [dict(change_json(r.change, targets), ok=r.ok, error=r.error) for r in rotated]
        if not args.dry_run else [change_json(c, targets) for c in rotation.changes],
        "deleted_identities": [g.principal for g in (deleted if not args.dry_run else doomed)],
        "cleanup_pr": None,
        "reminders": [],
        "due_reminders": [],
        "due": [],
        "skipped": [],
        "notes": notes,
        "errors": errors + [f"{r.change.grant.principal} {r.change.grant.entitlement}: {r.error}" for r in failed],
    }
    # The clouds' changes are printed before anything is published to GitHub:
    # an outage or an expired token there must not hide what was revoked.
    if ctx.format != "json":
        _print(report, args.dry_run)
    days = int(org.setting("organization", "reminder_days", default=7))
    # No renew PR for a held file: its content on main was never approved.
    due = expire.reminders([f for f in files if f.path not in view.overrides.files], org, ctx.now, days,
                           tree.read_text)
    report["due_reminders"] = [r.file.path for r in due]
    report["due"] = [{"request": r.file.path, "requester": r.requester,
                      "expires": r.expires.isoformat().replace("+00:00", "Z")} for r in due]
    github_errors: list[str] = []
    gh, reminded = None, []
    if not (args.no_github or args.dry_run):
        try:
            gh = github_context.client()
            if gh:
                report["cleanup_pr"] = _cleanup_pr(gh, expired, ctx)
                reminded = [r for r in due if _remind(gh, r)]
                report["reminders"] = [{"request": r.file.path, "requester": r.requester, "branch": r.branch}
                                       for r in reminded]
        except Exception as exc:  # any GitHub failure: the revocations above stand, exit 1
            github_errors.append(f"publishing to GitHub failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    report["errors"] += github_errors
    report["skipped"] = _skipped(args, gh, expired, plan, due, reminded)
    if ctx.format == "json":
        emit_json(report)
    else:
        _print_github(report, github_errors)
    return EXIT_FINDING if report["errors"] else EXIT_OK


def _held_notes(view: unapproved.TrustedView) -> list[str]:
    out = []
    if view.overrides.files:
        out.append(f"{len(view.overrides.files)} file(s) held (unapproved change on main) judged at their last "
                   f"approved content: {', '.join(sorted(view.overrides.files))}")
    if view.rules_ref:
        out.append(f"a rules change is held: org model and rules of {view.rules_ref[:12]}, the last approved ones")
    return out


def _skipped(args, gh, expired, plan, due, reminded) -> list[str]:
    """What the run did not do, and why: a quiet job must never look like a done one."""
    out = []
    if args.dry_run:
        out.append("dry run: nothing revoked or deleted, no cleanup PR, no reminders")
    elif args.no_github:
        out.append("--no-github: cleanup PR and reminders skipped")
    elif gh is None:
        out.append("no GITHUB_TOKEN / GITHUB_REPOSITORY: cleanup PR and reminders skipped")
    revoked_from = {c.grant.request for c in plan.changes}
    for e in expired:
        if e.file.path not in revoked_from:
            out.append(f"{e.file.path}: expired, but nothing of it is live to revoke")
    if gh is not None:
        sent = {r.file.path for r in reminded}
        out += [f"{r.file.path}: reminder already sent (renew PR {r.branch} exists)" for r in due
                if r.file.path not in sent]
    return out


def _counts(live):
    from collections import Counter
    return Counter((g.provider, g.target) for g in live)


def _cleanup_pr(gh, expired: list[expire.Expired], ctx) -> int | None:
    if not expired:
        return None
    paths = sorted(e.file.path for e in expired)
    body = ("These access requests have expired, or an access review withdrew them, and their access has been "
            "revoked. Merging removes the files from `main`; git history keeps them for audit.\n\n"
            + "\n".join(f"- `{e.file.path}`" + (f": {e.reason}" if e.reason else "")
                         for e in sorted(expired, key=lambda e: e.file.path))
            + "\n\nTo keep any of this access, open a new request instead; it goes through review again.\n")
    return gh.open_pull_request(CLEANUP_BRANCH.format(date=f"{ctx.now:%Y-%m-%d}"),
                                f"Remove {len(paths)} expired access request(s)", body,
                                {p: None for p in paths})


def _remind(gh, r: expire.Reminder) -> bool:
    """One renew PR per request and expiry, never a second (open or closed)."""
    if gh.has_pull_request(r.branch):
        return False
    body = (f"@{r.requester} the access in `{r.file.path}` ends on {r.expires:%Y-%m-%d %H:%M} UTC.\n\n"
            f"To keep it, merge this PR: it extends `expires` to {r.renew_until:%Y-%m-%d} and goes through "
            "the same policy checks and code-owner review as a new request. To let it end, close this PR.\n")
    gh.open_pull_request(r.branch, f"Renew {r.file.path} (expires {r.expires:%Y-%m-%d})", body,
                         {r.file.path: r.text})
    return True


def _print(report: dict, dry_run: bool) -> None:
    """What the clouds' side did; printed before anything goes to GitHub."""
    out = console()
    expired = report["expired_requests"]
    out.print(f"{len(expired)} expired request file(s): " + ", ".join(escape(p) for p in expired)
              if expired else "Nothing expired.")
    verb = "would revoke" if dry_run else "revoked"
    for note in report["notes"]:
        out.print(f"[yellow]note[/] {escape(note)}")
    for r in report["revoked"]:
        mark = "[red]✗[/]" if r.get("ok") is False else "[green]✓[/]"
        out.print(f"{mark} {verb} {escape(r['principal'])} {escape(r['target'])} — {escape(r['reason'])}")
    for r in report["rotated"]:
        mark = "[red]✗[/]" if r.get("ok") is False else "[green]✓[/]"
        verb_r = "would rotate" if dry_run else "rotated"
        out.print(f"{mark} {verb_r} {escape(r['principal'])} {escape(r['target'])} — {escape(r['reason'])}")
    for p in report["deleted_identities"]:
        out.print(f"[green]✓[/] {'would delete' if dry_run else 'deleted'} service account {escape(p)} "
                  "(disabled for longer than the grace period)")
    for e in report["errors"]:
        out.print(f"[red]error[/] {escape(e)}")


def _print_github(report: dict, errors: list[str]) -> None:
    """GitHub's side, then what is due and what was skipped and why."""
    out = console()
    if report["cleanup_pr"]:
        out.print(f"Opened PR #{report['cleanup_pr']} removing {len(report['expired_requests'])} expired file(s).")
    due = report["due"]
    out.print(f"{len(due)} reminder(s) due" + (":" if due else ""))
    for d in due:
        out.print(f"  {escape(d['request'])}: @{escape(d['requester'])}, access ends {escape(d['expires'])}")
    for r in report["reminders"]:
        out.print(f"Reminded @{escape(r['requester'])} with a renew PR for {escape(r['request'])}.")
    for why in report["skipped"]:
        out.print(f"[yellow]skipped[/] {escape(why)}")
    for e in errors:
        out.print(f"[red]error[/] {escape(e)}")
