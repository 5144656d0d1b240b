"""Invariant: a held file stays held on every later run, from any checkout,
until an approved PR releases it.

CI jobs start from a fresh clone with no local state. So the held list lives
on the durable record's branch (``accessctl-record``, ``held.json``), pushed to
origin by the run that found the unapproved change and fetched by every later
writer. The attacker pushes a request straight to main; the run that sees the
push holds it, and the test plays the next runs as CI would: new clones of
origin, no ``.accessctl/``, applying only what changed since the previous run.
"""
from __future__ import annotations

import json

from apply_world import world  # noqa: F401 (fixtures)
from conftest import git
from jobs_world import add_origin, clone, push, run_json

from tools.provision import durable, unapproved

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


def merge(repo, gh, path, text, author, approvers) -> str:
    """A PR bringing ``text``, approved on its head by ``approvers``, merged and pushed."""
    n = gh.add_pr(author, [(path, "added" if not (repo.root / path).exists() else "modified")],
                  contents={path: text})
    for login in approvers:
        gh.add_review(n, login, "APPROVED")
    repo.write(path, text)
    sha = repo.commit(f"Merge pull request #{n} from acme/request-{n}")
    gh.merge(n, sha)
    return push(repo)


def fresh(world_tmp, bare, name):
    """A CI runner's checkout: a new clone of origin, nothing local."""
    repo = clone(bare, world_tmp / name)
    assert not (repo.root / ".accessctl").exists()
    return repo


def test_a_held_file_stays_held_in_a_fresh_checkout_until_an_approved_pr_releases_it(world, capsys, tmp_path):
    repo, sb, gh = world
    bare = add_origin(repo, tmp_path / "origin.git")
    since = push(repo)
    # The attacker pushes straight to main (no PR, no review).
    repo.write(REQ, HEIDI)
    repo.commit("direct push")
    pushed = push(repo)
    code, doc = run_json(repo, capsys, "apply", "--since", since)
    assert code == 1 and not doc["verification"]["files"][0]["approved"]
    assert "heidi@acme.example" not in members(sb)
    stored = json.loads(git(bare, "show", f"{durable.LOCAL_REF}:{durable.HELD_FILE}"))
    assert [f["path"] for f in stored["files"]] == [REQ], "the verdict is on origin's record branch"

    # Next merge, next runner: a fresh clone that applies only what changed since the push.
    # Without the durable list, REQ would be ordinary desired state here and be granted.
    merged = merge(repo, gh, OTHER, JUDY, "judy-acme", ("alice-acme",))
    second = fresh(tmp_path, bare, "runner-2")
    code, doc = run_json(second, capsys, "apply", "--since", pushed)
    assert code == 0, doc
    assert "judy@acme.example" in members(sb, "readonly")
    assert "heidi@acme.example" not in members(sb), "a fresh checkout still holds the pushed file"
    assert [h["path"] for h in doc["verification"]["held"]] == [REQ]

    # The scheduled reconcile in yet another fresh checkout does not restore it either.
    third = fresh(tmp_path, bare, "runner-3")
    code, doc = run_json(third, capsys, "reconcile", "--mode", "fix", "--no-issue")
    assert "heidi@acme.example" not in members(sb)
    assert "heidi@acme.example" not in json.dumps(doc)

    # A PR that approves the file's current content releases it, in a fresh checkout too.
    merge(repo, gh, REQ, HEIDI.replace("Debugging", "Still debugging"), "heidi-acme", ("alice-acme",))
    fourth = fresh(tmp_path, bare, "runner-4")
    code, doc = run_json(fourth, capsys, "apply", "--since", merged)
    assert code == 0, doc
    assert "heidi@acme.example" in members(sb)
    assert unapproved.load(fresh(tmp_path, bare, "runner-5").root).files == {}


def test_a_stale_checkout_cannot_release_a_held_file(world, capsys, tmp_path):
    """Verdicts are stored only from main's tip: an old checkout, where the file's content was still
    the approved one, stops before it can overwrite the list (and so release the file)."""
    repo, sb, gh = world
    bare = add_origin(repo, tmp_path / "origin.git")
    since = push(repo)
    stale = fresh(tmp_path, bare, "stale")
    repo.write("requests/aws/acme-dev/bob-developer.yaml",
               repo.read("requests/aws/acme-dev/bob-developer.yaml").replace("group: developers", "group: readonly"))
    repo.commit("direct push: bob moves to readonly")
    push(repo)
    assert run_json(repo, capsys, "apply", "--since", since)[0] == 1
    before = unapproved.load(repo.root)
    assert "requests/aws/acme-dev/bob-developer.yaml" in before.files
    code, doc = run_json(stale, capsys, "apply", "--since", since)
    assert code == 2, doc
    assert unapproved.load(fresh(tmp_path, bare, "after").root) == before
