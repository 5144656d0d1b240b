"""``accessctl check-pr``: the one command the PR workflows run.

Collects the PR (from ``GITHUB_EVENT_PATH`` and the GitHub API, or
``--pr N`` / ``--pr-context FILE`` for local runs, or ``--local``: from git,
see ``tools/review/local.py``), validates and evaluates
its changed request files with the policies and org model of the *base*
commit, plans the cloud changes, then writes the one PR comment, the
``accessctl/check-pr`` check run (posted with the pipeline App's token, the
only source branch protection accepts), the job summary and ``::error``
annotations. A PR whose base is not the default branch is refused. Exit 0 when every changed request is allowed (approvals
included) or none changed; 1 otherwise; 2 for usage or environment errors.
The same command runs from the ``workflow_run`` that follows a review, so
an approval turns the check green without a new push.

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
              # besides the changed request files: one entry per request file the
              # PR deletes, moves or renames (judged by access.rules.removals), and
              # "(rules change)" when it changes anything outside requests/ and
              # reviews/ (access.rules.rule_changes; required_approvals.kind "rules")
     "removed": [request paths the PR deletes],
     "impact": null | {…},               # a PR changing policies/: tools/review/impact.py Impact.as_json
     "plan": {"source": "live" | "desired" | "mixed" | "none", "note": str | null,
              "changes": […], "held": […], "summary": {…}},   # render_plan.plan_json
     "approvals": {"head_sha", "files": [{"file", "required", "approved_by": [login],
                   "ignored": [{"user", "why"}], "missing": [{"count", "from": ["org/team"]}]}]},
     "annotations": [{"file", "line", "message"}],
     "github": {"comment_id": int | null, "status": str | null, "check_run": int | null,
                "break_glass_issue": int | null},
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

from tools.core import mdsafe, orgmodel
from tools.core import pr_context as prc
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json
from tools.core.progress import job_summary
from tools.core.repo import Tree, git
from tools.policy.engines import load_bundle
from tools.policy.evaluate import FileDecision, evaluate_files, open_engine, resolve_base
from tools.provision import desired as state
from tools.provision.apply import Connectors, folder_of, load_folders, read_live
from tools.provision.plan import Plan, make_plan
from tools.provision.render import plan_json
from tools.provision import review_inputs
from tools.request import load, validate
from tools.review import people_impact
from tools.review import check_pr as cp
from tools.review import comment, impact, rules_pr

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
    """The PR named by the Actions event: ``pull_request_target`` (and
    ``pull_request``) carry it; a ``workflow_run`` (the review re-check, run
    from the default branch after the review workflow) names the PR when it
    came from this repository, else only the reviewed head commit."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"GITHUB_EVENT_PATH {path}: cannot read the event ({exc})") from None
    run = data.get("workflow_run") if isinstance(data, dict) else None
    if isinstance(run, dict):
        pulls = [p for p in run.get("pull_requests") or [] if isinstance(p, dict) and isinstance(p.get("number"), int)]
        head = run.get("head_sha")
        if not pulls and not isinstance(head, str):
            raise UsageError(f"GITHUB_EVENT_PATH {path}: a workflow_run event without a pull request or head_sha")
        return {"number": pulls[0]["number"] if pulls else None, "head": head, "base": None}
    pr = data.get("pull_request") if isinstance(data, dict) else None
    if not isinstance(pr, dict) or not isinstance(pr.get("number"), int):
        raise UsageError(f"GITHUB_EVENT_PATH {path}: not a pull_request_target, pull_request or workflow_run "
                         "event (no pull_request.number); run check-pr only on PR events or pass --pr N")
    return {"number": pr["number"], "base": (pr.get("base") or {}).get("sha"),
            "head": (pr.get("head") or {}).get("sha")}


