"""Invariant: a `keep` in an access review extends access only when someone
who may attest it did. A review file that reached main past the gate (a
direct push, or an admin merge of a review approved only by the person who
holds the access) restarts no review period: the overdue grant still leaves,
through apply itself, whatever the check said."""
from __future__ import annotations

import json

from conftest import git
from test_access_reviews import CAROL, live, world  # noqa: F401

from tools.provision import record as records

POWERUSER = ("user:carol@acme.example", "aws-sso-assignment", "PowerUser")
REVIEW = "reviews/2026-11-22/platform.yaml"


def carol_keeps() -> str:
    return "\n".join(["kind: AccessReview", "team: platform", "grants:", f"  - request: {CAROL}",
                      "    principal: user:carol@acme.example", "    kind: aws-sso-assignment",
                      "    entitlement: PowerUser", '    target: "222222222222"', "    decision: keep", ""])


def apply_since(repo, capsys, before):
    capsys.readouterr()
    res = repo.run("apply", "--since", before, "--format", "json", capsys=capsys)
    return res.code, json.loads(res.out)


def test_a_keep_pushed_to_main_without_a_pr_saves_nothing(world, capsys):
    repo, sb, gh = world
    assert POWERUSER in live(repo)  # applied while overdue reviews were only reported
    before = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(REVIEW, carol_keeps())
    repo.commit("keep carol's access")  # straight to main: no PR, nobody approved
    code, doc = apply_since(repo, capsys, before)
    assert POWERUSER not in live(repo)
    # held by apply's re-verification (the review policy): no attestation recorded
    assert [v["file"] for v in doc["verification"]["files"] if not v["approved"]] == [REVIEW]
    assert not [r for r in records.read_all(repo.root) if r.action == "reviewed"]


def test_a_review_approved_only_by_the_holder_saves_nothing(world, capsys):
    repo, sb, gh = world
    before = git(repo.root, "rev-parse", "HEAD").strip()
    number = gh.add_pr("accessctl[bot]", [(REVIEW, "added")], title="Access review: team platform",
                       contents={REVIEW: carol_keeps()})
    gh.add_review(number, "carol-acme")  # a platform member, approving her own access
    repo.write(REVIEW, carol_keeps())
    merge = repo.commit(f"Access review: team platform (#{number})")
    gh.merge(number, merge)  # an admin merges past the red check
    code, doc = apply_since(repo, capsys, before)
    assert POWERUSER not in live(repo)
    [verdict] = [v for v in doc["verification"]["files"] if not v["approved"]]
    assert verdict["file"] == REVIEW and "without the approvals the rules require" in verdict["why"]
    assert not [r for r in records.read_all(repo.root) if r.action == "reviewed"]
