"""Invariant: nobody approves their own way into the security team. A PR
adding its author to `security` in teams.yaml needs two approvals from
other security members (base membership), and the comment says who joins."""
from __future__ import annotations

from approvals_rig import green, red, rig, rules_file  # noqa: F401


def test_author_adding_themselves_to_security_needs_two_other_security_members(rig, capsys):
    teams = rig.repo.read("policies/data/teams.yaml").replace(
        "members: [ivan-acme, judy-acme]", "members: [ivan-acme, judy-acme, carol-acme]")
    rig.push({"policies/data/teams.yaml": teams}, author="carol-acme")
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs two more approvals from @acme/security"
    assert "team security: carol-acme joins" in doc["comment"]

    rig.review("carol-acme")  # the author, who also joins: never counts
    rig.review("alice-acme")  # platform lead: not security
    rig.review("ivan-acme")
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs one more approval from @acme/security"
    row = rules_file(doc)
    assert row["approved_by"] == ["ivan-acme"]
    assert {i["user"] for i in row["ignored"]} == {"carol-acme", "alice-acme"}

    rig.review("judy-acme")
    green(rig, capsys)


def test_a_joiner_who_is_not_the_author_cannot_approve_either(rig, capsys):
    teams = rig.repo.read("policies/data/teams.yaml").replace(
        "members: [ivan-acme, judy-acme]", "members: [ivan-acme, judy-acme, bob-acme]")
    rig.push({"policies/data/teams.yaml": teams}, author="carol-acme")
    rig.review("bob-acme")
    rig.review("ivan-acme")
    doc = red(rig, capsys)
    assert [i["user"] for i in rules_file(doc)["ignored"]] == ["bob-acme"]


def test_joining_another_team_needs_security_and_that_teams_lead(rig, capsys):
    teams = rig.repo.read("policies/data/teams.yaml").replace(
        "members: [dave-acme, erin-acme, frank-acme]", "members: [dave-acme, erin-acme, frank-acme, carol-acme]")
    rig.push({"policies/data/teams.yaml": teams}, author="carol-acme")
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs 2 more approvals: one from a lead of @acme/data and one from @acme/security"
    rig.review("erin-acme")  # a data member, not its lead
    rig.review("ivan-acme")
    assert red(rig, capsys)["headline"] == "Needs one more approval from a lead of @acme/data"
    rig.review("dave-acme")
    green(rig, capsys)