def _pull_request(args, ctx, event: dict[str, Any]):
    """(PR context, GitHub connector or None, base ref)."""
    base = args.base or os.environ.get("ACCESSCTL_BASE_SHA") or event.get("base")
    if args.pr_context:
        pr = prc.load(args.pr_context)
        return pr, None, base or pr.base_sha
    number = args.pr if args.pr is not None else event.get("number")
    if number is None and not event.get("head"):
        raise UsageError("check-pr needs a pull request: run it on a pull_request event (GITHUB_EVENT_PATH), "
                         "or pass --pr N (with GITHUB_TOKEN) or --pr-context FILE")
    from tools.core.github_context import client
    gh = client(args.github_repo)
    if gh is None:
        raise UsageError("check-pr needs GITHUB_REPOSITORY (or --github-repo) and GITHUB_TOKEN to read "
                         f"PR #{number}; for a local run pass --pr-context FILE")
    if number is None:  # a workflow_run for a fork's PR names only the head commit
        number = gh.pull_for_commit(event["head"])
        if number is None:
            raise UsageError(f"no open pull request has head {event['head'][:7]}: nothing to re-check")
    pr = prc.from_dict(gh.pr_context(number, files_from_git=True).as_json(), f"PR #{number}")  # _check: files from git
    return pr, gh, base or pr.base_sha  # a local run: the PR itself names its base


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
    base_tree = Tree(ctx.root, base)
    org_model = orgmodel.load(base_tree)
    # The changed files come from git (base...head), never from the API's
    # list (truncated at 3,000); reviewers' teams from the base org model.
    pr = rules_pr.with_org_teams(replace(pr, base_sha=base, files=prc.changed_files(ctx.root, base, pr.head_sha)),
                                 org_model)
    org = cp.Org({k: t.github_team for k, t in org_model.teams.items()}, org_model.security_team,
                 {k: tuple(m.lower() for m in t.leads) for k, t in org_model.teams.items()},
                 {k: tuple(m.lower() for m in t.members) for k, t in org_model.teams.items()})
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

    engine = open_engine(load_bundle(base_tree, org_model), fail_closed=True)
    evaluation = evaluate_files(ctx.root, None, pr, base, ctx.now, engine=engine, keep_input=True)
    if any(f.path.startswith(orgmodel.DATA_DIR + "/") for f in pr.files):
        # The base's org model judges the PR, but a change to it that breaks
        # its schema (a limit of 1.5, a duplicate waiver) must not merge.
        for problem in orgmodel.findings(Tree(ctx.root)):
            findings.setdefault(problem.file, []).append(problem)
            if all(d.file != problem.file for d in evaluation.decisions):
                evaluation.decisions.append(FileDecision(problem.file, False, []))
    lines = {}
    for d in evaluation.decisions:
        rf = by_path.get(d.file)
        for v in d.violations:
            field = cp.RULE_FIELDS.get(v.get("rule", ""), ())
            lines[(d.file, v.get("rule", ""))] = (rf.line(*field) if rf is not None and field else None) or 1
    results = [cp.file_result(d, findings.get(d.file, []), pr, org, logins, lines) for d in evaluation.decisions]
    results += _extra_results(ctx, pr, base_tree, org_model, org, logins, engine)

    targets = {}
    for folder in folders:
        _, provider, name = folder.split("/", 2)
        t = org_model.target(provider, name)
        if t is not None:
            targets[(provider, t.id)] = t
    section = _plan(org_model, targets, head_files, base_files, ctx.now)
    effect = None
    if any(p.startswith(impact.RULES_DIR) for p in rules_pr.rule_paths(pr)):
        # Information for the reviewers of a rules change: main's requests
        # under the base and the head rules, the head rules in their own
        # embedded engine. The verdict above was reached without them.
        effect = impact.analyse(ctx.root, base, pr.head_sha, base, ctx.now)
    verdict = cp.assemble(pr, results, section, org, evaluation.rules_from, evaluation.engine, effect)
    verdict.people = people_impact.section(
        people_impact.impact(ctx.root, base_tree, [f.path for f in pr.files], ctx.now), org_model,
        grants_elsewhere=effect is not None)
    return verdict


