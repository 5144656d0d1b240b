"""Attack: a merge that empties every team (a bad edit, a broken generator).

``teams apply`` counts its removals against every membership it read and
refuses them past the same blast-radius limits as grant revocations; the
additions go ahead, the removals are held and reported, nobody is removed."""
from __future__ import annotations

import json

import pytest

from tools.sandbox.github import FakeGitHub

TEAMS = {"platform": ["alice-acme", "bob-acme", "carol-acme"], "data": ["dave-acme", "erin-acme", "frank-acme"],
         "payments": ["grace-acme", "heidi-acme"], "security": ["ivan-acme", "judy-acme"],
         "sre": ["niaj-acme", "olivia-acme", "bob-acme"]}


@pytest.fixture
def github(monkeypatch):
    with FakeGitHub() as gh:
        for slug, members in TEAMS.items():
            gh.add_team(slug, members)
        gh.add_user("mallory-acme")
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", gh.full_name)
        monkeypatch.setenv("ACCESSCTL_GITHUB_TOKEN", "x")  # the App's token: organisation Members write
        yield gh


def _run_json(repo, capsys, *args):
    result = repo.run("teams", *args, "--format", "json", capsys=capsys)
    return result.code, json.loads(result.out)


def test_a_mass_removal_is_refused_by_the_guard(repo, github, capsys):
    text = repo.read("policies/data/teams.yaml")
    for members in TEAMS.values():
        text = text.replace(f"members: [{', '.join(members)}", "members: [alice-acme")
    repo.write("policies/data/teams.yaml", text.replace("mallory-acme", "alice-acme"))
    repo.commit("a bad merge empties every team")
    code, out = _run_json(repo, capsys, "apply", "--system", "github")
    assert code == 1 and out["guard"]["verdict"] == "refused"
    assert [c.method for c in github.writes()] == ["PUT"] * len([c for c in out["changes"]])
    assert all(c["action"] == "add" for c in out["changes"]) and len(out["held"]) >= 8
    assert "bob-acme" in github.teams["sre"]  # nothing removed
