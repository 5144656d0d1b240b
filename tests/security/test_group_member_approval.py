"""Invariant: members of a group principal are beneficiaries and never count
as approvers; when the owning team is the group itself, security approves."""
from __future__ import annotations

from approvals_rig import green, red, request, rig  # noqa: F401

SRE = "requests/aws/acme-prod/sre-readonly.yaml"


def sre_readonly(expires: str) -> str:
    return request("group:sre", "niaj-acme",
                   "  - {kind: aws-sso-assignment, account: acme-prod, permission_set: ReadOnly}\n", expires,
                   extra="ticket: OPS-7\n", justification="On-call engineers need to read production state during incidents.")


def test_group_members_cannot_approve_their_groups_access(rig, capsys):
    rig.push({SRE: sre_readonly("2027-01-15")}, author="niaj-acme")
    rig.review("olivia-acme")  # sre: a member of the group that gets the access
    rig.review("bob-acme")  # sre too (and platform)
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs one more approval from @acme/security"
    row = doc["approvals"]["files"][0]
    assert row["approved_by"] == []
    rig.review("ivan-acme")
    green(rig, capsys)


def test_a_group_member_in_another_owning_team_does_not_count(rig, capsys):
    # group:sre on platform's account: bob is in platform and in sre
    path = "requests/aws/acme-dev/sre-readonly.yaml"
    text = request("group:sre", "niaj-acme",
                   "  - {kind: aws-sso-assignment, account: acme-dev, permission_set: ReadOnly}\n", "2027-01-15",
                   justification="On-call engineers read the dev stack while they debug the release.")
    rig.push({path: text}, author="niaj-acme")
    rig.review("bob-acme")
    assert red(rig, capsys)["headline"] == "Needs one more approval from @acme/platform"
    rig.review("alice-acme")
    green(rig, capsys)
