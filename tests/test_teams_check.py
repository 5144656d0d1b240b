"""``accessctl teams check``: where GitHub's teams and teams.yaml disagree.

Approvals never read GitHub's teams (the Actions token cannot); this
command only reports, with a token that can read organisation membership.
"""
from __future__ import annotations

import json

import pytest

from tools.review.teams import compare
from tools.sandbox.github import FakeGitHub

TEAMS = {"platform": ["alice-acme", "bob-acme", "carol-acme"], "data": ["dave-acme", "erin-acme", "frank-acme"],
         "payments": ["grace-acme", "heidi-acme", "mallory-acme"], "security": ["ivan-acme", "judy-acme"],
         "sre": ["niaj-acme", "olivia-acme", "bob-acme"]}


@pytest.mark.parametrize("model,github,missing,extra", [
    (["a", "b"], ["A", "b"], (), ()),
    (["a", "b"], ["a"], ("b",), ()),
    (["a"], ["a", "zed"], (), ("zed",)),
])
def test_compare_is_set_arithmetic_ignoring_case(model, github, missing, extra):
    d = compare(model, github, "t", "acme/t")
    assert (d is None) == (not missing and not extra)
    if d:
        assert (d.missing_on_github, d.extra_on_github) == (missing, extra)


@pytest.fixture
def fake(monkeypatch):
    with FakeGitHub() as gh:
        for slug, members in TEAMS.items():
            gh.add_team(slug, members)
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", gh.full_name)
        monkeypatch.setenv("ACCESSCTL_GITHUB_TOKEN", "x")  # the App's token: organisation Members read
        yield gh


def test_agreeing_teams_exit_0(repo, fake, capsys):
    result = repo.run("teams", "check", capsys=capsys)
    assert result.code == 0 and "match the org model (5 teams)" in result.out


def test_each_disagreement_is_named(repo, fake, capsys):
    fake.add_team("security", ["ivan-acme", "zed-acme"])  # judy dropped, zed added outside review
    del fake.teams["data"]
    result = repo.run("teams", "check", "--format", "json", capsys=capsys)
    assert result.code == 1
    got = {t["team"]: t for t in json.loads(result.out)["teams"]}
    assert got["security"]["missing_on_github"] == ["judy-acme"] and got["security"]["extra_on_github"] == ["zed-acme"]
    assert got["data"]["team_missing"] is True and set(got) == {"security", "data"}
    assert fake.writes() == []  # read-only


def test_the_actions_token_is_told_it_cannot_read_teams(repo, fake, monkeypatch):
    token = fake.workflow_token(repo.root / ".github/workflows/pr-check.yml", "check-pr")
    monkeypatch.delenv("ACCESSCTL_GITHUB_TOKEN")
    result = repo.run_process("teams", "check", env={"GITHUB_TOKEN": token, "ACCESSCTL_GITHUB_TOKEN": ""})
    assert result.code == 2 and "cannot read organisation membership" in result.err
    assert "Traceback" not in result.err
