"""Invariant: no writer runs on a checkout older than main's tip.

The attack (or the accident): a scheduled ``reconcile --mode fix`` or
``expire`` started from a checkout taken before a merge that revoked access.
Without the check it re-grants the revoked access and reports success."""
from __future__ import annotations

from conftest import git
from jobs_world import clone, group_members, push, run_json, world  # noqa: F401

BOB = "requests/aws/acme-dev/bob-developer.yaml"


def _revoke_bob_on_main(repo, tmp_path):
    stale = clone(repo.root.parent / "origin.git", tmp_path / "stale")  # checked out before the merge
    (repo.root / BOB).unlink()
    repo.commit("revoke bob")
    push(repo)
    return stale


def test_reconcile_fix_on_a_stale_checkout_does_not_regrant_revoked_access(world, tmp_path, capsys):
    repo, sb = world
    stale = _revoke_bob_on_main(repo, tmp_path)
    assert repo.run("apply").code == 0
    assert "bob@acme.example" not in group_members(sb, "111111111111", "developers")

    res = stale.run("reconcile", "--mode", "fix", "--no-issue", capsys=capsys)
    assert res.code == 2
    assert "refusing to write" in res.err and "tip" in res.err
    assert "bob@acme.example" not in group_members(sb, "111111111111", "developers"), "nothing was written"


def test_apply_and_expire_on_a_stale_checkout_stop_before_writing(world, tmp_path, capsys, monkeypatch):
    repo, sb = world
    stale = _revoke_bob_on_main(repo, tmp_path)
    # the cloud still has bob; a stale apply sees nothing to do for bob but must not write anything
    iam = sb.aws.client("iam", "111111111111")
    iam.remove_user_from_group(GroupName="developers", UserName="bob@acme.example")
    res = stale.run("apply", capsys=capsys)
    assert res.code == 2 and "refusing to write" in res.err
    assert "bob@acme.example" not in group_members(sb, "111111111111", "developers")

    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-16T00:00:00Z")  # carol's request has expired
    res = stale.run("expire", "--no-github", capsys=capsys)
    assert res.code == 2 and "refusing to write" in res.err


def test_the_same_run_on_main_tip_writes(world, tmp_path, capsys):
    repo, sb = world
    stale = _revoke_bob_on_main(repo, tmp_path)
    git(stale.root, "pull", "-q", "--ff-only")
    code, doc = run_json(stale, capsys, "reconcile", "--mode", "fix", "--no-issue")
    assert code == 0, doc
    assert "bob@acme.example" not in group_members(sb, "111111111111", "developers")


def test_uncommitted_edits_to_requests_are_never_applied(world, capsys):
    repo, sb = world
    (repo.root / BOB).unlink()
    res = repo.run("apply", capsys=capsys)
    assert res.code == 2 and "uncommitted" in res.err
    assert "bob@acme.example" in group_members(sb, "111111111111", "developers")


def test_without_a_remote_in_github_actions_the_writer_refuses(world, capsys, monkeypatch):
    repo, sb = world
    git(repo.root, "remote", "remove", "origin")
    sb.aws.client("iam", "111111111111").remove_user_from_group(GroupName="developers", UserName="bob@acme.example")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    res = repo.run("reconcile", "--mode", "fix", "--no-issue", capsys=capsys)
    assert res.code == 2 and "no 'origin' remote" in res.err
    assert "bob@acme.example" not in group_members(sb, "111111111111", "developers")
