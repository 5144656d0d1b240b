"""``accessctl setup-repo [--check]``: the GitHub settings the pipeline rests on.

Why: every guarantee of the PR check is void if a change can reach the
default branch without it — a direct push, an admin merge, an approval
given before a last-minute push, or a green check posted by something else
than the pipeline. This command sets, idempotently, what closes those doors
and ``--check`` names each setting that has drifted (for a scheduled audit
or a reviewer's spot check):

- branch protection requiring the ``accessctl/check-pr`` check **from the
  pipeline App's id** (``--app-id``), so no workflow token can satisfy it;
- the environments holding the App's key (``accessctl-check``,
  ``production``) usable from the default branch only, so a job of a PR
  branch cannot read the key;
- the durable record's branch ``accessctl-record`` (held list, record)
  pushable by the App only (``--app-slug``), administrators included, no
  force push, no deletion (setup_record.py). When the branch does not exist
  yet (no writer has run), it is reported, not created: the first writer
  creates it with the App's token; run setup-repo again then.

The diff is pure (``drift``/``desired_document``); the connector only reads
and PUTs the protection document. Settings the pipeline does not care about
(linear history, push restrictions …) are carried over untouched.
"""
from __future__ import annotations

import argparse
import os
from typing import Any

from rich.markup import escape

from tools.commands.setup_record import BRANCH as RECORD_BRANCH, MISSING, Drift, record_document, record_drift
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.output import console, emit_json

NEEDS_REPO = False  # configures GitHub; reads nothing from the access repository
CHECK = "accessctl/check-pr"
ENVIRONMENTS = ("accessctl-check", "production")
KEPT = ("required_linear_history", "block_creations", "required_conversation_resolution",
        "lock_branch", "allow_fork_syncing")


def _enabled(doc: dict[str, Any], key: str) -> bool:
    value = doc.get(key)
    return bool(value.get("enabled")) if isinstance(value, dict) else bool(value)


def _contexts(checks: dict[str, Any]) -> list[str]:
    return sorted({*checks.get("contexts", []), *(c["context"] for c in checks.get("checks", []))})


def _bypass(reviews: dict[str, Any]) -> list[str]:
    allow = reviews.get("bypass_pull_request_allowances") or {}
    return sorted([u["login"] for u in allow.get("users", [])] + [f"team:{t['slug']}" for t in allow.get("teams", [])]
                  + [f"app:{a['slug']}" for a in allow.get("apps", [])])


def drift(doc: dict[str, Any] | None, app_id: int | None = None) -> list[Drift]:
    """Each setting of the protection document ``doc`` (None: unprotected)
    that differs from what the pipeline needs; ``app_id`` is the App that
    must provide the required check."""
    if doc is None:
        return [Drift("branch protection", "enabled", "none")]
    checks = doc.get("required_status_checks") or {}
    reviews = doc.get("required_pull_request_reviews") or {}
    found: list[Drift] = []

    def want(setting: str, good: bool, wanted: Any, have: Any) -> None:
        if not good:
            found.append(Drift(setting, wanted, have))

    contexts = _contexts(checks)
    want("required status check", CHECK in contexts, CHECK, ", ".join(contexts) or "none")
    if CHECK in contexts and app_id is not None:
        apps = sorted({str(c.get("app_id")) for c in checks.get("checks", []) if c.get("context") == CHECK})
        want("app that must provide the required check", apps == [str(app_id)], app_id, ", ".join(apps) or "any")
    want("require branches to be up to date (strict)", bool(checks.get("strict")), True, bool(checks.get("strict")))
    want("required pull request reviews", bool(reviews), "enabled", "enabled" if reviews else "none")
    if reviews:
        want("require code owner reviews", bool(reviews.get("require_code_owner_reviews")), True, False)
        want("dismiss stale reviews", bool(reviews.get("dismiss_stale_reviews")), True, False)
        want("require approval of the most recent push", bool(reviews.get("require_last_push_approval")), True, False)
        count = int(reviews.get("required_approving_review_count", 0))
        want("required approving review count", count >= 1, ">= 1", count)
        bypass = _bypass(reviews)
        want("bypass of required reviews", not bypass, "nobody", ", ".join(bypass))
    want("enforce for administrators", _enabled(doc, "enforce_admins"), True, False)
    want("allow force pushes", not _enabled(doc, "allow_force_pushes"), False, True)
    want("allow deletions", not _enabled(doc, "allow_deletions"), False, True)
    return found


