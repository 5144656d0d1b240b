"""``accessctl evaluate [PATH…] [--pr N | --pr-context FILE] [--base REF]``:
the Rego decision for each request file. Exit 1 when any file is denied.

``accessctl evaluate --rules REF``: the effect of the working tree's rules
(``policies/``, org model included) on existing access, i.e. every request
file of REF judged under REF's rules and under the working tree's, as the PR
comment of a rules change shows it (tools/review/impact.py). Exit 0 whatever
the effect (it is information), 1 when either rule set cannot be evaluated.

With a PR (or ``--base``) the policies and org model come from the base
commit, so the PR cannot change the rules judging it.

A file that ``accessctl validate`` rejects is never ALLOWed: its findings
(wrong folder, duplicate grant, unknown team …) are reported as denials
exactly as ``check-pr`` reports them, checked against the same org model the
policy used. Without a PR there are no reviews: approvals are not checked,
and the text output says so.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from rich.markup import escape

from tools.commands.validate import selected_paths
from tools.core import orgmodel
from tools.core import pr_context as prc
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json
from tools.core.repo import Tree
from tools.policy.evaluate import Evaluation, FileDecision, evaluate_files, resolve_base
from tools.provision.apply import folder_of, load_folders
from tools.request.validate import INCOMPLETE_IMPORT, validate
from tools.review import impact, impact_render


FORMATS = ("text", "json", "markdown")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="request files or folders (default: the PR's request files, else all of requests/)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--pr", type=int, metavar="NUMBER", help="judge this pull request (reads it from GitHub)")
    src.add_argument("--pr-context", metavar="FILE", help="PR context as JSON (number, author, head_sha, base_sha, files, reviews)")
    p.add_argument("--github-repo", metavar="OWNER/NAME", help="GitHub repository for --pr (default: $GITHUB_REPOSITORY)")
    p.add_argument("--base", metavar="REF", help="read policies, org model and existing state from this commit")
    p.add_argument("--rules", metavar="REF",
                   help="the effect of the working tree's rules vs REF's rules on every request file of REF "
                        "(whole state; nothing else may be given with it)")
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


def rules_effect(args, ctx) -> int:
    """``--rules REF``: head (working tree) rules vs REF rules, whole state."""
    if args.paths or args.pr is not None or args.pr_context or args.base or args.explain_input:
        raise UsageError("--rules REF compares two rule sets on every request file of REF: "
                         "it takes no PATH, --pr, --pr-context, --base or --explain-input")
    ref = resolve_base(ctx.root, args.rules)
    effect = impact.analyse(ctx.root, ref, None, ref, ctx.now)
    if ctx.format == "json":
        emit_json(effect.as_json())
    elif ctx.format == "markdown":
        sys.stdout.write(impact_render.markdown(effect, heading="###"))
    else:
        out = console()
        for line in impact_render.text(effect):
            out.print(escape(line), highlight=False)
    return EXIT_FINDING if effect.errors else EXIT_OK


def run(args, ctx) -> int:
    if args.rules is not None:
        return rules_effect(args, ctx)
    pr = None
    if args.pr is not None:
        pr = _github_context(args, ctx)
    elif args.pr_context:
        pr = prc.load(args.pr_context)
    only = selected_paths(ctx, args.paths)
    paths = sorted(only) if only is not None else None
    result = evaluate_files(ctx.root, paths, pr, args.base, ctx.now, keep_input=args.explain_input)
    deny_invalid(result, validation_findings(ctx, result, args.base or (pr.base_sha if pr else None),
                                             whole_state=paths is None and pr is None))
    if args.explain_input:
        docs = [{"input": d.input, "data": result.bundle.data} for d in result.decisions if d.input is not None]
        json.dump(docs[0] if len(docs) == 1 else docs, sys.stdout, indent=2)
        sys.stdout.write("\n")
        # The input is printed even when the engine failed on it: that is when
        # it is needed, to reproduce the failure with `opa eval`.
        for d in result.decisions:
            if d.error:
                sys.stderr.write(f"{d.file}: {d.error}\n")
    elif ctx.format == "json":
        emit_json([d.as_json() for d in result.decisions])
    elif ctx.format == "markdown":
        sys.stdout.write(markdown(result))
    else:
        text(result, pr is not None)
    return EXIT_OK if result.allowed else EXIT_FINDING


def validation_findings(ctx, result: Evaluation, base: str | None, whole_state: bool = False) -> dict[str, list]:
    """What validate says about each decided file, with the org model the
    policy was given; cross-file checks (duplicates, service accounts) see
    every file of the folders involved. ``whole_state``: ``result`` decided
    every request file of the working tree (``result.files``)."""
    org = orgmodel.load(Tree(ctx.root, resolve_base(ctx.root, base)) if base else Tree(ctx.root))
    folders = {f for f in (folder_of(d.file) for d in result.decisions) if f}
    decided = {d.file for d in result.decisions}
    if whole_state and folders:
        # Every file of the working tree was just read for the decisions:
        # what load_folders would read again is exactly those of them in a
        # target's folder, in the same order; they are validated as copies.
        files = [replace(rf, findings=list(rf.findings)) for rf in result.files if folder_of(rf.path) in folders]
        validate(files, org, ctx.now, decided)
    else:
        files = load_folders(Tree(ctx.root), folders, org, ctx.now, decided) if folders else []
    return {rf.path: [f for f in rf.findings if f.rule != INCOMPLETE_IMPORT] for rf in files}


def deny_invalid(result: Evaluation, findings: dict[str, list]) -> None:
    """Turn each file's validation findings into denials (as check-pr does).
    A finding the policy also reports (same rule id) is listed once, as the
    policy's violation."""
    for i, d in enumerate(result.decisions):
        found = findings.get(d.file) or []
        if not found:
            continue
        rules = {v.get("rule") for v in d.violations}
        known = {v.get("message") for v in d.violations}
        extra = [{"rule": "invalid-request", "title": "Invalid request file", "severity": "high",
                  "message": f.message + (f" (line {f.line})" if f.line else ""),
                  "remediation": f.fix or "run `accessctl validate` for details", "file": d.file, "check": f.rule}
                 for f in found if f.rule not in rules]
        extra = [v for v in extra if v["message"] not in known]
        result.decisions[i] = FileDecision(d.file, False, extra + list(d.violations), d.waived,
                                           d.post_incident_review, d.required_approvals, d.input)


def text(result: Evaluation, with_pr: bool = False) -> None:
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
    if not with_pr:
        out.print("[yellow]approvals not checked:[/] no PR context (pass --pr N or --pr-context FILE, "
                  "or run `accessctl check-pr --local`)")


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
