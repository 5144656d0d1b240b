"""Invariant: an exception to a rule needs security and the waiver's owner
team, and whoever the waiver benefits cannot approve it."""
from __future__ import annotations

from approvals_rig import CAROL, green, red, rig, rules_file  # noqa: F401

WAIVER = ("waivers:\n  - rule: expiry-too-long\n    file: " + CAROL +
          "\n    owner: platform\n    expires: \"2027-03-01\"\n    reason: migration freeze\n")


def test_a_waiver_needs_security_and_its_owner_team(rig, capsys):
    rig.push({"policies/data/waivers.yaml": WAIVER}, author="bob-acme")
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs 2 more approvals: one from @acme/platform and one from @acme/security"
    assert "waiver of expiry-too-long for " + CAROL in doc["comment"]
    rig.review("carol-acme")  # platform member, and the waiver's beneficiary
    rig.review("ivan-acme")
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs one more approval from @acme/platform"
    assert [i["user"] for i in rules_file(doc)["ignored"]] == ["carol-acme"]
    rig.review("alice-acme")
    green(rig, capsys)