def desired_document(doc: dict[str, Any] | None, app_id: int | None = None) -> dict[str, Any]:
    """The PUT body: what the pipeline needs, plus every other setting as it
    was. Required checks go in ``checks`` (with their app), never also in
    ``contexts``: GitHub refuses a body with both."""
    doc = doc or {}
    checks = doc.get("required_status_checks") or {}
    reviews = doc.get("required_pull_request_reviews") or {}
    items = {c["context"]: c.get("app_id") for c in checks.get("checks", [])}
    items.update({c: items.get(c) for c in checks.get("contexts", [])})
    items[CHECK] = app_id if app_id is not None else items.get(CHECK)
    out: dict[str, Any] = {
        "required_status_checks": {"strict": True, "checks": [
            {"context": c} | ({"app_id": a} if a is not None else {}) for c, a in sorted(items.items())]},
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True, "require_code_owner_reviews": True,
            "require_last_push_approval": True,
            "required_approving_review_count": max(1, int(reviews.get("required_approving_review_count", 1)))},
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
    }
    dismissal = reviews.get("dismissal_restrictions")
    if dismissal and (dismissal.get("users") or dismissal.get("teams") or dismissal.get("apps")):
        out["required_pull_request_reviews"]["dismissal_restrictions"] = {
            "users": [u["login"] for u in dismissal.get("users", [])],
            "teams": [t["slug"] for t in dismissal.get("teams", [])],
            "apps": [a["slug"] for a in dismissal.get("apps", [])]}
    restrictions = doc.get("restrictions")
    if restrictions:
        out["restrictions"] = {"users": [u["login"] for u in restrictions.get("users", [])],
                               "teams": [t["slug"] for t in restrictions.get("teams", [])],
                               "apps": [a["slug"] for a in restrictions.get("apps", [])]}
    for key in KEPT:
        if key in doc:
            out[key] = _enabled(doc, key)
    return out


