"""``accessctl setup-repo``: branch protection and environments configured once, drift named.

Driven through the CLI against the loopback GitHub fake, so what is tested
is what an admin would see and what GitHub would store.
"""
from __future__ import annotations

import json

import pytest

from tools.commands.setup_repo import CHECK, desired_document, drift
from tools.provision.durable import BRANCH as RECORD
from tools.sandbox.github import APP_ID, APP_SLUG, FakeGitHub


@pytest.fixture
def fake(monkeypatch):
    with FakeGitHub(org="acme", repo="access") as gh:
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_TOKEN", gh.admin_token())
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/access")
        monkeypatch.setenv("ACCESSCTL_APP_ID", str(APP_ID))
        monkeypatch.setenv("ACCESSCTL_APP_SLUG", APP_SLUG)
        gh.add_branch(RECORD, {"record.jsonl": "", "held.json": "[]\n"})
        yield gh


def test_configures_everything_then_second_run_writes_nothing(repo, fake, capsys):
    first = repo.run("setup-repo", capsys=capsys)
    assert first.code == 0 and "configured branch protection and environments on acme/access@main" in first.out
    p = fake.protection["main"]
    assert p["required_status_checks"]["contexts"] == [CHECK] and p["required_status_checks"]["strict"]
    assert p["required_status_checks"]["checks"] == [{"context": CHECK, "app_id": APP_ID}]
    for env in ("accessctl-check", "production"):
        assert fake.environments[env]["deployment_branch_policy"] == {"protected_branches": False,
                                                                      "custom_branch_policies": True}
        assert [(x["name"], x["type"]) for x in fake.environments[env]["policies"]] == [("main", "branch")]
        assert fake.may_use_environment(env, "refs/heads/main")
        assert not fake.may_use_environment(env, "refs/pull/1/merge")
    reviews = p["required_pull_request_reviews"]
    assert reviews["require_code_owner_reviews"] and reviews["dismiss_stale_reviews"]
    assert reviews["require_last_push_approval"] and reviews["required_approving_review_count"] == 1
    assert p["enforce_admins"]["enabled"] and not p["allow_force_pushes"]["enabled"]
    assert not p["allow_deletions"]["enabled"]
    record = fake.protection[RECORD]
    assert [a["slug"] for a in record["restrictions"]["apps"]] == [APP_SLUG]
    assert record["restrictions"]["users"] == [] and record["restrictions"]["teams"] == []
    assert record["enforce_admins"]["enabled"] and not record["allow_force_pushes"]["enabled"]
    assert fake.count("PUT", "/protection") == 2

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
        "users": [fake._user("mallory-acme")], "teams": [], "apps": []}
    p["required_status_checks"]["contexts"] = ["ci/lint"]
    p["required_status_checks"]["checks"] = [{"context": "ci/lint", "app_id": 15368}]
    fake.environments["production"]["policies"].append({"id": 1, "name": "release/*", "type": "branch"})
    fake.environments["accessctl-check"]["deployment_branch_policy"] = None
    writes = len(fake.writes())

    result = repo.run("setup-repo", "--check", "--format", "json", capsys=capsys)
    assert result.code == 1
    settings = {d["setting"]: d["have"] for d in json.loads(result.out)["drift"]}
    assert settings == {"required status check": "ci/lint", "require approval of the most recent push": False,
                        "bypass of required reviews": "mallory-acme", "enforce for administrators": False,
                        "environment production: deployment branches": "main, release/*",
                        "environment accessctl-check: deployment branches": "any branch"}
    assert len(fake.writes()) == writes

    assert repo.run("setup-repo").code == 0
    fixed = fake.protection["main"]
    assert fixed["required_status_checks"]["checks"] == [{"context": CHECK, "app_id": APP_ID},
                                                        {"context": "ci/lint", "app_id": 15368}]
    assert "bypass_pull_request_allowances" not in fixed["required_pull_request_reviews"]
    assert [x["name"] for x in fake.environments["production"]["policies"]] == ["main"]
    assert repo.run("setup-repo", "--check").code == 0