def _extra_results(ctx, pr: prc.PRContext, base_tree: Tree, org_model, org: cp.Org, logins, engine) -> list:
    """The removed request files, then the rules change: decided by the same
    base policy as the request files."""
    out = []
    for doc in rules_pr.removal_inputs(pr, base_tree, org_model, ctx.now):
        out.append(cp.extra_result(doc["file"], engine.decide(doc), pr, org, logins))
    for doc in review_inputs.review_inputs(pr, base_tree, Tree(ctx.root), org_model, ctx.now):
        out.append(cp.extra_result(doc["file"], engine.decide(doc), pr, org, logins))
    if rules_pr.rule_paths(pr):
        doc = rules_pr.rules_input(pr, org_model, Tree(ctx.root), ctx.now)
        details = [f"changes {', '.join(rules_pr.rule_paths(pr))}", *rules_pr.membership_lines(doc["change"])]
        out.append(cp.extra_result(doc["file"], engine.decide(doc), pr, org, logins, details))
    return out


def _post(gh, verdict: cp.Verdict, markdown: str, pr_head: str, judged: str) -> dict[str, Any]:
    """Comment, break-glass issue and the gate. The gate is the
    ``accessctl/check-pr`` check run on the commit judged, posted with the
    pipeline App's token (branch protection requires it from that App); the
    comment only while that commit is still the PR's head (a newer push has
    its own run)."""
    out: dict[str, Any] = {"comment_id": None, "status": None, "check_run": None, "break_glass_issue": None}
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
    if not os.environ.get("ACCESSCTL_GITHUB_TOKEN") and os.environ.get("GITHUB_ACTIONS") == "true":
        print("accessctl: ACCESSCTL_GITHUB_TOKEN is not set: the check run is posted as github-actions "
              "and cannot satisfy the required check, which must come from the accessctl App", file=sys.stderr)
    out["check_run"] = gh.create_check_run(judged, verdict.allow, verdict.headline, markdown)
    out["status"] = "success" if verdict.allow else "failure"
    return out


def _refuse_base(args, ctx, gh, pr: prc.PRContext, judged: str) -> int | None:
    """A PR into another branch than the default one is refused: the rules
    that judge requests come only from the protected default branch, never
    from an arbitrary base the PR author chose (issue: rules come from the
    default branch). None when the base is the default branch."""
    default = gh.default_branch if gh is not None else None
    if default is None or pr.base_ref in (None, default):
        return None
    headline = f"Refused: this pull request targets {pr.base_ref}, not {default}"
    text = (f"{comment_marker()}\n### ❌ {mdsafe.md(headline)}\n\nAccess requests are judged only by the rules "
            f"of `{default}`. Change the pull request's base branch to `{default}`; the check runs again "
            "when you do.\n")
    if not args.no_post:
        gh.upsert_comment(pr.number, "check-pr", text)
        gh.create_check_run(judged, False, headline, text)
    if ctx.format == "json":
        emit_json({"verdict": "denied", "allow": False, "headline": headline, "base_ref": pr.base_ref,
                   "default_branch": default})
    else:
        console().print(f"[red]✗ {_plain(headline)}[/]")
    return EXIT_FINDING


def comment_marker() -> str:
    return "<!-- accessctl:check-pr -->"
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
    refused = _refuse_base(args, ctx, gh, pr, judged)
    if refused is not None:
        return refused
    if pr_head != judged:
        print(f"accessctl: the checkout is {judged[:7]}, the PR head is {pr_head[:7]}: judging the "
              "checkout (approvals count on it); the comment is left to the PR head's own run", file=sys.stderr)
        pr = replace(pr, head_sha=judged)
    verdict = _check(args, ctx, pr, base)
    markdown = comment.render(verdict)
    github = {"comment_id": None, "status": None, "check_run": None, "break_glass_issue": None}
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
            "impact": verdict.impact.as_json() if verdict.impact is not None else None,
            "plan": {"source": verdict.plan.source, "note": verdict.plan.note, **plan_json(verdict.plan.plan)},
            "approvals": cp.approvals_json(verdict),
            "annotations": [{"file": a.file, "line": a.line, "message": a.message} for a in notes],
            "github": github, "comment": markdown})
    else:
        if os.environ.get("GITHUB_ACTIONS") == "true":  # workflow commands mean nothing elsewhere
            for a in notes:
                a.emit()
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
