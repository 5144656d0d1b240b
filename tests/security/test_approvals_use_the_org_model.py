"""Invariant: who may approve comes from teams.yaml at the base commit.

Threat: team membership on GitHub changes outside review (an org admin adds
a friend to the owning team), or the Actions token cannot read it at all
(GitHub answers 404, which must never read as "not a member" for the owner
nor "member" for anyone else). Approvals are judged by the org model only;
the membership API is never called.
"""
from __future__ import annotations

from tests.security.attacker import rig  # noqa: F401  (the fixture)

from tests.test_pr_lifecycle import CAROL, carol


def test_a_friend_added_to_the_github_team_cannot_approve(rig, capsys):  # noqa: F811
    rig.gh.add_team("platform", ["alice-acme", "bob-acme", "carol-acme", "mallory-acme"])
    rig.push({CAROL: carol("2026-12-20")})
    rig.review("mallory-acme")
    assert rig.check(capsys)["verdict"] == "needs-approval"
    assert rig.gh.gate(rig.head)
    assert rig.gh.count("GET", "/memberships/") == 0


def test_a_pr_cannot_add_its_author_to_the_owning_team(rig, capsys):  # noqa: F811
    teams = (rig.repo.root / "policies/data/teams.yaml").read_text()
    rig.push({CAROL: carol("2026-12-20"),
              "policies/data/teams.yaml": teams.replace("[alice-acme, bob-acme, carol-acme]",
                                                        "[alice-acme, bob-acme, carol-acme, mallory-acme]")},
             author="carol-acme")
    rig.review("mallory-acme")
    assert rig.check(capsys)["verdict"] != "allowed"  # judged by the base's teams.yaml
