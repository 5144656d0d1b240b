"""Invariant: rules come from the protected default branch.

Threat: a PR aimed at a branch the attacker controls (whose policies allow
everything, or whose org model lists the attacker as an owner) would be
judged by that branch's rules, and once merged there, merged onward. The
check refuses any PR whose base is not the default branch, and re-runs when
the base changes (``edited``).
"""
from __future__ import annotations

from tests.security.attacker import rig  # noqa: F401  (the fixture)

import yaml

from tests.conftest import PROJECT
from tests.test_pr_lifecycle import CAROL, carol
from tools.sandbox.github import APP_ID


def test_a_pr_into_a_permissive_branch_is_refused(rig, capsys):  # noqa: F811
    rig.gh.branches["weak"] = {"sha": rig.base, "files": {}}
    rig.push({CAROL: carol("2027-06-01"),  # denied by main's rules …
              "policies/access/lib/allow_all.rego": "package access\n"})  # … and the branch's rules are weaker
    rig.gh.pulls[rig.number].base_ref = "weak"
    rig.review("alice-acme")
    doc = rig.check(capsys)
    assert not doc["allow"] and "targets weak, not main" in doc["headline"]
    assert rig.gh.gate(rig.head) == [f"accessctl/check-pr (from app {APP_ID})"]


def test_changing_the_base_re_runs_the_check():
    doc = yaml.safe_load((PROJECT / ".github/workflows/pr-check.yml").read_text())
    assert "edited" in doc[True]["pull_request_target"]["types"]
