"""The GitHub side of the teams tests: the sample org model's teams as GitHub
holds them, served by the fake with the App's token in the environment."""
from __future__ import annotations

import json

import pytest

from tools.sandbox.github import FakeGitHub

# policies/data/teams.yaml's members, by GitHub login (mallory-acme is known to
# GitHub but in no team of the org model)
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


def run_teams(repo, capsys, *args):
    """``accessctl teams ARGS --format json``: (exit code, document)."""
    result = repo.run("teams", *args, "--format", "json", capsys=capsys)
    return result.code, json.loads(result.out)
