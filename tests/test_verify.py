"""Apply's re-verification, below the CLI: the history walk, who must approve
a rules change, and the held list. GitHub is an in-memory PullSource here
(our own interface); the end-to-end attacks are in tests/security/."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from tools.core.errors import FindingError
from tools.core.orgmodel import load as load_org
from tools.core.repo import Tree
from tools.provision import durable, held, rules_approval
from tools.provision.verify import MergedPull, PullFile, PullReview, Verifier, blob

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
PATH = "requests/aws/acme-dev/x.yaml"


@dataclass
class Pulls:
    default_branch: str = "main"
    by_commit: dict[str, list[MergedPull]] = field(default_factory=dict)

    def pulls_for_commit(self, sha):
        return self.by_commit.get(sha, [])


def pr(number, root, commit, path=PATH, approvers=("alice-acme",), author="bob-acme", base="main"):
    head = f"{number:040x}"
    b = blob(root, commit, path)
    files = (PullFile(path, "removed" if b is None else "modified", b),)
    return MergedPull(number, author, head, base, NOW, files,
                      tuple(PullReview(a, "APPROVED", head) for a in approvers))


def ok_if_approved(p, commit, path):
    return (bool(p.reviews), "no approval")


def test_newest_change_approved(repo):
    lo = repo.commit("start")
    repo.write(PATH, "a\n")
    c1 = repo.commit("pr 1")
    pulls = Pulls(by_commit={c1: [pr(1, repo.root, c1)]})
    v = Verifier(repo.root, pulls).verify(PATH, lo, c1, lo, ok_if_approved)
    assert v.approved and v.pr == 1


def test_push_after_an_approved_pr_is_held_at_the_prs_content(repo):
    lo = repo.commit("start")
    repo.write(PATH, "a\n")
    c1 = repo.commit("pr 1")
    repo.write(PATH, "b\n")
    c2 = repo.commit("push")
    v = Verifier(repo.root, Pulls(by_commit={c1: [pr(1, repo.root, c1)]})).verify(PATH, lo, c2, lo, ok_if_approved)
    assert not v.approved and v.commit == c2 and v.approved_commit == c1 and "direct push" in v.why


def test_a_push_that_restores_the_approved_content_is_no_change(repo):
    lo = repo.commit("start")
    repo.write(PATH, "a\n")
    c1 = repo.commit("pr 1")
    repo.write(PATH, "b\n")
    repo.commit("push")
    repo.write(PATH, "a\n")
    c3 = repo.commit("push back")
    v = Verifier(repo.root, Pulls(by_commit={c1: [pr(1, repo.root, c1)]})).verify(PATH, lo, c3, lo, ok_if_approved)
    assert v.approved


def test_an_older_approval_does_not_outlive_a_newer_approved_change(repo):
    """PR 1 grants, PR 2 (approved) removes, a push restores PR 1's content: held."""
    lo = repo.commit("start")
    repo.write(PATH, "a\n")
    c1 = repo.commit("pr 1")
    (repo.root / PATH).unlink()
    c2 = repo.commit("pr 2")
    repo.write(PATH, "a\n")
    c3 = repo.commit("push")
    pulls = Pulls(by_commit={c1: [pr(1, repo.root, c1)], c2: [pr(2, repo.root, c2)]})
    v = Verifier(repo.root, pulls).verify(PATH, lo, c3, lo, ok_if_approved)
    assert not v.approved and v.approved_commit == c2


def test_a_pr_merged_into_another_branch_does_not_count(repo):
    lo = repo.commit("start")
    repo.write(PATH, "a\n")
    c1 = repo.commit("merge")
    pulls = Pulls(by_commit={c1: [pr(1, repo.root, c1, base="release")]})
    v = Verifier(repo.root, pulls).verify(PATH, lo, c1, lo, ok_if_approved)
    assert not v.approved


@pytest.mark.parametrize("paths, change, expected", [
    (["policies/access/rules/sod/sod.rego"], None, [("security", 2, False)]),
    (["policies/data/tiers.yaml"], None, [("security", 2, False)]),
    (["policies/data/catalog.yaml"], None, [("security", 1, False)]),
    (["policies/data/teams.yaml"], ("members: [ivan-acme, judy-acme]", "members: [ivan-acme, judy-acme, bob-acme]"),
     [("security", 2, False)]),
    (["policies/data/teams.yaml"], ("members: [dave-acme, erin-acme, frank-acme]",
                                    "members: [dave-acme, erin-acme, frank-acme, bob-acme]"),
     [("data", 1, True), ("security", 1, False)]),
])
def test_who_must_approve_a_rules_change(repo, paths, change, expected):
    before = repo.commit("start")
    if change:
        repo.write(paths[0], repo.read(paths[0]).replace(*change))
    after = repo.commit("change")
    org = load_org(Tree(repo.root))
    needs, added = rules_approval.needs_for(repo.root, paths, before, after, org)
    assert [(n.team, n.count, n.leads_only) for n in needs] == expected
    assert added == ({"bob-acme"} if change else set())


def test_someone_a_teams_change_adds_cannot_approve_it(repo):
    before = repo.commit("start")
    repo.write("policies/data/teams.yaml", repo.read("policies/data/teams.yaml").replace(
        "members: [ivan-acme, judy-acme]", "members: [ivan-acme, judy-acme, bob-acme]"))
    after = repo.commit("bob joins security")
    org = load_org(Tree(repo.root, before))
    change = MergedPull(1, "carol-acme", "f" * 40, "main", NOW,
                        (PullFile("policies/data/teams.yaml", "modified", None),),
                        (PullReview("ivan-acme", "APPROVED", "f" * 40), PullReview("bob-acme", "APPROVED", "f" * 40)))
    ok, why = rules_approval.rules_pr_allowed(repo.root, change, before, after, org)
    assert not ok and "2 approval(s) from member(s) of security" in why
    with_judy = MergedPull(**{**change.__dict__, "reviews": change.reviews + (PullReview("judy-acme", "APPROVED", "f" * 40),)})
    assert rules_approval.rules_pr_allowed(repo.root, with_judy, before, after, org) == (True, "")


def test_held_list_round_trips_and_a_damaged_one_is_refused(repo):
    state = held.TrustState("c" * 40, [], {PATH: held.HeldFile(PATH, "a" * 40, "b" * 40, "a direct push")})
    held.save(repo.root, state)
    assert held.load(repo.root) == state
    assert not (repo.root / ".accessctl/held.json").exists(), "kept on the record branch, not in the checkout"
    assert durable.put(repo.root, durable.HELD_FILE, "{not json", "damage") is None
    with pytest.raises(FindingError, match="held-changes list is damaged"):
        held.load(repo.root)
