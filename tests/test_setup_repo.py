"""``accessctl setup-repo``: branch protection configured once, drift named.

Driven through the CLI against the loopback GitHub fake, so what is tested
is what an admin would see and what GitHub would store.
"""
from __future__ import annotations

import json

import pytest

from tools.commands.setup_repo import CHECK, desired_document, drift
from tools.sandbox.github import FakeGitHub


@pytest.fixture
def fake(monkeypatch):
    with FakeGitHub(org="acme", repo="access") as gh:
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_TOKEN", "admin-token")
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/access")
        yield gh


def test_configures_everything_then_second_run_writes_nothing(repo, fake, capsys):
    first = repo.run("setup-repo", capsys=capsys)
    assert first.code == 0 and "configured branch protection on acme/access@main" in first.out
    p = fake.protection["main"]
    assert p["required_status_checks"]["contexts"] == [CHECK] and p["required_status_checks"]["strict"]
    reviews = p["required_pull_request_reviews"]
    assert reviews["require_code_owner_reviews"] and reviews["dismiss_stale_reviews"]
    assert reviews["require_last_push_approval"] and reviews["required_approving_review_count"] == 1
    assert p["enforce_admins"]["enabled"] and not p["allow_force_pushes"]["enabled"]
    assert not p["allow_deletions"]["enabled"]
    assert fake.count("PUT", "/protection") == 1

    writes = len(fake.writes())
    second = repo.run("setup-repo", capsys=capsys)
    assert second.code == 0 and "as the pipeline needs" in second.out
    assert len(fake.writes()) == writes
    assert repo.run("setup-repo", "--check").code == 0


def test_check_names_each_drifted_setting_and_changes_nothing(repo, fake, capsys):
    assert repo.run("setup-repo", capsys=capsys).code == 0
    p = fake.protection["main"]
    p["enforce_admins"]["enabled"] = False
    p["required_pull_request_reviews"]["require_last_push_approval"] = False
    p["required_pull_request_reviews"]["bypass_pull_request_allowances"] = {
        "users": [{"login": "mallory-acme"}], "teams": [], "apps": []}
    p["required_status_checks"]["contexts"] = ["ci/lint"]
    p["required_status_checks"]["checks"] = [{"context": "ci/lint", "app_id": 15368}]
    writes = len(fake.writes())

    result = repo.run("setup-repo", "--check", "--format", "json", capsys=capsys)
    assert result.code == 1
    settings = {d["setting"]: d["have"] for d in json.loads(result.out)["drift"]}
    assert settings == {"required status check": "ci/lint", "require approval of the most recent push": False,
                        "bypass of required reviews": "mallory-acme", "enforce for administrators": False}
    assert len(fake.writes()) == writes

    assert repo.run("setup-repo").code == 0
    fixed = fake.protection["main"]
    assert fixed["required_status_checks"]["checks"] == [{"context": CHECK, "app_id": None},
                                                        {"context": "ci/lint", "app_id": 15368}]
    assert "bypass_pull_request_allowances" not in fixed["required_pull_request_reviews"]
    assert repo.run("setup-repo", "--check").code == 0


def test_unprotected_branch_is_drift(repo, fake, capsys):
    result = repo.run("setup-repo", "--check", capsys=capsys)
    assert result.code == 1 and "branch protection: want enabled, have none" in result.out
    assert fake.protection == {}


def test_unrelated_settings_are_kept():
    doc = {"required_linear_history": {"enabled": True}, "lock_branch": {"enabled": False},
           "required_pull_request_reviews": {"required_approving_review_count": 2},
           "restrictions": {"users": [{"login": "release-bot"}], "teams": [{"slug": "sre"}], "apps": []}}
    body = desired_document(doc)
    assert body["required_linear_history"] is True and body["lock_branch"] is False
    assert body["required_pull_request_reviews"]["required_approving_review_count"] == 2
    assert body["restrictions"] == {"users": ["release-bot"], "teams": ["sre"], "apps": []}
    assert {d.setting for d in drift(doc)} >= {"required status check", "enforce for administrators"}


def test_missing_repository_or_token_is_a_usage_error(repo, monkeypatch):
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    result = repo.run_process("setup-repo", env={"GITHUB_TOKEN": "x"})
    assert result.code == 2 and "--github-repo" in result.err and "Traceback" not in result.err
    result = repo.run_process("setup-repo", "--github-repo", "acme/access",
                              env={"GITHUB_TOKEN": "", "GITHUB_API_URL": "http://127.0.0.1:9"})
    assert result.code == 2 and "GITHUB_TOKEN" in result.err


def test_unknown_repository_is_a_one_line_error(repo, fake):
    result = repo.run_process("setup-repo", "--github-repo", "acme/nope",
                              env={"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": "x"})
    assert result.code == 2 and "404" in result.err and "Traceback" not in result.err