def environment_drift(name: str, env: dict[str, Any] | None, branch: str) -> list[Drift]:
    """The environment ``name`` (as the connector reads it, with its
    ``branch_policies``) must exist and be usable from ``branch`` only:
    custom deployment-branch policies naming exactly that branch."""
    setting = f"environment {name}: deployment branches"
    if env is None:
        return [Drift(setting, f"only {branch}", "environment missing")]
    policy = env.get("deployment_branch_policy")
    if policy is None:
        return [Drift(setting, f"only {branch}", "any branch")]
    if policy.get("protected_branches"):
        return [Drift(setting, f"only {branch}", "any protected branch")]
    names = sorted(f"{p.get('name')}" + ("" if p.get("type", "branch") == "branch" else f" ({p.get('type')})")
                   for p in env.get("branch_policies", []))
    return [] if names == [branch] else [Drift(setting, f"only {branch}", ", ".join(names) or "none")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 and list each drifted setting")
    p.add_argument("--app-id", type=int, metavar="ID",
                   help="the accessctl GitHub App's id, which must provide the required check "
                        "(default: $ACCESSCTL_APP_ID)")
    p.add_argument("--app-slug", metavar="SLUG",
                   help=f"the accessctl GitHub App's slug, the only actor allowed to push {RECORD_BRANCH} "
                        "(default: $ACCESSCTL_APP_SLUG)")
    p.add_argument("--environment", action="append", metavar="NAME",
                   help="an environment holding the App's key, limited to the default branch "
                        f"(repeatable; default: {', '.join(ENVIRONMENTS)})")
    p.add_argument("--github-repo", metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)")
    p.add_argument("--branch", help="branch to protect (default: the repository's default branch)")


def run(args, ctx) -> int:
    repository = args.github_repo or os.environ.get("GITHUB_REPOSITORY")
    if not repository:
        raise UsageError("no repository: pass --github-repo owner/name or set GITHUB_REPOSITORY")
    if not os.environ.get("GITHUB_TOKEN"):
        raise UsageError("GITHUB_TOKEN is not set: setup-repo needs a token with admin rights on "
                         f"{repository} (branch protection is an admin setting)")
    app_id = args.app_id if args.app_id is not None else os.environ.get("ACCESSCTL_APP_ID")
    if app_id is None or not str(app_id).isdigit():
        raise UsageError("no App id: pass --app-id ID (or set ACCESSCTL_APP_ID) with the id of the accessctl "
                         "GitHub App (its settings page, \"App ID\"); the required check must come from it")
    app_id = int(app_id)
    app_slug = args.app_slug or os.environ.get("ACCESSCTL_APP_SLUG")
    if not app_slug:
        raise UsageError(f"no App slug: pass --app-slug SLUG (or set ACCESSCTL_APP_SLUG) with the accessctl GitHub "
                         f"App's slug (the end of its page https://github.com/apps/SLUG); only that App may push "
                         f"{RECORD_BRANCH}")
    environments = args.environment or list(ENVIRONMENTS)
    from connectors.github import GitHubConnector  # tools/ stays free of the GitHub SDK until needed
    # An admin's own token: never ACCESSCTL_GITHUB_TOKEN (the App may not administer the repository).
    gh = GitHubConnector(repository, token=os.environ["GITHUB_TOKEN"], base_url=os.environ.get("GITHUB_API_URL"))
    branch = args.branch or gh.default_branch
    before = gh.read_protection(branch)
    found = drift(before, app_id)
    envs = {name: gh.read_environment(name) for name in environments}
    for name, env in envs.items():
        found += environment_drift(name, env, branch)
    record_exists = gh.branch_exists(RECORD_BRANCH)
    record = gh.read_protection(RECORD_BRANCH) if record_exists else None
    found += record_drift(record, app_slug, record_exists)
    # A missing record branch cannot be protected (GitHub protects existing
    # branches only): it stays a finding until a writer has created it.
    missing = [d for d in found if d.have == MISSING]
    changed = False
    if len(found) > len(missing) and not args.check:
        if drift(before, app_id):
            gh.write_protection(branch, desired_document(before, app_id))
        for name, env in envs.items():
            if environment_drift(name, env, branch):
                gh.restrict_environment(name, branch)
        if record_exists and record_drift(record, app_slug):
            gh.write_protection(RECORD_BRANCH, record_document(app_slug))
        changed = True
        left = drift(gh.read_protection(branch), app_id)
        left += [d for name in environments for d in environment_drift(name, gh.read_environment(name), branch)]
        if record_exists:
            left += record_drift(gh.read_protection(RECORD_BRANCH), app_slug)
        if left:
            raise UsageError(f"GitHub did not keep these settings on {repository}@{branch}: "
                             + "; ".join(map(str, left)) + " (plan limits or organisation rules may forbid them)")
    if ctx.format == "json":
        emit_json({"repository": repository, "branch": branch, "app_id": app_id, "app_slug": app_slug,
                   "environments": environments, "changed": changed, "check": args.check,
                   "drift": [{"setting": d.setting, "want": d.want, "have": d.have} for d in found]})
    else:
        out = console()
        where = escape(f"{repository}@{branch}")
        if not found:
            out.print(f"[green]✓[/] branch protection and environments of {where} are as the pipeline needs")
        for d in found:
            mark = "[red]✗[/]" if not changed or d in missing else "[green]fixed[/]"
            out.print(f"{mark} {escape(str(d))}")
        if missing:
            out.print(f"[yellow]![/] {RECORD_BRANCH} does not exist yet: the first apply creates it with the App's "
                      "token; run setup-repo again then to protect it")
        if changed:
            out.print(f"[green]✓[/] configured branch protection and environments on {where} "
                      f"({len(found) - len(missing)} setting(s))")
    return EXIT_FINDING if (found and args.check) or missing else EXIT_OK
