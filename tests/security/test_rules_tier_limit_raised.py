"""Invariant: the tiers (how long access lasts, how many approve) change
only with two security approvals on the head commit."""
from __future__ import annotations

from approvals_rig import green, red, rig  # noqa: F401


def test_raising_a_tier_limit_needs_two_security_approvals(rig, capsys):
    tiers = rig.repo.read("policies/data/tiers.yaml").replace("max_hours: 12\n", "max_hours: 2160\n")
    rig.push({"policies/data/tiers.yaml": tiers}, author="niaj-acme")
    assert red(rig, capsys)["headline"] == "Needs two more approvals from @acme/security"
    rig.review("niaj-acme")
    rig.review("olivia-acme")  # a friendly teammate, not security
    rig.review("ivan-acme")
    assert red(rig, capsys)["headline"] == "Needs one more approval from @acme/security"
    rig.review("judy-acme")
    green(rig, capsys)


def test_lowering_the_bar_in_the_thresholds_file_is_itself_a_two_approval_change(rig, capsys):
    text = rig.repo.read("policies/data/rule_changes.yaml").replace("security: 2", "security: 0")
    rig.push({"policies/data/rule_changes.yaml": text}, author="niaj-acme")
    rig.review("ivan-acme")
    assert red(rig, capsys)["headline"] == "Needs one more approval from @acme/security"
