"""``accessctl evaluate [PATH…] [--pr N | --pr-context FILE] [--base REF]``:
the Rego decision for each request file. Exit 1 when any file is denied.

With a PR (or ``--base``) the policies and org model come from the base
commit, so the PR cannot change the rules judging it.
"""
from __future__ import annotations

import argparse
import json
import sys

from rich.markup import escape

from tools.commands.validate import selected_paths
from tools.core import pr_context as prc
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json
from tools.policy.evaluate import Evaluation, evaluate_files


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="request files or folders (default: the PR's request files, else all of requests/)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--pr", type=int, metavar="NUMBER", help="judge this pull request (reads it from GitHub)")
    src.add_argument("--pr-context", metavar="FILE", help="PR context as JSON (number, author, head_sha, base_sha, files, reviews)")
    p.add_argument("--github-repo", metavar="OWNER/NAME", help="GitHub repository for --pr (default: $GITHUB_REPOSITORY)")
    p.add_argument("--base", metavar="REF", help="read policies, org model and existing state from this commit")
    p.add_argument("--explain-input", action="store_true",
                   help='print {"input": …, "data": …} exactly as given to the engine, for `opa eval`')


def _github_context(args, ctx) -> prc.PRContext:
    """The PR from GitHub (lazily: only --pr needs PyGithub), converted to
    the policy's PR-context model. Reviewers' teams come from the org model
    (the policy input fills them), not from GitHub."""
    from tools.core.github_context import client
    gh = client(args.github_repo)
    if gh is None:
        raise UsageError("--pr needs GITHUB_REPOSITORY (or --github-repo) and GITHUB_TOKEN; "
                         "for a local run pass --pr-context FILE instead")
    return prc.from_dict(gh.pr_context(args.pr).as_json(), f"PR #{args.pr}")


def run(args, ctx) -> int:
    pr = None
    if args.pr is not None:
        pr = _github_context(args, ctx)
    elif args.pr_context:
        pr = prc.load(args.pr_context)
    only = selected_paths(ctx, args.paths)
    paths = sorted(only) if only is not None else None
    result = evaluate_files(ctx.root, paths, pr, args.base, ctx.now, keep_input=args.explain_input)
    if args.explain_input:
        docs = [{"input": d.input, "data": result.bundle.data} for d in result.decisions if d.input is not None]
        json.dump(docs[0] if len(docs) == 1 else docs, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif ctx.format == "json":
        emit_json([d.as_json() for d in result.decisions])
    elif ctx.format == "markdown":
        sys.stdout.write(markdown(result))
    else:
        text(result)
    return EXIT_OK if result.allowed else EXIT_FINDING


def text(result: Evaluation) -> None:
    out = console()
    for d in result.decisions:
        out.print(("[green]ALLOW[/] " if d.allow else "[red]DENY[/]  ") + escape(d.file))
        for v in d.violations:
            out.print(f"  [red]✗[/] {escape(v['message'])} [dim]({escape(v['rule'])})[/]")
            out.print(f"    fix: {escape(v['remediation'])}")
        for w in d.waived:
            waiver = w.get("waiver", {})
            out.print(f"  [yellow]~[/] waived: {escape(w['message'])} ({escape(w['rule'])}; "
                      f"owner {escape(str(waiver.get('owner')))}, until {escape(str(waiver.get('expires')))})")
        if d.post_incident_review:
            out.print("  [yellow]![/] break-glass: a post-incident review will be opened")
    denied = sum(not d.allow for d in result.decisions)
    summary = f"{len(result.decisions)} file(s), {denied} denied (policies from {result.rules_from}, engine {result.engine})"
    out.print(f"[red]{summary}[/]" if denied else f"[green]{summary}[/]")


def markdown(result: Evaluation) -> str:
    denied = [d for d in result.decisions if not d.allow]
    lines = [f"**Policy: {'❌ ' + str(len(denied)) + ' of ' if denied else '✅ all '}"
             f"{len(result.decisions)} file(s) {'denied' if denied else 'allowed'}**", ""]
    for d in result.decisions:
        teams = ", ".join(d.required_approvals.get("teams", []))
        need = d.required_approvals.get("approvals", 0)
        extra = " incl. security" if d.required_approvals.get("security") else ""
        lines.append(f"- {'✅ ALLOW' if d.allow else '❌ DENY'} `{d.file}` — approvals: {need} from {teams or '—'}{extra}")
        for v in d.violations:
            lines.append(f"  - **{v['title']}** (`{v['rule']}`): {v['message']}  \n    _Fix:_ {v['remediation']}")
        for w in d.waived:
            lines.append(f"  - waived `{w['rule']}`: {w['message']} (owner {w['waiver']['owner']}, until {w['waiver']['expires']})")
        if d.post_incident_review:
            lines.append("  - ⚠️ break-glass: a post-incident review is required")
    return "\n".join(lines) + "\n"
