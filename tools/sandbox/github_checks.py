"""Check runs and deployment environments in the GitHub sandbox.

Split from github.py to keep modules small; the routes register on import.
Why the fake has them: the gate is a check run that only the pipeline's App
can post (branch protection names the App's id), and the App's key lives in
an environment that only the default branch may use. Shapes follow the
OpenAPI description (the contract test checks them).
"""
from __future__ import annotations

import itertools
from typing import Any

from tools.sandbox.github import STAMP, FakeGitHub, HttpError, route

_CHECK_IDS = itertools.count(7000)
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")


def _app(g: FakeGitHub) -> dict[str, Any]:
    a = g.actor
    return {"id": a.app_id, "slug": a.app_slug, "node_id": f"A_{a.app_id}", "name": a.app_slug,
            "client_id": f"Iv1.{a.app_id}", "owner": g._user(g.org) | {"type": "Organization"}, "description": "",
            "external_url": "https://github.com", "html_url": f"https://github.com/apps/{a.app_slug}",
            "created_at": STAMP, "updated_at": STAMP, "permissions": dict(a.permissions), "events": []}


def _run(g: FakeGitHub, run: dict[str, Any]) -> dict[str, Any]:
    url = f"{g._repo_url()}/check-runs/{run['id']}"
    return {"id": run["id"], "head_sha": run["head_sha"], "node_id": f"CR_{run['id']}", "external_id": "",
            "url": url, "html_url": f"https://github.com/{g.full_name}/runs/{run['id']}",
            "details_url": run.get("details_url"), "status": run["status"], "conclusion": run["conclusion"],
            "started_at": STAMP, "completed_at": STAMP if run["status"] == "completed" else None,
            "output": {"title": run["output"].get("title"), "summary": run["output"].get("summary"),
                       "text": run["output"].get("text"), "annotations_count": 0,
                       "annotations_url": f"{url}/annotations"},
            "name": run["name"], "check_suite": {"id": 1}, "app": run["app"], "pull_requests": []}


def _check_fields(b: dict[str, Any], run: dict[str, Any]) -> None:
    """Docs "Create a check run": a conclusion is required when status is
    completed and sets it; output needs title and summary (summary at most
    65535 characters)."""
    if "status" in b:
        if b["status"] not in ("queued", "in_progress", "completed"):
            raise HttpError(422, "Validation Failed: status")
        run["status"] = b["status"]
    if "conclusion" in b:
        if b["conclusion"] not in CONCLUSIONS:
            raise HttpError(422, "Validation Failed: conclusion")
        run["conclusion"], run["status"] = b["conclusion"], "completed"
    if run["status"] == "completed" and run.get("conclusion") is None:
        raise HttpError(422, "Validation Failed: conclusion is required when status is completed")
    if "output" in b:
        out = b["output"] or {}
        if not out.get("title") or "summary" not in out or len(out["summary"]) > 65535:
            raise HttpError(422, "Validation Failed: output needs a title and a summary of at most 65535 characters")
        run["output"] = out
    if "details_url" in b:
        run["details_url"] = b["details_url"]


@route("POST", "{repo}/check-runs", "POST /repos/{owner}/{repo}/check-runs")
def _create_check_run(g: FakeGitHub, q, b):
    # Docs: "To create a check run, you must use a GitHub App." A person's
    # token is refused; the Actions token is the github-actions App's.
    if g.actor.app_id is None:
        raise HttpError(403, "You must authenticate via a GitHub App.")
    if not b.get("name") or not b.get("head_sha"):
        raise HttpError(422, "Validation Failed: name and head_sha are required")
    run = {"id": next(_CHECK_IDS), "name": b["name"], "head_sha": b["head_sha"], "status": "queued",
           "conclusion": None, "output": {}, "app": _app(g)}
    _check_fields(b, run)
    g.check_runs[run["id"]] = run
    return 201, _run(g, run), {}


@route("PATCH", r"{repo}/check-runs/(\d+)", "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}")
def _update_check_run(g: FakeGitHub, q, b, rid):
    run = g.check_runs.get(int(rid))
    if run is None:
        raise HttpError(404, "Not Found")
    if run["app"]["id"] != g.actor.app_id:  # only the App that created a check run may change it
        raise HttpError(403, "Invalid app_id `%s` - check run can only be modified by its creator." % g.actor.app_id)
    _check_fields(b, run)
    return _run(g, run)


