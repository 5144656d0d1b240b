"""Apply's re-verification, below the CLI: the history walk, the policy's
verdict on a rules change and a removal, and the held list. GitHub is an in-memory PullSource here
(our own interface); the end-to-end attacks are in tests/security/."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from tests.conftest import git
from tools.core.errors import FindingError
from tools.core.orgmodel import load as load_org
from tools.core.repo import Tree
from tools.core.pr_context import changed_files
from tools.provision import durable, unapproved
from tools.provision.verify import (MergedPull, PullFile, PullReview, Verifier, blob, request_decider,
                                    rules_decider)

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


CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"
WAIVER = ("waivers:\n  - rule: expiry-too-long\n    file: " + CAROL +
          "\n    owner: platform\n    expires: \"2027-03-01\"\n    reason: migration freeze\n")
SOD = "policies/access/rules/sod/sod.rego"
TEAMS = "policies/data/teams.yaml"
JOIN_SECURITY = ("members: [ivan-acme, judy-acme]", "members: [ivan-acme, judy-acme, bob-acme]")
JOIN_DATA = ("members: [dave-acme, erin-acme, frank-acme]", "members: [dave-acme, erin-acme, frank-acme, bob-acme]")


def merged(root, before, commit, approvers, author="carol-acme"):
    """The PR that brought ``commit`` (squash-merged: its head is the commit)."""
    files = tuple(PullFile(f.path, f.status, blob(root, commit, f.path), f.previous_path)
                  for f in changed_files(root, before, commit))
    return MergedPull(1, author, commit, "main", NOW, files, tuple(PullReview(a, "APPROVED", commit) for a in approvers))


@pytest.mark.parametrize("path, edit, approvers, ok", [
    (SOD, None, ["ivan-acme"], False),  # the Rego: two of security
    (SOD, None, ["ivan-acme", "judy-acme"], True),
    ("policies/data/tiers.yaml", None, ["judy-acme"], False),
    ("policies/data/catalog.yaml", None, ["judy-acme"], True),  # the rest of the org model: one
    ("policies/data/catalog.yaml", None, ["carol-acme", "alice-acme"], False),  # author and non-security
    (TEAMS, JOIN_SECURITY, ["ivan-acme", "bob-acme"], False),  # whom the change adds cannot approve it
    (TEAMS, JOIN_SECURITY, ["ivan-acme", "judy-acme"], True),
    (TEAMS, JOIN_DATA, ["ivan-acme"], False),  # another team: security and a lead of that team
    (TEAMS, JOIN_DATA, ["ivan-acme", "dave-acme"], True),
    ("policies/data/waivers.yaml", WAIVER, ["ivan-acme"], False),  # a waiver: its owner team too
    ("policies/data/waivers.yaml", WAIVER, ["ivan-acme", "carol-acme"], False),  # the beneficiary cannot
    ("policies/data/waivers.yaml", WAIVER, ["ivan-acme", "alice-acme"], True),
])
def test_a_rules_change_is_judged_by_the_rule_changes_policy(repo, path, edit, approvers, ok):
    """Apply asks access.rules.rule_changes of the last approved rules, as check-pr does."""
    before = repo.commit("start")
    if edit is None:
        repo.write(path, repo.read(path) + "\n# reworded\n")
    elif isinstance(edit, str):
        repo.write(path, edit)
    else:
        repo.write(path, repo.read(path).replace(*edit))
    after = repo.commit("change")
    org = load_org(Tree(repo.root, before))
    decide = rules_decider(repo.root, org, before, NOW, {})
    allowed, why = decide(merged(repo.root, before, after, approvers, author="carol-acme"), after, path)
    assert allowed == ok, why
    if not ok:
        assert why, "a refusal says what is missing"


def test_a_removal_is_judged_by_the_removals_policy(repo):
    """Deleting carol's grant needs platform (its target's owners); carol may delete her own."""
    before = repo.commit("start")
    (repo.root / CAROL).unlink()
    after = repo.commit("remove")
    org = load_org(Tree(repo.root, before))
    decide = request_decider(repo.root, org, before, NOW, {})
    assert decide(merged(repo.root, before, after, [], author="carol-acme"), after, CAROL) == (True, "")
    allowed, why = decide(merged(repo.root, before, after, ["ivan-acme"], author="bob-acme"), after, CAROL)
    assert not allowed and "team platform" in why
    assert decide(merged(repo.root, before, after, ["alice-acme"], author="bob-acme"), after, CAROL)[0]


def test_held_list_round_trips_and_a_damaged_one_is_refused(repo):
    head = git(repo.root, "rev-parse", "HEAD").strip()  # the list names commits load makes sure it has
    state = unapproved.TrustState(head, [], {PATH: unapproved.HeldFile(PATH, head, "b" * 40, "a direct push")})
    unapproved.save(repo.root, state)
    assert unapproved.load(repo.root) == state
    unknown = unapproved.TrustState("c" * 40, [], {})
    unapproved.save(repo.root, unknown)
    with pytest.raises(FindingError, match="not in this checkout and could not be fetched"):
        unapproved.load(repo.root)
    assert not (repo.root / ".accessctl/held.json").exists(), "kept on the record branch, not in the checkout"
    assert durable.put(repo.root, durable.HELD_FILE, "{not json", "damage") is None
    with pytest.raises(FindingError, match="held-changes list is damaged"):
        unapproved.load(repo.root)
