"""The attacker's rig: one access repository, the GitHub sandbox, and the
protection and environments `setup-repo` configures, as in production."""
from __future__ import annotations

import pytest

from tests.test_pr_lifecycle import Rig
from tools.provision.durable import BRANCH as RECORD
from tools.sandbox.github import APP_ID, APP_SLUG, FakeGitHub


@pytest.fixture
def rig(repo, monkeypatch, tmp_path):
    with FakeGitHub() as gh:
        rig = Rig(repo, gh, monkeypatch, tmp_path)
        admin = gh.admin_token()
        monkeypatch.setenv("GITHUB_TOKEN", admin)
        monkeypatch.setenv("ACCESSCTL_APP_SLUG", APP_SLUG)
        gh.add_branch(RECORD)  # as after the first apply: setup-repo then protects the durable record too
        assert repo.run("setup-repo", "--app-id", str(APP_ID)).code == 0  # protection + environments
        monkeypatch.setenv("GITHUB_TOKEN", "x")
        yield rig
