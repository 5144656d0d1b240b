"""Invariant: apply decides only with rules and an org model that an approved PR brought.

The attacker changes `policies/data/` on main without an approved PR (a
direct push) to re-route a later decision: adds a friend to the owning
team, lengthens a tier, deactivates someone. Apply must keep using the last
approved rules for everything it decides, say so, and exit 1; the same
changes through a PR that security approved take effect.
"""
from __future__ import annotations

from apply_world import apply, world  # noqa: F401 (fixtures)

from tools.provision import unapproved

REQ = "requests/aws/acme-dev/heidi-developer.yaml"
HEIDI = """apiVersion: accessctl/v1
kind: AccessRequest
principal: user:heidi@acme.example
requester: heidi-acme
justification: Debugging the payments integration in the dev account.
expires: "{expires}"
grants:
  - kind: aws-iam-group
    account: acme-dev
    group: developers
"""
TEAMS = "policies/data/teams.yaml"
TIERS = "policies/data/tiers.yaml"
PEOPLE = "policies/data/people.yaml"


def developers(sb):
    iam = sb.aws.client("iam", "111111111111")
    return {u["UserName"] for u in iam.get_group(GroupName="developers")["Users"]}


def merged_pr(repo, gh, changes: dict[str, str], author: str, approvers=()) -> str:
    n = gh.add_pr(author, [(p, "modified" if (repo.root / p).exists() else "added") for p in changes],
                  contents=changes)
    for login in approvers:
        gh.add_review(n, login, "APPROVED")
    for path, text in changes.items():
        repo.write(path, text)
    sha = repo.commit(f"Merge pull request #{n}")
    gh.merge(n, sha)
    return sha


def push(repo, path, old, new) -> str:
    text = repo.read(path)
    assert old in text
    repo.write(path, text.replace(old, new))
    return repo.commit("direct push to main")


def test_unapproved_teams_change_cannot_make_a_friend_an_owner(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    push(repo, TEAMS, "members: [alice-acme, bob-acme, carol-acme]",
         "members: [alice-acme, bob-acme, carol-acme, grace-acme]")
    merged_pr(repo, gh, {REQ: HEIDI.format(expires="2027-01-15")}, "heidi-acme", approvers=("grace-acme",))
    code, doc = apply(repo, capsys, since)
    assert code == 1
    assert "heidi@acme.example" not in developers(sb)
    v = doc["verification"]
    assert [(r["file"], r["approved"]) for r in v["rules"]] == [(TEAMS, False)]
    assert "direct push" in v["rules"][0]["why"]
    assert v["rules_commit"] == since, "every decision used the last approved rules"
    assert not v["files"][0]["approved"] and "platform" in v["files"][0]["why"]
    assert unapproved.load(repo.root).rules_commit == since


def test_while_rules_are_held_requests_approved_under_the_old_rules_still_apply(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    push(repo, TEAMS, "members: [alice-acme, bob-acme, carol-acme]",
         "members: [alice-acme, bob-acme, carol-acme, grace-acme]")
    merged_pr(repo, gh, {REQ: HEIDI.format(expires="2027-01-15")}, "heidi-acme", approvers=("alice-acme",))
    code, doc = apply(repo, capsys, since)
    assert code == 1, "the held rules change is still reported"
    assert "heidi@acme.example" in developers(sb)
    res = repo.run("apply", "--since", since, capsys=capsys)
    assert "rules changed without approval" in res.out


def test_unapproved_tier_limit_is_ignored(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    push(repo, TIERS, "max_hours: 2160        # 90 days", "max_hours: 100000")
    merged_pr(repo, gh, {REQ: HEIDI.format(expires="2029-06-01")}, "heidi-acme", approvers=("alice-acme",))
    code, doc = apply(repo, capsys, since)
    assert code == 1
    assert "heidi@acme.example" not in developers(sb)
    assert [r["file"] for r in doc["verification"]["rules"] if not r["approved"]] == [TIERS]


def test_a_tier_change_approved_by_two_security_members_takes_effect(world, capsys):
    """The control: the same rules change, through a PR security approved twice."""
    repo, sb, gh = world
    since = repo.commit("applied")
    tiers = repo.read(TIERS).replace("max_hours: 2160        # 90 days", "max_hours: 100000")
    merged_pr(repo, gh, {TIERS: tiers}, "bob-acme", approvers=("ivan-acme", "judy-acme"))
    merged_pr(repo, gh, {REQ: HEIDI.format(expires="2029-06-01")}, "heidi-acme", approvers=("alice-acme",))
    code, doc = apply(repo, capsys, since)
    assert code == 0, doc["verification"]
    assert "heidi@acme.example" in developers(sb)
    assert doc["verification"]["rules_commit"] == doc["verification"]["head"]


def test_one_security_approval_is_not_enough_for_a_tier_change(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    tiers = repo.read(TIERS).replace("max_hours: 2160        # 90 days", "max_hours: 100000")
    merged_pr(repo, gh, {TIERS: tiers}, "bob-acme", approvers=("ivan-acme",))
    code, doc = apply(repo, capsys, since)
    assert code == 1
    [rule] = doc["verification"]["rules"]
    assert not rule["approved"] and "needs 2 approval(s)" in rule["why"] and "from team security" in rule["why"]


def test_unapproved_people_change_does_not_revoke_anyone(world, capsys):
    """Desired state and "who is active" also come from the last approved org model."""
    repo, sb, gh = world
    since = repo.commit("applied")
    assert "bob@acme.example" in developers(sb)
    push(repo, PEOPLE, "name: Bob Okafor,      active: true", "name: Bob Okafor,      active: false")
    code, _ = apply(repo, capsys, since)
    assert code == 1
    assert "bob@acme.example" in developers(sb)
    repo.run("reconcile", "--mode", "fix", "--no-issue", "--format", "json", capsys=capsys)
    assert "bob@acme.example" in developers(sb)
