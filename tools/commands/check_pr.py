"""``accessctl check-pr``: the one command the PR workflows run.

Collects the PR (from ``GITHUB_EVENT_PATH`` and the GitHub API, or
``--pr N`` / ``--pr-context FILE`` for local runs, or ``--local``: from git,
see ``tools/review/local.py``), validates and evaluates
its changed request files with the policies and org model of the *base*
commit, plans the cloud changes, then writes the one PR comment, the
``accessctl/check-pr`` commit status, the job summary and ``::error``
annotations. Exit 0 when every changed request is allowed (approvals
included) or none changed; 1 otherwise; 2 for usage or environment errors.
The same command runs on ``pull_request_review`` events, so an approval
turns the check green without a new push.

The plan: with read-only cloud credentials (``AWS_ENDPOINT_URL`` /
``ACCESSCTL_GCP_ENDPOINT`` or ambient credentials, detected from the
environment without calling a cloud), the live plan for the PR's targets;
without them, the change in desired state the PR makes (base vs head,
both judged with the base org model) and a note saying the live plan is
unavailable.

``--format json`` prints one object; its keys are stable (accessctl demo
and other tools read them)::

    {"verdict": "allowed" | "needs-approval" | "denied" | "no-requests",
     "allow": bool,                      # exit code 0 exactly when true
     "headline": str, "next_step": str,  # the comment's first two lines
     "pr": {"number", "author", "head_sha", "base_sha"},
     "rules_from": "commit <sha>", "engine": str,
     "files": [{"file", "allow", "status", "violations": [{"rule", "title",
                "severity", "message", "remediation", "file", "line"}],
                "validation": [{"file", "line", "rule", "message", "fix"}],
                "waived", "post_incident_review", "required_approvals"}],
     "removed": [request paths the PR deletes],
     "plan": {"source": "live" | "desired" | "mixed" | "none", "note": str | null,
              "changes": […], "held": […], "summary": {…}},   # render_plan.plan_json
     "approvals": {"head_sha", "files": [{"file", "required", "approved_by": [login],
                   "ignored": [{"user", "why"}], "missing": [{"count", "from": ["org/team"]}]}]},
     "annotations": [{"file", "line", "message"}],
     "github": {"comment_id": int | null, "status": str | null, "break_glass_issue": int | null},
     "comment": "<the PR comment's Markdown>"}

In text and markdown formats inside GitHub Actions (``GITHUB_ACTIONS=true``)
the annotations go to stdout as ``::error file=…,line=…::…`` lines; elsewhere,
and in json format, they are only in the object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from tools.core import orgmodel
from tools.core import pr_context as prc
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json
from tools.core.progress import job_summary
from tools.core.repo import Tree, git
from tools.policy.evaluate import evaluate_files, resolve_base
from tools.provision import desired as state
from tools.provision.apply import Connectors, folder_of, load_folders, read_live
from tools.provision.plan import Plan, make_plan
from tools.provision.render import plan_json
from tools.request import load, validate
from tools.review import check_pr as cp
from tools.review import comment

NO_CREDENTIALS = "plan unavailable: no read-only cloud credentials configured"
CREDENTIAL_ENV = {
    "aws": ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_PROFILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
    "gcp": ("ACCESSCTL_GCP_ENDPOINT", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_AUTH_ACCESS_TOKEN"),
}
CREDENTIAL_FILES = {"aws": (".aws/credentials",), "gcp": (".config/gcloud/application_default_credentials.json",)}


FORMATS = ("text", "json", "markdown")


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--pr", type=int, metavar="NUMBER", help="the pull request (default: from $GITHUB_EVENT_PATH)")
    src.add_argument("--pr-context", metavar="FILE",
                     help="PR context as JSON instead of GitHub (local runs; nothing is posted)")
    p.add_argument("--github-repo", metavar="OWNER/NAME", help="GitHub repository (default: $GITHUB_REPOSITORY)")
    p.add_argument("--base", metavar="REF",
                   help="base commit for policies and org model (default: $ACCESSCTL_BASE_SHA, then the event's)")
    p.add_argument("--no-post", action="store_true", help="print only: no comment, status or issue on GitHub")
    local = p.add_argument_group("preview a PR locally (before pushing)")
    local.add_argument("--local", action="store_true",
                       help="the PR from git: changes between --base (default main) and HEAD; nothing is posted")
    local.add_argument("--author", metavar="LOGIN", help="PR author (default: from git config user.email)")
    local.add_argument("--approved-by", metavar="LOGIN[,LOGIN]", action="append", default=[],
                       help="reviewers approving the head commit; their teams come from the org model")
    local.add_argument("--output", "-o", metavar="FILE", help="write the comment (Markdown) to FILE")


# ---- collecting the PR ------------------------------------------------------
def _event() -> dict[str, Any]:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"GITHUB_EVENT_PATH {path}: cannot read the event ({exc})") from None
    pr = data.get("pull_request") if isinstance(data, dict) else None
    if not isinstance(pr, dict) or not isinstance(pr.get("number"), int):
        raise UsageError(f"GITHUB_EVENT_PATH {path}: not a pull_request or pull_request_review event "
                         "(no pull_request.number); run check-pr only on PR events or pass --pr N")
    return {"number": pr["number"], "base": (pr.get("base") or {}).get("sha"),
            "head": (pr.get("head") or {}).get("sha")}


def _pull_request(args, ctx, event: dict[str, Any]):
    """(PR context, GitHub connector or None, base ref)."""
    base = args.base or os.environ.get("ACCESSCTL_BASE_SHA") or event.get("base")
    if args.pr_context:
        pr = prc.load(args.pr_context)
        return pr, None, base or pr.base_sha
    number = args.pr if args.pr is not None else event.get("number")
    if number is None:
        raise UsageError("check-pr needs a pull request: run it on a pull_request event (GITHUB_EVENT_PATH), "
                         "or pass --pr N (with GITHUB_TOKEN) or --pr-context FILE")
    from tools.core.github_context import client
    gh = client(args.github_repo)
    if gh is None:
        raise UsageError("check-pr needs GITHUB_REPOSITORY (or --github-repo) and GITHUB_TOKEN to read "
                         f"PR #{number}; for a local run pass --pr-context FILE")
    if base is None:  # a local run: the PR itself names its base
        base = gh.pr_context(number, []).base_sha
    org = orgmodel.load(Tree(ctx.root, resolve_base(ctx.root, base)))
    teams = sorted(t.github_team for t in org.teams.values())
    return prc.from_dict(gh.pr_context(number, teams).as_json(), f"PR #{number}"), gh, base


# ---- request files on both sides -------------------------------------------
# ---- the plan ----------------------------------------------------------------
def has_credentials(provider: str, env: dict[str, str] | None = None) -> bool:
    """Cheap: an endpoint or ambient credentials named in the environment or
    the usual files; never a network call."""
    env = os.environ if env is None else env
    if any(env.get(name) for name in CREDENTIAL_ENV[provider]):
        return True
    home = Path(env.get("HOME") or Path.home())
    return any((home / f).is_file() for f in CREDENTIAL_FILES[provider])


def _plan(org, targets: dict, head: list, base: list, now) -> cp.PlanSection:
    protected = org.setting("organization", "protected_principals", default=[]) or []
    want = state.desired(head, org, now).grants
    if not targets:
        return cp.PlanSection("none", Plan([], targets={}))
    invalid = {rf.path for rf in head if any(f.rule != validate.INCOMPLETE_IMPORT for f in rf.findings)}
    intent = cp.relabel_intent(make_plan(want, state.desired(base, org, now).grants, targets, protected), invalid)
    providers = sorted({p for p, _ in targets})
    live_providers = [p for p in providers if has_credentials(p)]
    notes = []
    live_plan = None
    if live_providers:
        live_targets = {k: t for k, t in targets.items() if k[0] in live_providers}
        try:
            live = read_live(live_targets, Connectors(org))
            live_plan = make_plan(want, live, live_targets, protected)
        except Exception as exc:  # an outage or a refused read must not hide the verdict
            notes.append(f"live plan failed ({type(exc).__name__}: {exc})")
            live_providers = []
    desired_providers = [p for p in providers if p not in live_providers]
    if not live_plan:
        source = "desired"
    else:
        source = "live" if not desired_providers else "mixed"
    if desired_providers and not notes:
        missing = "" if not live_providers else f" for {', '.join(desired_providers)}"
        notes.append(NO_CREDENTIALS + missing)
    if desired_providers:
        notes.append("showing the change in desired state this PR makes (base → head)")
    pick = lambda items, grant: [x for x in items if grant(x).provider in desired_providers]
    changes = pick(intent.changes, lambda c: c.grant)
    held = pick(intent.held, lambda h: h.change.grant)
    counts = {}
    if live_plan is not None:
        changes += live_plan.changes
        held += live_plan.held
        counts = dict(live_plan.live_counts)
    changes.sort(key=lambda c: c.grant.key)
    plan = Plan(changes, held, counts, targets)
    return cp.PlanSection(source, plan, "; ".join(notes) or None)


# ---- running -----------------------------------------------------------------
def _check(args, ctx, pr: prc.PRContext, base: str) -> cp.Verdict:
    base = resolve_base(ctx.root, base)
    pr = replace(pr, base_sha=base)
    base_tree = Tree(ctx.root, base)
    org_model = orgmodel.load(base_tree)
    org = cp.Org({k: t.github_team for k, t in org_model.teams.items()}, org_model.security_team)
    logins = {p.email.lower(): p.github for p in org_model.people.values()}

    folders = {f for f in (folder_of(x.path) for x in pr.files) if f}
    folders |= {f for f in (folder_of(x.previous_path) for x in pr.files if x.previous_path) if f}
    head_files = load_folders(Tree(ctx.root), folders, org_model, ctx.now, set(pr.request_paths))
    base_files = load_folders(base_tree, folders, org_model, ctx.now)
    by_path = {rf.path: rf for rf in head_files}
    paths = pr.request_paths
    findings = {p: [f for f in (by_path[p].findings if p in by_path else [])
                    if f.rule != validate.INCOMPLETE_IMPORT] for p in paths}
    missing_rf = [p for p in paths if p not in by_path]
    for p in missing_rf:  # outside requests/<provider>/<target>/ or unreadable: load says why
        rf = load.read(Tree(ctx.root), p)
        by_path[p], findings[p] = rf, list(rf.findings)

    evaluation = evaluate_files(ctx.root, None, pr, base, ctx.now, keep_input=True)
    lines = {}
    for d in evaluation.decisions:
        rf = by_path.get(d.file)
        for v in d.violations:
            field = cp.RULE_FIELDS.get(v.get("rule", ""), ())
            lines[(d.file, v.get("rule", ""))] = (rf.line(*field) if rf is not None and field else None) or 1
    results = [cp.file_result(d, findings.get(d.file, []), pr, org, logins, lines) for d in evaluation.decisions]

    targets = {}
    for folder in folders:
        _, provider, name = folder.split("/", 2)
        t = org_model.target(provider, name)
        if t is not None:
            targets[(provider, t.id)] = t
    section = _plan(org_model, targets, head_files, base_files, ctx.now)
    return cp.assemble(pr, results, section, org, evaluation.rules_from, evaluation.engine)


def _post(gh, verdict: cp.Verdict, markdown: str, pr_head: str, judged: str) -> dict[str, Any]:
    """Comment, break-glass issue and status. The status goes on the commit
    judged; the comment only while that commit is still the PR's head (a
    newer push has its own run)."""
    out: dict[str, Any] = {"comment_id": None, "status": None, "break_glass_issue": None}
    n = verdict.pr.number
    reviewed = [f for f in verdict.files if f.post_incident_review]
    key = f"break-glass-{n}"
    if reviewed:
        title, body = comment.break_glass_issue(verdict, reviewed)
        out["break_glass_issue"] = gh.upsert_issue(key, title, body, open_=True)
    else:
        gh.upsert_issue(key, "", "Break-glass was removed from the PR; no review needed.", open_=False)
    if pr_head == judged:
        final = markdown
        if out["break_glass_issue"]:
            final += f"\nPost-incident review: #{out['break_glass_issue']}\n"
        out["comment_id"] = gh.upsert_comment(n, "check-pr", final)
    state_ = "success" if verdict.allow else "failure"
    gh.set_status(judged, state_, verdict.headline)
    out["status"] = state_
    return out


def _local(args, ctx):
    """(PR context, None, base) computed from git, as CI would see the PR."""
    if args.pr is not None or args.pr_context:
        raise UsageError("--local computes the PR from git; it cannot be combined with --pr or --pr-context")
    from tools.review import local
    base = args.base or "main"
    logins = [x.strip() for v in args.approved_by for x in v.split(",") if x.strip()]
    pr = local.pr_context(ctx.root, base, lambda sha: orgmodel.load(Tree(ctx.root, sha)), args.author, logins)
    dirty = git(ctx.root, "status", "--porcelain", "--", "requests", "policies", check=False).strip()
    if dirty:
        print("accessctl: uncommitted changes under requests/ or policies/ are not part of the PR; "
              "commit them to preview them", file=sys.stderr)
    return pr, None, pr.base_sha


def run(args, ctx) -> int:
    if not args.local and (args.author or args.approved_by or args.output):
        raise UsageError("--author, --approved-by and --output go with --local")
    if args.local:
        pr, gh, base = _local(args, ctx)
    else:
        event = _event() if args.pr is None and not args.pr_context else {}
        pr, gh, base = _pull_request(args, ctx, event)
    judged = git(ctx.root, "rev-parse", "HEAD").strip()
    pr_head = pr.head_sha
    if pr_head != judged:
        print(f"accessctl: the checkout is {judged[:7]}, the PR head is {pr_head[:7]}: judging the "
              "checkout (approvals count on it); the comment is left to the PR head's own run", file=sys.stderr)
        pr = replace(pr, head_sha=judged)
    verdict = _check(args, ctx, pr, base)
    markdown = comment.render(verdict)
    github = {"comment_id": None, "status": None, "break_glass_issue": None}
    if gh is not None and not args.no_post:
        github = _post(gh, verdict, markdown, pr_head, judged)
    job_summary(markdown)
    notes = cp.annotations(verdict)
    if args.output:
        try:
            Path(args.output).write_text(markdown, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    if ctx.format == "json":
        emit_json({
            "verdict": verdict.verdict, "allow": verdict.allow, "headline": verdict.headline,
            "next_step": verdict.next_step,
            "pr": {"number": pr.number, "author": pr.author, "head_sha": pr.head_sha, "base_sha": pr.base_sha},
            "rules_from": verdict.rules_from, "engine": verdict.engine,
            "files": [f.as_json() for f in verdict.files], "removed": verdict.removed,
            "plan": {"source": verdict.plan.source, "note": verdict.plan.note, **plan_json(verdict.plan.plan)},
            "approvals": cp.approvals_json(verdict),
            "annotations": [{"file": a.file, "line": a.line, "message": a.message} for a in notes],
            "github": github, "comment": markdown})
    else:
        if os.environ.get("GITHUB_ACTIONS") == "true":  # workflow commands mean nothing elsewhere
            for a in notes:
                print(a.command())
        if ctx.format == "markdown":
            sys.stdout.write(markdown)
        elif args.local and not args.output:
            # The whole comment, exactly as the PR would hold it: its Markdown
            # reads as text, and no renderer can cut a path in its tables.
            sys.stdout.write(markdown)
        else:
            out = console()
            style = "green" if verdict.allow else "red"
            out.print(f"[{style}]{comment.ICONS[verdict.verdict]} {_plain(verdict.headline)}[/]")
            out.print(f"next: {_plain(verdict.next_step)}")
            if verdict.plan.note:
                out.print(f"plan: {_plain(verdict.plan.note)}")
    return EXIT_OK if verdict.allow else EXIT_FINDING


def _plain(text: str) -> str:
    from rich.markup import escape
    return escape(text)
