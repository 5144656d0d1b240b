"""Contract: the GitHub sandbox answers as GitHub's OpenAPI description says.

conftest.py validates every response the sandbox serves, in every test, against
the response schema of the same operation (tests/contract/github_openapi.py).
These tests show that check can fail, and that the vendored data covers
exactly what the sandbox serves.
"""
from __future__ import annotations

import json

from tests.contract.github_openapi import SUBSET, operations, problems
from tools.sandbox import github as sandbox
from tools.sandbox.github_tokens import requirements


def test_every_served_operation_has_a_schema_and_a_permission_rule():
    served = {op for _, op in sandbox._ROUTES.values()}
    assert served <= set(operations()), served - set(operations())
    assert served <= set(requirements())
    assert set(requirements()) == set(operations())  # one list of operations, two published sources


def test_the_vendored_subset_names_its_source():
    data = json.loads(SUBSET.read_text())
    assert data["source"].startswith("github/rest-api-description")
    perms = json.loads((SUBSET.parent / "github-permissions.json").read_text())
    assert perms["source"] == "https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps"
    assert perms["not_listed"] == [] and all(v.startswith("https://docs.github.com/") for v in perms["overrides"].values())


def test_a_shape_github_would_not_send_is_caught(tmp_path):
    with sandbox.FakeGitHub() as gh:
        n = gh.add_pr("bob-acme", [])
        gh.add_review(n, "ivan-acme", commit_id=None)
        review = gh._review(n, gh.pulls[n].reviews[0])
        op = "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
        assert problems(op, 200, [review]) == []  # commit_id null is documented
        broken = {k: v for k, v in review.items() if k != "user"}
        assert any("'user' is a required property" in p for p in problems(op, 200, [broken]))
        assert any("'APPROVED'" not in p and "state" in p for p in problems(op, 200, [review | {"state": 1}]))
        assert problems(op, 201, []) != []  # an undocumented success status
