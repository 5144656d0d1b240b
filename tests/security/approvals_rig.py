"""The PR rig the approval attack tests share: a real git repository, the
loopback GitHub fake and `accessctl check-pr` run as the workflow runs it
(see tests/test_pr_lifecycle.py). Each attack pushes a PR as an insider
would, adds the reviews a friendly approver would give, and asserts the
check is not green."""
from __future__ import annotations

import pytest

from tools.sandbox.github import FakeGitHub
from test_pr_lifecycle import ADMIN, CAROL, Rig, carol, request  # noqa: F401  (re-exported for the attacks)


@pytest.fixture
def rig(repo, monkeypatch, tmp_path):
    with FakeGitHub() as gh:
        yield Rig(repo, gh, monkeypatch, tmp_path)


def red(rig, capsys) -> dict:
    """Run the check; assert it did not pass (exit 1, failure status)."""
    doc = rig.check(capsys)
    assert not doc["allow"] and rig.status() == "failure", doc["headline"]
    return doc


def green(rig, capsys) -> dict:
    doc = rig.check(capsys)
    assert doc["allow"] and rig.status() == "success", doc["headline"]
    return doc


def rules_file(doc: dict) -> dict:
    """The approvals row of the PR's rules change."""
    return next(f for f in doc["approvals"]["files"] if f["file"] == "(rules change)")
