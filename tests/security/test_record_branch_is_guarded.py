"""Attack: rewrite the durable record's held list and release a held file.

``held.json`` on ``accessctl-record`` decides which directly-pushed request
files apply refuses to provision; whoever can push that branch can empty it.
Two things close the door: the writers push the record with the pipeline
App's token (the workflow tokens keep ``contents: read``), and setup-repo
protects the branch so that only the App may push it, administrators
included, with no force push or deletion. The attacker here holds a
workflow token with ``contents: write`` (any other workflow of the
repository), an administrator's token, or loosens the protection as admin.

Not covered: the marker ref ``refs/accessctl/applied`` is not a branch,
so branch protection cannot guard it."""
from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import PROJECT
from tools.provision.durable import BRANCH as RECORD
from tools.sandbox.github import APP_ID, APP_SLUG, FakeGitHub
from tools.sandbox.github_tokens import GITHUB_ACTIONS_APP, Token

WRITERS = ("apply.yml", "reconcile.yml", "expire.yml")
# Commands that push accessctl-record (tools.provision.durable): the writers
# publish their journal, and the `if: always()` step pushes it after a kill.
PUSHERS = ("accessctl apply", "accessctl reconcile", "accessctl expire", "accessctl audit push-record")


def _pushes(step: dict) -> bool:
    """Whether the step can push accessctl-record (`reconcile --publish`
    only merges shard outputs into the drift issue)."""
    run = step.get("run", "")
    return any(p in run for p in PUSHERS) and "--publish" not in run


@pytest.fixture
def fake(monkeypatch):
    with FakeGitHub(org="acme", repo="access") as gh:
        gh.add_branch(RECORD, {"record.jsonl": "", "held.json": '["requests/aws/acme-prod/held.yaml"]\n'})
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_TOKEN", gh.admin_token())
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/access")
        monkeypatch.setenv("ACCESSCTL_APP_ID", str(APP_ID))
        monkeypatch.setenv("ACCESSCTL_APP_SLUG", APP_SLUG)
        yield gh


def _other_workflows_token(gh: FakeGitHub) -> str:
    """The GITHUB_TOKEN of some other workflow granted contents: write."""
    return gh.add_token("ghs_release_job", Token("workflow", "github-actions[bot]", {"contents": "write"},
                                                 *GITHUB_ACTIONS_APP))


def test_after_setup_repo_only_the_app_pushes_the_record(repo, fake, capsys):
    workflow_token, admin = _other_workflows_token(fake), fake.admin_token()
    assert fake.may_push(RECORD, workflow_token) and fake.may_push(RECORD, admin)  # today's open door

    assert repo.run("setup-repo", capsys=capsys).code == 0
    doc = fake.protection[RECORD]
    assert {k: [x.get("slug") or x.get("login") for x in v] for k, v in doc["restrictions"].items()
            if k in ("users", "teams", "apps")} == {"users": [], "teams": [], "apps": [APP_SLUG]}
    assert doc["enforce_admins"]["enabled"] is True
    assert doc["allow_force_pushes"]["enabled"] is False and doc["allow_deletions"]["enabled"] is False

    assert fake.may_push(RECORD, "x")  # the App's installation token
    assert not fake.may_push(RECORD, workflow_token)
    assert not fake.may_push(RECORD, admin)
    for name in WRITERS:  # the writers' own workflow tokens cannot push at all
        doc = yaml.safe_load((PROJECT / ".github/workflows" / name).read_text())
        for job in doc["jobs"]:
            assert not fake.may_push(RECORD, fake.workflow_token(PROJECT / ".github/workflows" / name, job))


@pytest.mark.parametrize("loosen, setting", [
    (lambda p, gh: p["restrictions"]["users"].append(gh._user("mallory-acme")), f"{RECORD}: who may push"),
    (lambda p, gh: p.pop("restrictions"), f"{RECORD}: who may push"),
    (lambda p, gh: p["enforce_admins"].update(enabled=False), f"{RECORD}: enforce for administrators"),
    (lambda p, gh: p["allow_force_pushes"].update(enabled=True), f"{RECORD}: allow force pushes"),
    (lambda p, gh: p["allow_deletions"].update(enabled=True), f"{RECORD}: allow deletions"),
])
def test_check_flags_an_admin_loosening_the_record_protection(repo, fake, capsys, loosen, setting):
    assert repo.run("setup-repo", capsys=capsys).code == 0
    loosen(fake.protection[RECORD], fake)
    result = repo.run("setup-repo", "--check", "--format", "json", capsys=capsys)
    assert result.code == 1
    assert [d["setting"] for d in json.loads(result.out)["drift"]] == [setting]

    assert repo.run("setup-repo", capsys=capsys).code == 0  # and the next setup-repo closes it again
    assert repo.run("setup-repo", "--check").code == 0
    assert not fake.may_push(RECORD, _other_workflows_token(fake))


def test_check_flags_a_deleted_record_protection(repo, fake, capsys):
    assert repo.run("setup-repo", capsys=capsys).code == 0
    del fake.protection[RECORD]
    result = repo.run("setup-repo", "--check", "--format", "json", capsys=capsys)
    assert result.code == 1
    assert json.loads(result.out)["drift"] == [{"setting": f"{RECORD} protection",
                                                "want": f"only app {APP_SLUG} pushes", "have": "none"}]


@pytest.mark.parametrize("name", WRITERS)
def test_no_step_pushes_the_record_with_the_workflow_token(name):
    """Every step that can push accessctl-record gives git the App's token,
    minted in the same job with contents: write only, and the job's own
    workflow token cannot push (contents: read)."""
    doc = yaml.safe_load((PROJECT / ".github/workflows" / name).read_text())
    pushers = 0
    for job in doc["jobs"].values():
        steps = job.get("steps", [])
        if not any(_pushes(s) for s in steps):
            continue
        assert job["permissions"].get("contents") in ("read", None), f"{name}: the workflow token could push"
        mint = {s["id"]: s for s in steps if "create-github-app-token@" in str(s.get("uses", ""))}
        assert mint["record"]["with"]["permission-contents"] == "write"
        for step in steps:
            if _pushes(step):
                pushers += 1
                env = step.get("env", {})
                assert env.get("GITHUB_TOKEN") == "${{ steps.record.outputs.token }}", step.get("name")
                assert all("github.token" not in str(v) or k != "GITHUB_TOKEN" for k, v in env.items())
    assert pushers >= 2, f"{name}: the writer and its journal push"
