"""Invariant: an access review PR is judged as its own kind of PR. It may
only add a file under reviews/ and delete the request files it revokes;
the owning team's approval of the head commit is the attestation, nobody
attests access they benefit from, and privileged grants also need the
security team. Each attack is what an insider would try through
`accessctl check-pr` with a friendly approval."""
from __future__ import annotations

import os

from approvals_rig import green, red, rig  # noqa: F401

BOB = "requests/aws/acme-dev/bob-developer.yaml"
REVIEW = "reviews/2026-11-22/platform.yaml"
BOB_GRANTS = [("aws-iam-group", "developers"), ("aws-sso-assignment", "ReadOnly")]


def review_text(entries: list[tuple[str, str, str, str, str]], team: str = "platform") -> str:
    """(request, principal, kind, entitlement, decision) per grant, as `review open` writes them."""
    lines = ["kind: AccessReview", f"team: {team}", 'opened: "2026-11-22"', "grants:"]
    for request, principal, kind, entitlement, decision in entries:
        lines += [f"  - request: {request}", f"    principal: {principal}", f"    kind: {kind}",
                  f"    entitlement: {entitlement}", '    target: "111111111111"', f"    decision: {decision}"]
    return "\n".join(lines) + "\n"


def bob(decision: str) -> list[tuple[str, str, str, str, str]]:
    return [(BOB, "user:bob@acme.example", k, e, decision) for k, e in BOB_GRANTS]


def on_main(rig, path: str, text: str) -> None:
    """A file already merged: main (and the PR's base) moves to it."""
    rig.repo.write(path, text)
    rig.base = rig.repo.commit("on main")
    rig.gh.branches["main"]["sha"] = rig.base
    os.environ["ACCESSCTL_BASE_SHA"] = rig.base  # the rig's monkeypatch restores it after the test


def test_owner_keeps_a_grant_by_approving_the_review(rig, capsys):
    rig.push({REVIEW: review_text(bob("keep"))}, author="accessctl[bot]")
    doc = red(rig, capsys)
    assert any(f["file"] == REVIEW and f["status"] == "needs-approval" for f in doc["files"])
    rig.review("alice-acme")
    green(rig, capsys)


def test_the_reviewer_cannot_attest_their_own_access(rig, capsys):
    rig.push({REVIEW: review_text(bob("keep"))}, author="accessctl[bot]")
    rig.review("bob-acme")  # platform member, but the grant is his
    doc = red(rig, capsys)
    assert any("independent member of team platform" in v["message"]
               for f in doc["files"] if f["file"] == REVIEW for v in f["violations"])


def test_a_review_pr_cannot_sneak_in_a_request_file(rig, capsys):
    sneaky = rig.repo.read(BOB).replace("user:bob@acme.example", "user:alice@acme.example") \
        .replace("bob-acme", "alice-acme")
    rig.push({REVIEW: review_text(bob("keep")), "requests/aws/acme-dev/alice-developer.yaml": sneaky},
             author="alice-acme")
    rig.review("carol-acme")  # an owner approves the head commit: both the review and the request look attested
    doc = red(rig, capsys)
    assert any(v["rule"] == "review-pr-scope" for f in doc["files"] for v in f["violations"])


def test_a_review_pr_cannot_delete_a_request_it_keeps(rig, capsys):
    rig.push({REVIEW: review_text(bob("keep")), "requests/aws/acme-staging/carol-poweruser.yaml": None},
             author="accessctl[bot]")
    rig.review("alice-acme")
    doc = red(rig, capsys)
    assert any(v["rule"] == "review-pr-scope" for f in doc["files"] for v in f["violations"])


def test_a_revoke_needs_the_owners_too(rig, capsys):
    rig.push({REVIEW: review_text(bob("revoke"))}, author="accessctl[bot]")
    red(rig, capsys)  # nobody approved: a revoke is an attestation as well
    rig.review("carol-acme")
    green(rig, capsys)


def test_a_review_cannot_attest_another_teams_grant_or_one_not_on_main(rig, capsys):
    sre = ("requests/aws/acme-prod/sre-readonly.yaml", "group:sre", "aws-sso-assignment", "ReadOnly", "keep")
    forged = (BOB, "user:bob@acme.example", "aws-sso-assignment", "AdministratorAccess", "keep")
    rig.push({REVIEW: review_text([*bob("keep"), sre, forged])}, author="accessctl[bot]")
    rig.review("alice-acme")
    doc = red(rig, capsys)
    rules = {v["rule"] for f in doc["files"] for v in f["violations"]}
    assert "review-file-invalid" in rules


def test_a_review_on_main_cannot_be_edited_later(rig, capsys):
    on_main(rig, REVIEW, review_text(bob("revoke")))
    rig.push({REVIEW: review_text(bob("keep"))}, author="bob-acme")
    rig.review("alice-acme")
    doc = red(rig, capsys)
    assert any(v["rule"] == "review-file-invalid" for f in doc["files"] for v in f["violations"])


def test_privileged_grants_need_the_security_team(rig, capsys):
    admin = "requests/aws/acme-prod/erin-admin.yaml"
    on_main(rig, admin, "\n".join([
        "apiVersion: accessctl/v1", "kind: AccessRequest", "principal: user:erin@acme.example",
        "requester: erin-acme", "justification: Incident follow-up in production.", "ticket: OPS-9",
        'expires: "2026-11-23"', "grants:", "  - kind: aws-sso-assignment", "    account: acme-prod",
        "    permission_set: AdministratorAccess", ""]))
    text = review_text([(admin, "user:erin@acme.example", "aws-sso-assignment", "AdministratorAccess", "keep")],
                       team="sre").replace('"111111111111"', '"333333333333"')
    rig.push({"reviews/2026-11-22/sre.yaml": text}, author="accessctl[bot]")
    rig.review("olivia-acme")  # an independent owner (sre) is not enough for privileged access
    doc = red(rig, capsys)
    assert any("also needs an approval" in v["message"] and "team security" in v["message"]
               for f in doc["files"] for v in f["violations"])
    rig.review("ivan-acme")
    green(rig, capsys)
