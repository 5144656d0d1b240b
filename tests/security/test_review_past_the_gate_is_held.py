"""Invariant: an access review acts only when the review policy approved it.

Apply re-verifies every change on main since its starting point; a review
file (``reviews/``) is judged by the review policy
(``access.rules.access_reviews``), as check-pr judges a review PR. The
attacker pushes a review file past the gate (a direct push, or an admin
merge of a review that nobody who may attest approved): marking another
team's grants ``revoke`` removes nothing, a ``keep`` restarts nothing, the
file is held and reported like any other unapproved change, and the next
run (and reconcile) keeps honouring the hold."""
from __future__ import annotations

import json

from conftest import git
from test_access_reviews import CAROL, SRE, live, world  # noqa: F401 (fixtures)

from tools.provision import unapproved
from tools.provision import record as records

SRE_READONLY = ("group:sre", "aws-sso-assignment", "ReadOnly")
CAROL_POWERUSER = ("user:carol@acme.example", "aws-sso-assignment", "PowerUser")
REVIEW = "reviews/2026-11-22/platform.yaml"


def review(team: str, request: str, principal: str, entitlement: str, account: str, decision: str) -> str:
    return "\n".join(["kind: AccessReview", f"team: {team}", "grants:", f"  - request: {request}",
                      f"    principal: {principal}", "    kind: aws-sso-assignment",
                      f"    entitlement: {entitlement}", f'    target: "{account}"', f"    decision: {decision}", ""])


def sre_revoked_by_platform() -> str:
    """Platform's review file marking the sre team's ReadOnly (not platform's to review) revoke."""
    return review("platform", SRE, "group:sre", "ReadOnly", "333333333333", "revoke")


def apply_since(repo, capsys, before):
    capsys.readouterr()
    res = repo.run("apply", "--since", before, "--format", "json", capsys=capsys)
    return res.code, json.loads(res.out)


def _verdict(doc, path):
    return next(v for v in doc["verification"]["files"] if v["file"] == path)


def test_a_revoke_of_another_teams_grant_pushed_to_main_removes_nothing(world, capsys):
    repo, sb, gh = world
    assert SRE_READONLY in live(repo)
    before = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(REVIEW, sre_revoked_by_platform())
    repo.commit("Merge pull request #41 from acme/review")  # straight to main: a subject proves nothing
    code, doc = apply_since(repo, capsys, before)
    assert code == 1, doc
    assert SRE_READONLY in live(repo), "an unapproved review revoked access"
    verdict = _verdict(doc, REVIEW)
    assert not verdict["approved"] and "direct push" in verdict["why"]
    assert REVIEW in unapproved.load(repo.root).files
    assert not [r for r in doc["results"] if r["principal"] == "group:sre"]
    # reported: in the apply record as held, and no attestation recorded for it
    lines = list(records.read_all(repo.root))
    assert [(r.action, r.request) for r in lines if r.action == "held"] == [("held", REVIEW)]
    assert not [r for r in lines if r.action in ("reviewed", "review-revoke")]
    # the hold outlives the run: reconcile and a later apply do not act on it either
    code, doc = apply_since(repo, capsys, git(repo.root, "rev-parse", "HEAD").strip())
    assert SRE_READONLY in live(repo)
    capsys.readouterr()
    res = repo.run("reconcile", "--mode", "fix", "--no-issue", "--format", "json", capsys=capsys)
    assert not [d for d in json.loads(res.out)["drift"] if d["principal"] == "group:sre"]
    assert SRE_READONLY in live(repo)
    # and the review job still asks sre to review it: the held revoke decided nothing
    capsys.readouterr()
    res = repo.run("review", "open", "--dry-run", "--format", "json", capsys=capsys)
    assert SRE in [d["request"] for d in json.loads(res.out)["due"]]
    # nor does the audit report count it as revoked by review
    res = repo.run("audit", "report", "--format", "json", capsys=capsys)
    assert not [r for r in json.loads(res.out)["review_coverage"]["revoked"] if r["request"] == SRE]


SRE_REVIEW = "reviews/2026-11-22/sre.yaml"


def _merge_sre_revoke(repo, gh, reviewer: str) -> tuple[str, int]:
    """sre's review revoking its own ReadOnly, approved by ``reviewer`` and
    merged whatever the check said; returns the commit before it and the PR."""
    before = git(repo.root, "rev-parse", "HEAD").strip()
    text = review("sre", SRE, "group:sre", "ReadOnly", "333333333333", "revoke")
    number = gh.add_pr("olivia-acme", [(SRE_REVIEW, "added")], title="Access review: team sre",
                       contents={SRE_REVIEW: text})
    gh.add_review(number, reviewer)
    repo.write(SRE_REVIEW, text)
    gh.merge(number, repo.commit(f"Access review: team sre (#{number})"))
    return before, number


def test_an_admin_merged_revoke_approved_only_by_a_beneficiary_removes_nothing(world, capsys):
    repo, sb, gh = world
    path = SRE_REVIEW
    # an sre member: the whole sre team benefits, only security attests; an admin merges past the red check
    before, number = _merge_sre_revoke(repo, gh, "niaj-acme")
    code, doc = apply_since(repo, capsys, before)
    assert SRE_READONLY in live(repo)
    verdict = _verdict(doc, path)
    assert not verdict["approved"] and verdict["pr"] == number
    assert "without the approvals the rules require" in verdict["why"]
    assert path in unapproved.load(repo.root).files


def test_a_keep_pushed_past_the_gate_is_held_and_saves_nothing(world, capsys):
    repo, sb, gh = world
    before = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(REVIEW, review("platform", CAROL, "user:carol@acme.example", "PowerUser", "222222222222", "keep"))
    repo.commit("keep carol's access")
    code, doc = apply_since(repo, capsys, before)
    assert CAROL_POWERUSER not in live(repo), "the overdue grant still leaves"
    assert not _verdict(doc, REVIEW)["approved"] and REVIEW in unapproved.load(repo.root).files
    assert not [r for r in records.read_all(repo.root) if r.action == "reviewed"]


def test_the_same_review_approved_by_an_attester_is_acted_on(world, capsys):
    """The control: what the policy approves goes through the same path."""
    repo, sb, gh = world
    path = SRE_REVIEW
    before, _ = _merge_sre_revoke(repo, gh, "ivan-acme")  # security attests when the whole owning team benefits
    code, doc = apply_since(repo, capsys, before)
    assert _verdict(doc, path)["approved"], doc["verification"]
    assert SRE_READONLY not in live(repo)
    assert path not in unapproved.load(repo.root).files
