"""``accessctl teams check``: report where GitHub's teams and the org model disagree.

Read-only. Needs a token that can read organisation membership (the App's
token, which has the organisation "Members" read permission, or a person's
token with ``read:org``); the Actions ``GITHUB_TOKEN`` cannot, and GitHub
answers it 404 for every team, which is reported as such rather than as
"every team is missing". Exit 0 when they agree, 1 when they differ.
The access-review issue adds ``teams plan|apply`` to this group.
"""
from __future__ import annotations

import argparse

from rich.markup import escape

from tools.core import orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.review import teams


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="teams_command", metavar="SUBCOMMAND", required=True)
    c = sub.add_parser("check", help="report where GitHub's teams and teams.yaml disagree (read-only)")
    c.add_argument("--github-repo", metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)")
    # `--format` is accepted after the subcommand too (`accessctl teams check --format json`)
    c.add_argument("--format", dest="sub_format", choices=["text", "json", "markdown"], default=None,
                   help=argparse.SUPPRESS)


def run(args, ctx) -> int:
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
