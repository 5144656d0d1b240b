"""``accessctl teams check|plan|apply``: team membership as code.

``plan`` and ``apply`` converge GitHub teams, IAM Identity Center groups and
Google Groups to ``policies/data/teams.yaml`` (tools/provision/teams_sync.py);
``plan`` never writes. ``check`` below predates them and stays read-only.

``check``: report where GitHub's teams and the org model disagree.

Read-only. Needs a token that can read organisation membership (the App's
token, which has the organisation "Members" read permission, or a person's
token with ``read:org``); the Actions ``GITHUB_TOKEN`` cannot, and GitHub
answers it 404 for every team, which is reported as such rather than as
"every team is missing". Exit 0 when they agree, 1 when they differ.
"""
from __future__ import annotations

import argparse

from rich.markup import escape

from tools.core import orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.provision import freshness, teams_sync
from tools.provision import record as records
from tools.provision.apply import guard
from tools.review import teams


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="teams_command", metavar="SUBCOMMAND", required=True)
    c = sub.add_parser("check", help="report where GitHub's teams and teams.yaml disagree (read-only)")
    c.add_argument("--github-repo", metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)")
    # `--format` is accepted after the subcommand too (`accessctl teams check --format json`)
    c.add_argument("--format", dest="sub_format", choices=["text", "json", "markdown"], default=None,
                   help=argparse.SUPPRESS)
    for name, text in (("plan", "show the team membership changes teams.yaml asks for (never writes)"),
                       ("apply", "make GitHub teams, Identity Center groups and Google Groups match teams.yaml")):
        s = sub.add_parser(name, help=text, description=text)
        s.add_argument("--system", action="append", choices=teams_sync.SYSTEMS,
                       help="only this system (repeatable; default: every system a team names)")
        s.add_argument("--team", action="append", metavar="KEY", help="only this team of teams.yaml (repeatable)")
        s.add_argument("--github-repo", metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)")
        s.add_argument("--format", dest="sub_format", choices=["text", "json"], default=None, help=argparse.SUPPRESS)
        if name == "apply":
            s.add_argument("--allow-mass-revoke", action="store_true",
                           help="apply removals even past the blast-radius limits")


def run(args, ctx) -> int:
    if args.teams_command in ("plan", "apply"):
        return sync(args, ctx)
    from tools.core.github_context import client
    gh = client(args.github_repo)
    if gh is None:
        raise UsageError("teams check needs GITHUB_REPOSITORY (or --github-repo) and a token that can read "
                         "organisation membership in ACCESSCTL_GITHUB_TOKEN (the App's) or GITHUB_TOKEN")
    org = orgmodel.load(Tree(ctx.root))
    fmt = args.sub_format or ctx.format
    found = teams.check(org, gh.team_members)
    if org.teams and len(found) == len(org.teams) and all(d.team_missing for d in found):
        raise UsageError("GitHub shows none of the org model's teams: the token cannot read organisation "
                         "membership (the Actions GITHUB_TOKEN never can); use the accessctl App's token "
                         "(organisation Members: read) or a token with read:org")
    if fmt == "json":
        emit_json({"agree": not found, "teams": [d.as_json() for d in found]})
    else:
        out = console()
        if not found:
            out.print(f"[green]✓[/] GitHub's teams match the org model ({len(org.teams)} teams)")
        for d in found:
            name = escape(f"{d.team} (@{d.github_team})")
            if d.team_missing:
                out.print(f"[red]✗[/] {name}: no such team on GitHub")
                continue
            if d.missing_on_github:
                out.print(f"[red]✗[/] {name}: in teams.yaml, not on GitHub: {escape(', '.join(d.missing_on_github))}")
            if d.extra_on_github:
                out.print(f"[red]✗[/] {name}: on GitHub, not in teams.yaml: {escape(', '.join(d.extra_on_github))}")
    return EXIT_FINDING if found else EXIT_OK


def sync(args, ctx) -> int:
    """``teams plan`` / ``teams apply``: one read per team and system, one write per difference."""
    org = orgmodel.load(Tree(ctx.root))
    unknown = sorted(set(args.team or ()) - set(org.teams))
    if unknown:
        raise UsageError(f"--team {', '.join(unknown)}: not a team of policies/data/teams.yaml "
                         f"(teams: {', '.join(sorted(org.teams))})")
    systems = tuple(args.system or teams_sync.systems_used(org))
    connectors = teams_sync.connectors_for(org, systems, repository=args.github_repo)
    plan = teams_sync.plan(org, connectors, args.team)
    asked = [g for s, g in plan.read if s == "github"]
    if asked and all(("github", g) in plan.missing for g in asked):
        raise UsageError("GitHub shows none of the org model's teams: the token cannot read organisation "
                         "membership (the Actions GITHUB_TOKEN never can, nor change it); use the accessctl "
                         "App's token (organisation Members: read and write) in ACCESSCTL_GITHUB_TOKEN")
    applying = args.teams_command == "apply"
    if applying and not args.allow_mass_revoke:
        limits = guard(org)
        # the grants' limits, counted over memberships: with both counts given, no grant plan is read
        teams_sync.enforce_guard(plan, lambda removes, managed: limits.verdict(None, removes, managed))
    results: list[teams_sync.TeamResult] = []
    if applying and plan.changes:
        freshness.check(ctx.root)  # no writer on a checkout older than main's tip
        results = teams_sync.apply_recorded(ctx.root, org, plan, connectors,
                                            records.Journal(ctx.root / records.DEFAULT_PATH,
                                                            records.collect_provenance(ctx.root), ctx.now, "teams"))
    failed = [r.error for r in results if not r.ok]
    fmt = args.sub_format or ctx.format
    if fmt == "json":
        emit_json({**plan.as_json(), "mode": args.teams_command, "systems": list(systems),
                   "applied": sum(r.ok for r in results), "failed": failed})
    else:
        print_sync(plan, systems, applying, results)
    if plan.problems or failed or (applying and plan.guard_verdict):
        return EXIT_FINDING
    return EXIT_OK


def print_sync(plan: teams_sync.TeamPlan, systems, applying: bool, results) -> None:
    out = console()
    done = {id(r.change): r for r in results}
    verb = "applied" if applying else "to apply"
    out.print(f"teams: {len(plan.changes)} membership change(s) {verb}, {len(plan.held)} reported only "
              f"({', '.join(teams_sync.SYSTEM_LABEL[s] + 's' for s in systems)}; "
              f"{plan.live_count} memberships read)")
    for c in plan.changes:
        r = done.get(id(c))
        mark = "[green]✓[/] " if r and r.ok else ("[red]✗[/] " if r else "")
        out.print(f"  {mark}{escape(c.line())}")
    for h in plan.held:
        out.print(f"  [yellow]![/] {escape(h.change.line())}: {escape(h.reason)}")
    for r in results:
        if not r.ok:
            out.print(f"[red]error[/] {escape(r.error or '')}")
    for p in plan.problems:
        out.print(f"[red]✗[/] {escape(p)}")
    if plan.guard_verdict:
        out.print(f"[red]✗[/] blast-radius guard refused the removals: {escape(plan.guard_verdict)}")
