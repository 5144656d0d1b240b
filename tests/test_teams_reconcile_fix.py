"""``accessctl reconcile --mode fix --teams`` fixes team drift, one test per system.

Drift is made by hand in each system (GitHub fake, moto's identitystore, the
Cloud Identity Groups fake); the scheduled reconcile in fix mode repairs it
through the same connectors and blast-radius guard as ``teams apply``,
records every write in the durable record (job ``reconcile``), verifies by
reading again, and a second run finds no team drift."""
from __future__ import annotations

import json

import pytest

from tools.provision import durable
from jobs_world import run_json, world  # noqa: F401 (fixtures)
from teams_world import TEAMS, github  # noqa: F401 (fixture)


def _idc_members(sb, team: str) -> set[str]:
    seeded = sb.seeded
    names = {v: k for k, v in seeded.users.items()}
    ids = sb.aws.client("identitystore")
    return {names[m["MemberId"]["UserId"]] for m in ids.list_group_memberships(
        IdentityStoreId=seeded.identity_store_id, GroupId=seeded.groups[team])["GroupMemberships"]}


def _github_drift(sb, gh):
    gh.teams["security"].pop("judy-acme")
    gh.teams["platform"]["dave-acme"] = "active"
    return {("add", "acme/security", "judy-acme"), ("remove", "acme/platform", "dave-acme")}


def _github_fixed(sb, gh):
    return "judy-acme" in gh.teams["security"] and "dave-acme" not in gh.teams["platform"]


def _idc_drift(sb, gh):
    seeded, ids = sb.seeded, sb.aws.client("identitystore")
    ids.create_group_membership(IdentityStoreId=seeded.identity_store_id, GroupId=seeded.groups["platform"],
                                MemberId={"UserId": seeded.users["erin@acme.example"]})
    judy = ids.get_group_membership_id(IdentityStoreId=seeded.identity_store_id, GroupId=seeded.groups["security"],
                                       MemberId={"UserId": seeded.users["judy@acme.example"]})["MembershipId"]
    ids.delete_group_membership(IdentityStoreId=seeded.identity_store_id, MembershipId=judy)
    return {("remove", "platform", "erin@acme.example"), ("add", "security", "judy@acme.example")}


def _idc_fixed(sb, gh):
    return "erin@acme.example" not in _idc_members(sb, "platform") and "judy@acme.example" in _idc_members(
        sb, "security")


def _groups_drift(sb, gh):
    sb.groups.memberships[sb.groups.groups["sre@acme.example"]].pop("olivia@acme.example")
    sb.groups.add_group("data@acme.example", ["grace@acme.example"])  # the group exists: one member added
    return {("add", "sre@acme.example", "olivia@acme.example"), ("remove", "data@acme.example", "grace@acme.example")}


def _groups_fixed(sb, gh):
    return ("olivia@acme.example" in sb.groups.members("sre@acme.example")
            and "grace@acme.example" not in sb.groups.members("data@acme.example"))


SYSTEMS = {"github": (_github_drift, _github_fixed), "identity-center": (_idc_drift, _idc_fixed),
           "google-groups": (_groups_drift, _groups_fixed)}


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_reconcile_fix_repairs_team_drift(world, github, capsys, system):
    repo, sb = world
    drift, fixed = SYSTEMS[system]
    made = drift(sb, github)
    code, report = run_json(repo, capsys, "reconcile", "--teams", "--no-issue")
    assert code == 1 and not fixed(sb, github)  # report mode writes nothing
    found = {(c["action"], c["group"], c["member"]) for c in report["teams"]["changes"] if c["system"] == system}
    assert made <= found

    code, doc = run_json(repo, capsys, "reconcile", "--mode", "fix", "--teams", "--no-issue")
    assert code == 0, doc
    assert fixed(sb, github), f"{system}: the drift is still there"
    outcomes = {(c["action"], c["group"], c["member"]): c["outcome"] for c in doc["teams"]["changes"]}
    assert all(outcomes[k] == "fixed" for k in made) and doc["teams"]["remaining_after_fix"] == 0
    # every write in the durable record, by the reconcile job
    lines = [json.loads(x) for x in durable.lines(repo.root)]
    recorded = {(o["action"].removeprefix("team-"), o["team"]["group"], o["team"]["member"])
                for o in lines if o["job"] == "reconcile" and o["phase"] == "result" and "team" in o}
    assert made <= recorded
    # the hand-made membership it removed is in the auditor's revocation log, as a drift fix
    code, report = run_json(repo, capsys, "audit", "report")
    logged = [r for r in report["revocations"] if r["kind"] == "team-membership" and r["provider"] == system]
    removals = [o for o in lines if o["job"] == "reconcile" and o["phase"] == "result"
                and o["action"] == "team-remove" and o["team"]["system"] == system]
    assert any(a == "remove" for a, _, _ in made) and len(logged) == len(removals), logged
    assert {(r["cause"], r["job"], r["outcome"]) for r in logged} == {("drift fix", "reconcile", "revoked")}

    code, again = run_json(repo, capsys, "reconcile", "--teams", "--no-issue")
    assert again["teams"]["changes"] == [], "a second run finds no team drift"


def test_reconcile_fix_holds_a_mass_team_removal_like_teams_apply(world, github, capsys):
    repo, sb = world
    text = repo.read("policies/data/teams.yaml")
    for members in TEAMS.values():
        text = text.replace(f"members: [{', '.join(members)}", "members: [alice-acme")
    repo.write("policies/data/teams.yaml", text.replace("mallory-acme", "alice-acme"))
    repo.commit("a bad merge empties every team")
    from jobs_world import push
    push(repo)
    code, doc = run_json(repo, capsys, "reconcile", "--mode", "fix", "--teams", "--no-issue")
    assert code == 1 and doc["teams"]["guard"]["verdict"] == "refused"
    assert all(c["action"] == "add" for c in doc["teams"]["changes"])
    assert "bob-acme" in github.teams["sre"] and "olivia@acme.example" in sb.groups.members("sre@acme.example")
