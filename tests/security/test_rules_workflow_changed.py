"""Invariant: the pipeline's own code and workflows change only with two
security approvals; a workflow change is never green on its own."""
from __future__ import annotations

from approvals_rig import green, red, rig  # noqa: F401


def test_a_workflow_change_needs_two_security_approvals(rig, capsys):
    rig.push({".github/workflows/extra.yml": "name: extra\non: push\njobs: {}\n"}, author="ivan-acme")
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs two more approvals from @acme/security"
    rig.review("ivan-acme")  # the author is in security: still not his own approval
    rig.review("judy-acme")
    assert red(rig, capsys)["headline"] == "Needs one more approval from @acme/security"


def test_two_independent_security_approvals_turn_it_green(rig, capsys):
    rig.push({"tools/extra.py": "print('hello')\n"}, author="alice-acme")
    rig.review("ivan-acme")
    rig.review("judy-acme")
    green(rig, capsys)


def test_a_code_change_renamed_out_of_a_protected_folder_still_needs_two(rig, capsys, monkeypatch):
    rig.repo.write("tools/extra.py", "print('hello')\n")
    rig.base = rig.repo.commit("already on main")
    monkeypatch.setenv("ACCESSCTL_BASE_SHA", rig.base)
    rig.push({"tools/extra.py": None, "docs/extra.py": "print('hello')\n"}, author="alice-acme")
    rig.review("ivan-acme")
    assert red(rig, capsys)["headline"] == "Needs one more approval from @acme/security"
