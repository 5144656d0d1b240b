"""Invariant: apply provisions only what reached main through an approved PR.

The attacker has push rights (or an admin's merge button, or a workflow that
posts a green status) but no independent approval. Each test drives
`accessctl apply --since` (and `reconcile --mode fix`) as the workflows do:
real boto3 against moto, the GitHub connector against the GitHub fake whose
commit -> pulls association says which merged PR brought each commit.
"""
from __future__ import annotations

import json

from apply_world import apply, world  # noqa: F401 (fixtures)
from github import Auth, Github

from tools.provision import unapproved

REQ = "requests/aws/acme-dev/heidi-developer.yaml"
HEIDI = """apiVersion: accessctl/v1
kind: AccessRequest
principal: user:heidi@acme.example
requester: heidi-acme
justification: Debugging the payments integration in the dev account.
expires: "2027-01-15"
grants:
  - kind: aws-iam-group
    account: acme-dev
    group: developers
"""
OTHER = "requests/aws/acme-dev/judy-readonly.yaml"
JUDY = HEIDI.replace("heidi", "judy").replace("developers", "readonly").replace(
    "Debugging the payments integration", "Reviewing the audit trail")


def members(sb, group="developers"):
    iam = sb.aws.client("iam", "111111111111")
    return {u["UserName"] for u in iam.get_group(GroupName=group)["Users"]}


def merged_pr(repo, gh, path, text, author="heidi-acme", approvers=(), status=None) -> tuple[int, str]:
    """A PR bringing ``text`` to ``path``, reviewed by ``approvers`` on its head, merged as one commit."""
    n = gh.add_pr(author, [(path, "added" if not (repo.root / path).exists() else "modified")],
                  contents={path: text})
    for login in approvers:
        gh.add_review(n, login, "APPROVED")
    if status:
        # A green `accessctl/check-pr` status of the same name, posted by a
        # token that can write statuses (a workflow of the PR itself could).
        Github(base_url=gh.url, auth=Auth.Token(gh.admin_token()), retry=None).get_repo(gh.full_name).get_commit(
            gh.pulls[n].head_sha).create_status(state=status, context="accessctl/check-pr",
                                                description="All checks passed")
    repo.write(path, text)
    sha = repo.commit(f"Merge pull request #{n} from acme/request-{n}")
    gh.merge(n, sha)
    return n, sha


def unapproved_issues(gh):
    return [i for i in gh.issues.values() if "accessctl:issue:unapproved-change" in (i.get("body") or "")]