def test_check_names_a_required_check_any_app_may_post(repo, fake, capsys):
    """The gate: a required accessctl/check-pr without the App's id could be
    satisfied by any workflow posting a check or status of that name."""
    assert repo.run("setup-repo", capsys=capsys).code == 0
    fake.protection["main"]["required_status_checks"]["checks"] = [{"context": CHECK, "app_id": None}]
    result = repo.run("setup-repo", "--check", "--format", "json", capsys=capsys)
    assert result.code == 1
    assert json.loads(result.out)["drift"] == [{"setting": "app that must provide the required check",
                                                "want": APP_ID, "have": "None"}]
    assert repo.run("setup-repo", capsys=capsys).code == 0
    assert fake.protection["main"]["required_status_checks"]["checks"] == [{"context": CHECK, "app_id": APP_ID}]


def test_without_the_app_id_it_says_where_to_find_it(repo, fake, monkeypatch):
    monkeypatch.delenv("ACCESSCTL_APP_ID")
    result = repo.run_process("setup-repo", "--check")
    assert result.code == 2 and "--app-id" in result.err and "Traceback" not in result.err


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
    result = repo.run_process("setup-repo", env={"GITHUB_TOKEN": "x", "ACCESSCTL_APP_ID": "1"})
    assert result.code == 2 and "--github-repo" in result.err and "Traceback" not in result.err
    result = repo.run_process("setup-repo", "--github-repo", "acme/access",
                              env={"GITHUB_TOKEN": "", "GITHUB_API_URL": "http://127.0.0.1:9", "ACCESSCTL_APP_ID": "1"})
    assert result.code == 2 and "GITHUB_TOKEN" in result.err


def test_unknown_repository_is_a_one_line_error(repo, fake):
    result = repo.run_process("setup-repo", "--github-repo", "acme/nope",
                              env={"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": fake.admin_token()})
    assert result.code == 2 and "404" in result.err and "Traceback" not in result.err


def test_without_the_app_slug_it_says_where_to_find_it(repo, fake, monkeypatch):
    monkeypatch.delenv("ACCESSCTL_APP_SLUG")
    result = repo.run_process("setup-repo", "--check")
    assert result.code == 2 and "--app-slug" in result.err and RECORD in result.err
    assert "Traceback" not in result.err
    assert repo.run_process("setup-repo", "--check", "--app-slug", APP_SLUG).code == 1  # unprotected: drift


def test_a_missing_record_branch_is_reported_and_protected_once_it_exists(repo, fake, capsys):
    """GitHub protects existing branches only; setup-repo does not invent the
    record's first commit: it configures the rest, names the missing branch
    and exits 1 until a writer has created it."""
    del fake.branches[RECORD]
    result = repo.run("setup-repo", capsys=capsys)
    assert result.code == 1 and f"{RECORD} protection: want only app {APP_SLUG} pushes, have branch missing" in result.out
    assert "run setup-repo again" in result.out
    assert "main" in fake.protection and RECORD not in fake.protection
    assert repo.run("setup-repo", "--check").code == 1

    fake.add_branch(RECORD, {"record.jsonl": ""})  # the first apply pushed it
    assert repo.run("setup-repo", capsys=capsys).code == 0
    assert [a["slug"] for a in fake.protection[RECORD]["restrictions"]["apps"]] == [APP_SLUG]
    assert repo.run("setup-repo", "--check").code == 0


def test_push_restrictions_on_a_personal_repository_are_refused(repo, monkeypatch):
    """"User, app, and team restrictions are only available for
    organization-owned repositories" (Update branch protection): GitHub
    refuses, and setup-repo says so in one line."""
    with FakeGitHub(org="alice", repo="access", owner_type="User") as gh:
        gh.add_branch(RECORD)
        result = repo.run_process("setup-repo", env={
            "GITHUB_API_URL": gh.url, "GITHUB_TOKEN": gh.admin_token(), "GITHUB_REPOSITORY": "alice/access",
            "ACCESSCTL_APP_ID": str(APP_ID), "ACCESSCTL_APP_SLUG": APP_SLUG})
    assert result.code == 2 and "organization" in result.err and "Traceback" not in result.err


def test_only_an_installed_app_with_contents_write_can_be_named(repo, fake):
    fake.installed_apps["reader"] = {"contents": "read"}
    for slug in ("not-installed", "reader"):
        result = repo.run_process("setup-repo", "--app-slug", slug)
        assert result.code == 2 and "422" in result.err and "Traceback" not in result.err
        assert RECORD not in fake.protection