@route("GET", r"{repo}/commits/([0-9a-f]{40})/check-runs", "GET /repos/{owner}/{repo}/commits/{ref}/check-runs")
def _list_check_runs(g: FakeGitHub, q, b, sha):
    name, app = q.get("check_name", [None])[0], q.get("app_id", [None])[0]
    runs = [_run(g, r) for r in sorted(g.check_runs.values(), key=lambda r: -r["id"])
            if r["head_sha"] == sha and (name is None or r["name"] == name)
            and (app is None or str(r["app"]["id"]) == app)]
    return {"total_count": len(runs), "check_runs": runs}


# ---- environments ---------------------------------------------------------
def _env(g: FakeGitHub, name: str) -> dict[str, Any]:
    env = g.environments.get(name)
    if env is None:
        raise HttpError(404, "Not Found")
    return env


def _env_json(g: FakeGitHub, name: str) -> dict[str, Any]:
    env = _env(g, name)
    return {"id": env["id"], "node_id": f"EN_{env['id']}", "name": name,
            "url": f"{g._repo_url()}/environments/{name}",
            "html_url": f"https://github.com/{g.full_name}/deployments/activity_log?environments_filter={name}",
            "created_at": STAMP, "updated_at": STAMP, "protection_rules": [],
            "deployment_branch_policy": env["deployment_branch_policy"]}


@route("GET", r"{repo}/environments/([^/]+)", "GET /repos/{owner}/{repo}/environments/{environment_name}")
def _get_environment(g: FakeGitHub, q, b, name):
    return _env_json(g, name)


@route("PUT", r"{repo}/environments/([^/]+)", "PUT /repos/{owner}/{repo}/environments/{environment_name}")
def _put_environment(g: FakeGitHub, q, b, name):
    policy = b.get("deployment_branch_policy")
    if policy is not None:
        # Docs "Create or update an environment": both booleans are required,
        # and exactly one may be true.
        if set(policy) != {"protected_branches", "custom_branch_policies"} or \
                policy["protected_branches"] == policy["custom_branch_policies"]:
            raise HttpError(422, "Validation Failed: set exactly one of protected_branches and custom_branch_policies")
    env = g.environments.setdefault(name, {"id": next(_CHECK_IDS), "policies": []})
    env["deployment_branch_policy"] = dict(policy) if policy is not None else None
    if policy is None or not policy["custom_branch_policies"]:
        env["policies"] = []
    return _env_json(g, name)


def _custom(g: FakeGitHub, name: str) -> dict[str, Any]:
    env = _env(g, name)
    if not (env["deployment_branch_policy"] or {}).get("custom_branch_policies"):
        # Docs: custom policies exist only while custom_branch_policies is true.
        raise HttpError(404, "Not Found")
    return env


def _policy_json(g: FakeGitHub, env: str, p: dict[str, Any]) -> dict[str, Any]:
    return {"id": p["id"], "node_id": f"DBP_{p['id']}", "name": p["name"], "type": p["type"]}


@route("GET", r"{repo}/environments/([^/]+)/deployment-branch-policies",
       "GET /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies")
def _list_branch_policies(g: FakeGitHub, q, b, name):
    env = _custom(g, name)
    return {"total_count": len(env["policies"]), "branch_policies": [_policy_json(g, name, p) for p in env["policies"]]}


@route("POST", r"{repo}/environments/([^/]+)/deployment-branch-policies",
       "POST /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies")
def _add_branch_policy(g: FakeGitHub, q, b, name):
    env = _custom(g, name)
    if not b.get("name") or b.get("type", "branch") not in ("branch", "tag"):
        raise HttpError(422, "Validation Failed")
    if any(p["name"] == b["name"] and p["type"] == b.get("type", "branch") for p in env["policies"]):
        raise HttpError(303, "Policy already exists")
    pol = {"id": next(_CHECK_IDS), "name": b["name"], "type": b.get("type", "branch")}
    env["policies"].append(pol)
    return _policy_json(g, name, pol)


@route("DELETE", r"{repo}/environments/([^/]+)/deployment-branch-policies/(\d+)",
       "DELETE /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies/{branch_policy_id}")
def _delete_branch_policy(g: FakeGitHub, q, b, name, pid):
    env = _custom(g, name)
    before = len(env["policies"])
    env["policies"] = [p for p in env["policies"] if p["id"] != int(pid)]
    if len(env["policies"]) == before:
        raise HttpError(404, "Not Found")
    return 204, None, {}