def test_direct_push_adding_a_request_grants_nothing(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    repo.write(REQ, HEIDI)
    pushed = repo.commit("Merge pull request #7 from acme/totally-reviewed")  # a subject proves nothing
    code, doc = apply(repo, capsys, since)
    assert code == 1
    assert "heidi@acme.example" not in members(sb)
    [verdict] = doc["verification"]["files"]
    assert verdict["file"] == REQ and not verdict["approved"] and "direct push" in verdict["why"]
    assert verdict["commit"] == pushed
    [issue] = unapproved_issues(gh)
    assert issue["state"] == "open" and REQ in issue["body"]
    assert REQ in unapproved.load(repo.root).files
    record = [json.loads(x) for x in (repo.root / ".accessctl/apply-record.jsonl").read_text().splitlines()]
    assert [(r["action"], r["request"]) for r in record if r["action"] == "held"] == [("held", REQ)]


def test_admin_merge_without_approval_grants_nothing(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    n, _ = merged_pr(repo, gh, REQ, HEIDI, approvers=())
    code, doc = apply(repo, capsys, since)
    assert code == 1
    assert "heidi@acme.example" not in members(sb)
    [verdict] = doc["verification"]["files"]
    assert verdict["pr"] == n and "without the approvals" in verdict["why"]


def test_a_self_approval_or_an_approval_of_an_older_commit_does_not_count(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    n = gh.add_pr("heidi-acme", [(REQ, "added")], contents={REQ: HEIDI})
    gh.add_review(n, "heidi-acme", "APPROVED")
    gh.add_review(n, "alice-acme", "APPROVED", commit_id=gh.new_sha())  # an earlier push, not the head
    repo.write(REQ, HEIDI)
    gh.merge(n, repo.commit("squash"))
    code, _ = apply(repo, capsys, since)
    assert code == 1 and "heidi@acme.example" not in members(sb)


def test_a_forged_green_status_does_not_help(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    merged_pr(repo, gh, REQ, HEIDI, approvers=(), status="success")
    code, doc = apply(repo, capsys, since)
    assert code == 1
    assert "heidi@acme.example" not in members(sb)
    assert not doc["verification"]["files"][0]["approved"]


def test_content_on_main_must_be_what_the_pr_approved(world, capsys):
    """An approved PR, but main carries other content for its file (edited in the merge)."""
    repo, sb, gh = world
    since = repo.commit("applied")
    n = gh.add_pr("heidi-acme", [(REQ, "added")], contents={REQ: HEIDI.replace("developers", "readonly")})
    gh.add_review(n, "alice-acme", "APPROVED")
    repo.write(REQ, HEIDI)
    gh.merge(n, repo.commit("merge with an edit"))
    code, doc = apply(repo, capsys, since)
    assert code == 1 and "heidi@acme.example" not in members(sb)
    assert "differs from what PR" in doc["verification"]["files"][0]["why"]


def test_an_approved_pr_is_applied(world, capsys):
    """The control: the same request, approved by its owners on the head commit, is granted."""
    repo, sb, gh = world
    since = repo.commit("applied")
    n, _ = merged_pr(repo, gh, REQ, HEIDI, approvers=("alice-acme",))
    code, doc = apply(repo, capsys, since)
    assert code == 0, doc["verification"]
    assert "heidi@acme.example" in members(sb)
    assert doc["verification"]["files"][0] | {"why": ""} == {
        "file": REQ, "approved": True, "why": "", "commit": doc["verification"]["files"][0]["commit"],
        "pr": n, "approved_commit": None}
    assert unapproved_issues(gh) == []


def test_marker_advances_past_the_unapproved_commit_and_a_later_pr_releases_it(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    repo.write(REQ, HEIDI)
    pushed = repo.commit("direct push")
    assert apply(repo, capsys, since)[0] == 1
    # The next merge, of another file, applies from the pushed commit on: it is not blocked,
    # and the held file stays held (not re-judged as if its push were approved).
    _, merged = merged_pr(repo, gh, OTHER, JUDY, author="judy-acme", approvers=("alice-acme",))
    code, doc = apply(repo, capsys, pushed)
    assert code == 0, doc["verification"]
    assert "judy@acme.example" in members(sb, "readonly")
    assert "heidi@acme.example" not in members(sb)
    assert [h["path"] for h in doc["verification"]["held"]] == [REQ]
    # reconcile --mode fix does not restore what apply held either
    res = repo.run("reconcile", "--mode", "fix", "--format", "json", "--no-issue", capsys=capsys)
    assert "heidi@acme.example" not in members(sb)
    assert "heidi@acme.example" not in res.out
    # A PR that approves the file's current content releases it.
    released = HEIDI.replace("Debugging", "Still debugging")
    merged_pr(repo, gh, REQ, released, approvers=("alice-acme",))
    code, doc = apply(repo, capsys, merged)
    assert code == 0, doc["verification"]
    assert "heidi@acme.example" in members(sb)
    assert unapproved.load(repo.root).files == {}
    [issue] = unapproved_issues(gh)
    assert issue["state"] == "closed"


def test_a_direct_push_removing_a_request_does_not_revoke_it(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    assert "bob@acme.example" in members(sb)
    (repo.root / "requests/aws/acme-dev/bob-developer.yaml").unlink()
    repo.commit("direct push removing bob")
    code, doc = apply(repo, capsys, since)
    assert code == 1
    assert "bob@acme.example" in members(sb), "held: the last approved content stays desired"
    repo.run("reconcile", "--mode", "fix", "--no-issue", "--format", "json", capsys=capsys)
    assert "bob@acme.example" in members(sb)


def test_in_github_actions_without_a_token_apply_refuses(world, capsys, monkeypatch):
    repo, sb, _ = world
    since = repo.commit("applied")
    repo.write(REQ, HEIDI)
    repo.commit("direct push")
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    res = repo.run("apply", "--since", since, capsys=capsys)
    assert res.code == 2 and "refuses" in res.err
    assert "heidi@acme.example" not in members(sb)


def test_outside_github_actions_apply_says_the_check_was_skipped(world, capsys, monkeypatch):
    repo, _, _ = world
    since = repo.commit("applied")
    monkeypatch.delenv("GITHUB_TOKEN")
    res = repo.run("apply", "--since", since, capsys=capsys)
    assert res.code == 0
    assert "re-verification skipped" in res.out and "no GitHub context" in res.out


def test_a_direct_push_widening_an_approved_request_keeps_only_the_approved_grants(world, capsys):
    repo, sb, gh = world
    since = repo.commit("applied")
    path = "requests/aws/acme-dev/bob-developer.yaml"
    repo.write(path, repo.read(path).replace("group: developers", "group: readonly"))
    repo.commit("direct push: bob moves to readonly")
    code, doc = apply(repo, capsys, since)
    assert code == 1
    assert "bob@acme.example" in members(sb), "the approved grant stays"
    assert "bob@acme.example" not in members(sb, "readonly"), "the pushed one never appears"


def test_a_committed_held_list_cannot_declare_a_change_approved(world, capsys):
    """The held list is apply's own state on the record branch: a file on main that looks like one
    (here: "this file was last approved at the pushed commit") is never read."""
    repo, sb, gh = world
    since = repo.commit("applied")
    repo.write(REQ, HEIDI)
    pushed = repo.commit("direct push")
    forged = json.dumps({"version": 1, "rules_commit": None, "rules_held": [], "files": [
        {"path": REQ, "approved_commit": pushed, "held_commit": pushed, "why": "-", "pr": None}]})
    for path in (".accessctl/held.json", "held.json"):
        repo.write(path, forged)
    repo.commit("and a forged held list")
    code, doc = apply(repo, capsys, since)
    assert code == 1 and not doc["verification"]["files"][0]["approved"]
    assert "heidi@acme.example" not in members(sb)
    assert unapproved.load(repo.root).files[REQ].approved_commit == since
