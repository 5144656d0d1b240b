"""Invariant: the gate cannot be forged.

Threat: an insider opens a PR that adds (or edits) a workflow. Under
``pull_request`` that workflow runs from the PR itself with a token whose
permissions the PR's own file declares, so it can post a green commit
status or check run named ``accessctl/check-pr``. The design (README, "The
gate: threat model and design"): branch protection requires the check from
the accessctl App's id; the App's key is an environment secret only the
default branch may use; the real check runs on ``pull_request_target`` from
the default branch. Each test plays the attacker through the GitHub sandbox,
which enforces token permissions and check-run authorship as GitHub does.
"""
from __future__ import annotations

from tests.security.attacker import rig  # noqa: F401  (the fixture)

import json

from tests.conftest import PROJECT
from tests.test_pr_lifecycle import CAROL, carol
from tools.sandbox.github import APP_ID

EVIL = """
name: totally-the-check
on: pull_request
permissions: write-all
jobs:
  forge:
    runs-on: ubuntu-24.04
    environment: accessctl-check
    permissions: {checks: write, statuses: write, contents: read}
    steps: [{run: "true"}]
"""


def _forge(rig, sha: str, token: str) -> None:
    """What the PR's own workflow does with its GITHUB_TOKEN."""
    from connectors.github import GitHubConnector
    gh = GitHubConnector("acme/access", token=token, base_url=rig.gh.url)
    gh._gh.requester.requestJsonAndCheck("POST", f"/repos/acme/access/statuses/{sha}",
                                         input={"state": "success", "context": "accessctl/check-pr"})
    gh.create_check_run(sha, True, "Allowed", "trust me")


def test_a_pr_workflow_posting_a_green_check_does_not_open_the_gate(rig, capsys, tmp_path):  # noqa: F811
    rig.push({CAROL: carol("2027-06-01")})  # denied: expiry too long
    doc = rig.check(capsys)
    assert doc["verdict"] == "denied" and rig.gh.gate(rig.head) == [f"accessctl/check-pr (from app {APP_ID})"]

    workflow = tmp_path / "evil.yml"
    workflow.write_text(EVIL)
    token = rig.gh.workflow_token(workflow, "forge")
    _forge(rig, rig.head, token)

    assert rig.gh.check_runs and rig.gh.statuses[rig.head][0]["state"] == "success"  # the forgeries exist …
    assert rig.gh.gate(rig.head) == [f"accessctl/check-pr (from app {APP_ID})"]  # … and count for nothing
    # the PR's job runs on refs/pull/N/merge: the environment holding the App's key is closed to it
    assert not rig.gh.may_use_environment("accessctl-check", f"refs/pull/{rig.number}/merge")


def test_only_the_apps_check_on_an_approved_head_opens_the_gate(rig, capsys):  # noqa: F811
    rig.push({CAROL: carol("2026-12-20")})
    rig.check(capsys)
    assert rig.gh.gate(rig.head)  # needs an approval
    rig.review("alice-acme")
    assert rig.check(capsys)["verdict"] == "allowed"
    assert rig.gh.gate(rig.head) == []
    newer = rig.push({CAROL: carol("2026-12-21")}, message="after approval")
    assert rig.gh.gate(newer)  # a push after the approval: the old green check is not on the new head


def test_a_required_check_any_app_may_post_is_reported_by_setup_repo(rig, repo, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("GITHUB_TOKEN", rig.gh.admin_token())
    rig.gh.protection["main"]["required_status_checks"]["checks"] = [{"context": "accessctl/check-pr", "app_id": -1}]
    result = repo.run("setup-repo", "--check", "--app-id", str(APP_ID), "--format", "json", capsys=capsys)
    assert result.code == 1
    assert json.loads(result.out)["drift"][0]["setting"] == "app that must provide the required check"


def test_the_check_workflow_comes_from_the_default_branch_and_never_runs_the_head():
    """A PR that edits pr-check.yml changes nothing: pull_request_target runs
    the default branch's file. And that file may not execute the head
    (tests/test_workflows.py proves each way of doing so is caught)."""
    import yaml
    doc = yaml.safe_load((PROJECT / ".github/workflows/pr-check.yml").read_text())
    assert set(doc[True]) == {"pull_request_target"}
    steps = doc["jobs"]["check-pr"]["steps"]
    base = next(s for s in steps if (s.get("with") or {}).get("path") == "base")
    assert base["with"]["ref"] == "${{ github.sha }}"
    assert any(s.get("run") == "python -m pip install --quiet ./base" for s in steps)
