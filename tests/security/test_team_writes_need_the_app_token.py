"""Attack: change GitHub team membership with the Actions GITHUB_TOKEN.

Team membership decides nothing in approvals (the org model at the base
commit does), but GitHub teams drive CODEOWNERS review requests and
organisation access, so only the pipeline App (organisation Members: write)
may change them, from main. The workflow token has no ``members`` scope:
GitHub refuses it, and so must the fake."""
from __future__ import annotations

import pytest

from teams_world import github  # noqa: F401 (fixture)




def test_the_workflow_token_cannot_change_teams(repo, github, monkeypatch):
    """GitHub gives the Actions GITHUB_TOKEN no `members` scope, so a team
    write needs the App's token (docs: "Permissions for the GITHUB_TOKEN";
    the memberships endpoints need organisation Members: write)."""
    github.teams["security"].pop("judy-acme")
    token = github.workflow_token(repo.root / ".github/workflows/apply.yml", "apply")
    monkeypatch.delenv("ACCESSCTL_GITHUB_TOKEN")
    # the workflow token cannot even read the team (404), so nothing is planned, nothing written
    result = repo.run_process("teams", "apply", "--system", "github",
                              env={"GITHUB_TOKEN": token, "ACCESSCTL_GITHUB_TOKEN": ""})
    assert result.code == 2 and "cannot read organisation membership" in result.err
    assert "Traceback" not in result.err
    assert "judy-acme" not in github.teams["security"] and github.writes() == []
    # and a write with it is refused outright, as GitHub refuses it
    from github import Auth, Github, GithubException
    gh = Github(base_url=github.url, auth=Auth.Token(token), retry=None)
    with pytest.raises(GithubException) as refused:
        gh.requester.requestJsonAndCheck("PUT", "/orgs/acme/teams/security/memberships/judy-acme",
                                         input={"role": "member"})
    assert refused.value.status == 403 and "judy-acme" not in github.teams["security"]
