"""check-pr (before the merge) and apply's re-verification (after it) ask the
same review policy (``access.rules.access_reviews``) about an access review.
If they disagreed, a review the gate passed would be held on main, or a
review the gate refused (merged by an admin) would revoke or keep access.
Compared on many generated review PRs: each team's review of its own grants
or of another team's, keeps and revokes (whole requests and partial ones),
and reviews from owners, security, the beneficiaries and the author, some
on an older commit.

check-pr runs as the workflow runs it, apply-verify through ``verify_range``
(the function apply calls), with the PR as GitHub's commit -> pulls
association would give it."""
from __future__ import annotations

import random

import pytest
from conftest import NOW

from tools.core.expiry import parse_expiry
from tools.core.pr_context import changed_files
from tools.core.repo import Tree, git
from tools.provision import access_reviews as ar
from tools.provision.unapproved import TrustState
from tools.provision.verify import MergedPull, PullFile, blob, verify_range
from tools.request import load as rload
from test_verify_agrees_with_check_pr import Pulls, check_pr, reviews, world  # noqa: F401 (fixture)

CASES = 24
SEEN: dict[int, bool] = {}


def review_file(rng, repo, base, org) -> tuple[str, list[str]]:
    """A review file of a random team listing grants of main (its own, mostly),
    with random decisions; returns its path and who benefits from its entries."""
    tree = Tree(repo.root, base)
    owned: dict[str, list] = {}
    for rf in rload.read_all(tree):
        req = rf.request
        if req is None:
            continue
        target = org.target(req.provider, req.target if isinstance(req, rload.ServiceAccount)
                            else (req.grants[0].target if req.grants else ""))
        owned.setdefault(ar._owning_team(req, org, target), []).append((rf.path, req))
    team = rng.choice(sorted(owned))
    pool = list(owned[team])
    if rng.random() < 0.25:  # another team's grant slipped in
        other = rng.choice([t for t in sorted(owned) if t != team] or [team])
        pool.append(rng.choice(owned[other]))
    picked = rng.sample(pool, rng.randint(1, len(pool)))
    lines = ["kind: AccessReview", f"team: {team}", "grants:"]
    beneficiaries: set[str] = set()
    for path, req in picked:
        whole = rng.choice(["keep", "revoke"])
        beneficiaries |= ar.beneficiaries(req, org)
        for g in ar.grants_of(req, org):
            decision = whole if rng.random() < 0.9 else rng.choice(["keep", "revoke"])
            lines += [f"  - request: {path}", f"    principal: {g.principal}", f"    kind: {g.kind}",
                      f"    entitlement: {g.entitlement}", f'    target: "{g.target}"', f"    decision: {decision}"]
    path = ar.review_path(parse_expiry(NOW).date(), team)
    repo.write(path, "\n".join(lines) + "\n")
    return path, sorted(beneficiaries)


@pytest.mark.parametrize("seed", range(CASES))
def test_check_pr_and_apply_verify_judge_a_review_alike(world, capsys, tmp_path, seed):
    repo, base, org = world
    rng = random.Random(1000 + seed)
    git(repo.root, "checkout", "-q", "--detach", base)
    path, beneficiaries = review_file(rng, repo, base, org)
    head = repo.commit(f"access review {seed}")
    people = sorted(p.github for p in org.people.values())
    author = rng.choice(people)
    files = tuple(PullFile(f.path, f.status, blob(repo.root, head, f.path), f.previous_path)
                  for f in changed_files(repo.root, base, head))
    pull = MergedPull(7, author, head, "main", parse_expiry(NOW), files,
                      reviews(rng, org, author, head, [b for b in beneficiaries if b in people]))

    gate = check_pr(repo, capsys, tmp_path, base, head, pull)
    git(repo.root, "checkout", "-q", "--detach", base)
    v = verify_range(repo.root, base, head, Pulls(by_commit={head: [pull]}), TrustState(), parse_expiry(NOW), {})

    applied = next(f for f in v.files if f.path == path)
    where = (path, repo.read(path) if (repo.root / path).exists() else "", author,
             [(r.user, r.state, r.commit_id == head) for r in pull.reviews])
    assert path in gate, where
    assert applied.approved == gate[path], (where, applied.why)
    SEEN[seed] = applied.approved


def test_the_generated_reviews_cover_both_verdicts():
    if len(SEEN) < CASES:
        pytest.skip("only part of the generated cases ran")
    assert set(SEEN.values()) == {True, False}, SEEN
