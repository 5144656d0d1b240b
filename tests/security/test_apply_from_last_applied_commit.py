"""Invariant: apply starts from the last commit applied in full, not from the
previous push. A merge whose apply crashed (or whose queued run GitHub
cancelled) is applied by the next merge's apply."""
from __future__ import annotations

from conftest import git
from jobs_world import group_members, push, run_json, world  # noqa: F401

BOB = "requests/aws/acme-dev/bob-developer.yaml"
SRE = "requests/aws/acme-prod/sre-readonly.yaml"
MARKER = "refs/accessctl/applied"


def _marker(root, where="."):
    return git(root if where == "." else where, "rev-parse", "--verify", "--quiet", MARKER).strip()


def _crashed_merge_then_next_merge(repo):
    assert repo.run("apply", "--since-marker").code == 0  # first run: no marker, everything, marker set
    first = _marker(repo.root)
    (repo.root / BOB).unlink()
    crashed = repo.commit("revoke bob (its apply crashed)")
    push(repo)
    repo.write(SRE, repo.read(SRE).replace("OPS-7", "OPS-8"))
    head = repo.commit("an unrelated merge in another account")
    push(repo)
    return first, crashed, head


def test_the_previous_push_would_lose_the_crashed_merge(world, capsys):
    repo, sb = world
    _, crashed, _ = _crashed_merge_then_next_merge(repo)
    code, doc = run_json(repo, capsys, "apply", "--since", crashed)
    assert code == 0 and doc.get("results") == [], doc
    assert "bob@acme.example" in group_members(sb, "111111111111", "developers"), \
        "the old starting point skips the crashed merge: this is the failure the marker fixes"


def test_the_marker_repairs_a_crashed_merge_and_moves_on_origin(world, capsys):
    repo, sb = world
    first, crashed, head = _crashed_merge_then_next_merge(repo)
    assert first and first != head
    code, doc = run_json(repo, capsys, "apply", "--since-marker")
    assert code == 0, doc
    assert {(r["principal"], r["action"], r["ok"]) for r in doc["results"]} == {
        ("user:bob@acme.example", "remove", True)}
    assert "bob@acme.example" not in group_members(sb, "111111111111", "developers")
    assert _marker(repo.root) == head
    assert _marker(None, repo.root.parent / "origin.git") == head, "pushed for the next runner"
    code, doc = run_json(repo, capsys, "apply", "--since-marker")
    assert code == 0 and doc["results"] == [], "nothing left since the marker"


def test_a_failed_change_leaves_the_marker_where_it_was(world, capsys):
    repo, sb = world
    assert repo.run("apply", "--since-marker").code == 0
    first = _marker(repo.root)
    iam = sb.aws.client("iam", "111111111111")
    iam.remove_user_from_group(GroupName="developers", UserName="bob@acme.example")
    iam.delete_user(UserName="bob@acme.example")  # the add will fail: no such user
    repo.write(BOB, repo.read(BOB) + "\n")
    repo.commit("touch bob's request")
    push(repo)
    code, doc = run_json(repo, capsys, "apply", "--since-marker")
    assert code == 1 and False in [r["ok"] for r in doc["results"]], doc
    assert _marker(repo.root) == first, "the next run retries from the same commit"
