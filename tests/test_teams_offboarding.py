"""A person set ``active: false``: one merge removes them from every team and ends every grant.

End to end on the loopback sandbox (moto, the GCP fake, the Cloud Identity
Groups fake) plus the GitHub fake: the PR's comment shows both the team
removals and the grants revoked; after the merge, ``apply`` revokes the
grants and ``teams apply`` removes the memberships in all three systems; the
next ``reconcile --teams`` finds no drift of either kind.
"""
from __future__ import annotations

import json

from conftest import git
from jobs_world import push, run_json, world  # noqa: F401 (fixtures)

from tools.sandbox.github import FakeGitHub

TEAMS = {"platform": ["alice-acme", "bob-acme", "carol-acme"], "data": ["dave-acme", "erin-acme", "frank-acme"],
         "payments": ["grace-acme", "heidi-acme", "mallory-acme"], "security": ["ivan-acme", "judy-acme"],
         "sre": ["niaj-acme", "olivia-acme", "bob-acme"]}


def _bob_leaves(repo) -> None:
    text = repo.read("policies/data/people.yaml")
    assert "name: Bob Okafor,      active: true" in text
    repo.write("policies/data/people.yaml", text.replace("name: Bob Okafor,      active: true",
                                                         "name: Bob Okafor,      active: false"))


def test_one_merge_removes_a_leaver_from_every_team_and_every_grant(world, capsys, monkeypatch):  # noqa: F811
    repo, sb = world
    with FakeGitHub() as gh:
        for slug, members in TEAMS.items():
            gh.add_team(slug, members)
        for k, v in {"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.full_name,
                     "ACCESSCTL_GITHUB_TOKEN": "x"}.items():
            monkeypatch.setenv(k, v)
        # main as applied: teams converge first (mallory, inactive all along, leaves payments)
        assert repo.run("teams", "apply").code == 0
        code, before = run_json(repo, capsys, "reconcile", "--teams", "--no-issue")
        assert code == 0 and before["teams"]["changes"] == [] and before["drift"] == []

        # the PR: the comment shows the team removals and the grants, side by side
        git(repo.root, "switch", "-q", "-c", "offboard-bob")
        _bob_leaves(repo)
        repo.commit("bob leaves")
        preview = repo.run_process("check-pr", "--local", "--author", "ivan-acme", "--format", "json")
        comment = json.loads(preview.out)["comment"]
        section = comment.split("#### People and teams this merge changes", 1)[1]
        assert "`bob@acme.example` becomes inactive" in section
        for line in ("| − member | GitHub team `acme/platform` | `bob-acme` |",
                     "| − member | GitHub team `acme/sre` | `bob-acme` |",
                     "| − member | Identity Center group `sre` | `bob@acme.example` |",
                     "| − member | Google Group `platform@acme.example` | `bob@acme.example` |"):
            assert line in section, line
        # people.yaml is org model, so the rules-change impact lists the grants once, above
        assert "6 removed; the grants revoked are under “Effect on existing access”" in section
        effect = comment.split("#### Effect on existing access", 1)[1].split("#### People and teams", 1)[0]
        for grant in ("`developers`", "`ReadOnly`"):
            assert f"| ➖ remove | `user:bob@acme.example` | {grant} | `acme-dev` |" in effect, grant

        # the merge, then the apply workflow's two steps
        git(repo.root, "switch", "-q", "main")
        git(repo.root, "merge", "-q", "--ff-only", "offboard-bob")
        push(repo)
        code, applied = run_json(repo, capsys, "apply")
        revoked = [r for r in applied["results"] if r["action"] == "remove"]
        assert code == 0 and {r["principal"] for r in revoked} == {"user:bob@acme.example"} and len(revoked) == 2
        code, teams = run_json(repo, capsys, "teams", "apply")
        assert code == 0 and teams["failed"] == []
        assert {(c["system"], c["team"]) for c in teams["changes"]} == {
            (s, t) for s in ("github", "identity-center", "google-groups") for t in ("platform", "sre")}
        assert all(c["action"] == "remove" for c in teams["changes"])
        assert "bob-acme" not in gh.teams["platform"] and "bob-acme" not in gh.teams["sre"]
        assert "bob@acme.example" not in sb.groups.members("sre@acme.example")

        code, after = run_json(repo, capsys, "reconcile", "--teams", "--no-issue")
        assert code == 0 and after["drift"] == [] and after["teams"]["changes"] == []

        # the auditor's revocation log shows the whole offboarding: grants and teams
        code, report = run_json(repo, capsys, "audit", "report")
        bob = [r for r in report["revocations"] if r["principal"] == "user:bob@acme.example"]
        grants = {(r["entitlement"], r["cause"], r["job"]) for r in bob if r["kind"] != "team-membership"}
        assert grants == {("developers", "withdrawn by the org model", "apply"),
                          ("ReadOnly", "withdrawn by the org model", "apply")}, bob
        teams = {(r["provider"], r["target"], r["cause"], r["job"], r["outcome"])
                 for r in bob if r["kind"] == "team-membership"}
        assert {(p, t) for p, t, *_ in teams} == {
            (s, t) for s in ("github", "identity-center", "google-groups") for t in ("platform", "sre")}, teams
        assert {(c, j, o) for _, _, c, j, o in teams} == {("team membership", "teams", "revoked")}, teams


def test_reconcile_reports_team_drift_next_to_grant_drift(world, capsys, monkeypatch, tmp_path):  # noqa: F811
    repo, sb = world
    with FakeGitHub() as gh:
        for slug, members in TEAMS.items():
            gh.add_team(slug, members)
        for k, v in {"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.full_name,
                     "ACCESSCTL_GITHUB_TOKEN": "x"}.items():
            monkeypatch.setenv(k, v)
        assert repo.run("teams", "apply").code == 0
        sb.groups.add_group("data@acme.example", ["carol@acme.example"])  # added by hand in Google
        gh.teams["security"].pop("judy-acme")  # removed by hand in GitHub
        iam = sb.aws.client("iam", "111111111111")
        iam.add_user_to_group(GroupName="developers", UserName="heidi@acme.example")  # a console grant
        code, out = run_json(repo, capsys, "reconcile", "--teams", "--no-issue")
        assert code == 1
        assert [(d["kind"], d["principal"]) for d in out["drift"]] == [("extra", "user:heidi@acme.example")]
        assert {(c["action"], c["group"], c["member"]) for c in out["teams"]["changes"]} == {
            ("remove", "data@acme.example", "carol@acme.example"), ("add", "acme/security", "judy-acme")}
        shard = tmp_path / "reconcile-1.json"
        shard.write_text(json.dumps(out))
        token = gh.workflow_token(repo.root / ".github/workflows/reconcile.yml", "drift-issue")
        monkeypatch.setenv("GITHUB_TOKEN", token)
        monkeypatch.delenv("ACCESSCTL_GITHUB_TOKEN")
        assert repo.run("reconcile", "--publish", str(shard), capsys=capsys).code == 0
        [issue] = gh.issues.values()
        assert "1 drifted grant(s)" in issue["body"] and "2 team membership(s) drifted" in issue["body"]
        assert "`carol@acme.example`" in issue["body"] and "Google Group `data@acme.example`" in issue["body"]
        # report mode wrote nothing anywhere
        assert "carol@acme.example" in sb.groups.members("data@acme.example") and "judy-acme" not in gh.teams["security"]
