"""``accessctl expire``: the daily job that ends expired access everywhere.

Revokes (through the same guard and apply path as ``accessctl apply``),
cuts live AWS role sessions, deletes long-disabled service accounts, opens
one PR removing the expired request files, and reminds requesters once.
"""
from __future__ import annotations

import argparse

from rich.markup import escape

from tools.core import github_context, orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.jobs import expire
from tools.provision import desired as state
from tools.provision import freshness
from tools.provision.apply import Connectors, execute, guard, provider_list, read_live, select_targets
from tools.provision.plan import Plan
from tools.provision.render import change_json
from tools.request import load, validate

CLEANUP_BRANCH = "accessctl/expired-{date}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=["aws", "gcp"], help="only this cloud")
    p.add_argument("--dry-run", action="store_true", help="report what would be revoked, change nothing")
    p.add_argument("--allow-mass-revoke", action="store_true", help="revoke even past the blast-radius limits")
    p.add_argument("--no-github", action="store_true", help="skip the cleanup PR and the reminders")


def run(args, ctx) -> int:
    tree = Tree(ctx.root)
    org = orgmodel.load(tree)
    files = load.read_all(tree)
    validate.validate(files, org, ctx.now)
    desired_keys = {g.key for g in state.desired(files, org, ctx.now).grants}
    expired = expire.expired_requests(files, org, ctx.now)
    targets = select_targets(org, provider_list(args.provider))
    connectors = Connectors(org)
    live = read_live(targets, connectors)
    plan = Plan(expire.revocations(expired, desired_keys, live, targets), [],
                _counts(live), targets)
    if not args.allow_mass_revoke:
        guard(org).check(plan)
    grace = int(org.setting("organization", "service_account_grace_days", default=14))
    doomed = expire.identities_past_grace(live, desired_keys, ctx.now, grace)
    results, deleted, errors = [], [], []
    if not args.dry_run and (plan.changes or doomed):
        freshness.check(ctx.root)  # stops here, before any write, on a stale checkout
        for c in plan.changes:  # cut live sessions first: they survive a failed delete otherwise
            if c.grant.kind == "aws-ci-role":
                try:
                    connectors("aws").revoke_role_sessions(c.grant.target, c.grant.entitlement, ctx.now)
                except Exception as exc:  # gathered, reported, exit 1
                    errors.append(f"revoke sessions of {c.grant.entitlement}: {exc}")
        results = execute(plan, connectors)
        for g in doomed:
            try:
                connectors("gcp").delete_service_account(g.target, g.entitlement)
                deleted.append(g)
            except Exception as exc:
                errors.append(f"delete {g.entitlement} in {g.target}: {exc}")
    gh = None if args.no_github or args.dry_run else github_context.client()
    cleanup = _cleanup_pr(gh, expired, ctx) if gh else None
    days = int(org.setting("organization", "reminder_days", default=7))
    due = expire.reminders(files, org, ctx.now, days, tree.read_text)
    reminded = [r for r in due if _remind(gh, r)] if gh else []
    failed = [r for r in results if not r.ok]
    report = {
        "expired_requests": [e.file.path for e in expired],
        "revoked": [dict(change_json(r.change, targets), ok=r.ok, error=r.error) for r in results]
        if not args.dry_run else [change_json(c, targets) for c in plan.changes],
        "deleted_identities": [g.principal for g in (deleted if not args.dry_run else doomed)],
        "cleanup_pr": cleanup,
        "reminders": [{"request": r.file.path, "requester": r.requester, "branch": r.branch} for r in reminded],
        "due_reminders": [r.file.path for r in due],
        "errors": errors + [f"{r.change.grant.principal} {r.change.grant.entitlement}: {r.error}" for r in failed],
    }
    if ctx.format == "json":
        emit_json(report)
    else:
        _print(report, args.dry_run)
    return EXIT_FINDING if report["errors"] else EXIT_OK


def _counts(live):
    from collections import Counter
    return Counter((g.provider, g.target) for g in live)


def _cleanup_pr(gh, expired: list[expire.Expired], ctx) -> int | None:
    if not expired:
        return None
    paths = sorted(e.file.path for e in expired)
    body = ("These access requests have expired and their access has been revoked. Merging removes the "
            "files from `main`; git history keeps them for audit.\n\n"
            + "\n".join(f"- `{p}`" for p in paths)
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
    out = console()
    verb = "would revoke" if dry_run else "revoked"
    for r in report["revoked"]:
        mark = "[red]✗[/]" if r.get("ok") is False else "[green]✓[/]"
        out.print(f"{mark} {verb} {escape(r['principal'])} {escape(r['target'])} — {escape(r['reason'])}")
    for p in report["deleted_identities"]:
        out.print(f"[green]✓[/] deleted service account {escape(p)} (disabled for longer than the grace period)")
    if report["cleanup_pr"]:
        out.print(f"Opened PR #{report['cleanup_pr']} removing {len(report['expired_requests'])} expired file(s).")
    for r in report["reminders"]:
        out.print(f"Reminded @{r['requester']} with a renew PR for {r['request']}.")
    for e in report["errors"]:
        out.print(f"[red]error[/] {escape(e)}")
    if not (report["revoked"] or report["deleted_identities"] or report["expired_requests"]):
        out.print("Nothing has expired.")
