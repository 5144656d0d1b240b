"""`accessctl check-pr --local`: preview the PR check from git before pushing.

The same scenarios as the CI golden files, made as a developer makes them
(a branch, a commit), previewed by a real process: the comment is the
golden file's (only the PR number differs) and so is the verdict."""
from __future__ import annotations

import json

import pytest
from conftest import git
from test_check_pr import GOLDEN, scenario


def branch_with(repo, name: str):
    files, changed, reviews, author = scenario(repo, name)
    git(repo.root, "switch", "-q", "-c", f"access/{name}")
    for path, text in files.items():
        repo.write(path, text)
    repo.commit("request access")
    return changed, reviews, author


@pytest.mark.parametrize("name", ["denied", "needs-approval", "allowed", "privileged-needs-security",
                                  "no-credentials-plan"])
def test_local_preview_renders_the_ci_comment_with_the_ci_verdict(repo, name):
    base = git(repo.root, "rev-parse", "main").strip()
    _, reviews, author = branch_with(repo, name)
    head = git(repo.root, "rev-parse", "HEAD").strip()
    flags = ["--author", author] + (["--approved-by", ",".join(u for u, _ in reviews)] if reviews else [])
    r = repo.run_process("check-pr", "--local", "--format", "json", *flags)
    doc = json.loads(r.out)
    body = doc["comment"].replace("local preview (no PR yet)", "PR #7")
    for sha, label in ((head, "HEADSHA"), (base, "BASESHA")):
        body = body.replace(sha, label).replace(sha[:7], label)
    assert body == (GOLDEN / f"{name}.md").read_text(encoding="utf-8")
    assert r.code == (0 if doc["allow"] else 1)
    assert doc["allow"] == (name in ("allowed", "no-credentials-plan"))


def test_local_preview_prints_the_comment_and_writes_it_to_a_file(repo, tmp_path):
    git(repo.root, "config", "user.email", "carol@acme.example")  # the author, from git config
    branch_with(repo, "needs-approval")
    r = repo.run_process("check-pr", "--local", "--base", "main")
    assert r.code == 1, r.err
    assert r.out.startswith("### ⏳ Needs one more approval from @acme/platform")
    assert "local preview (no PR yet)" in r.out and "::error" not in r.out
    out = tmp_path / "comment.md"
    r = repo.run_process("check-pr", "--local", "--approved-by", "alice-acme", "-o", str(out))
    assert r.code == 0, r.err
    assert out.read_text().startswith("### ✅ Allowed") and "✅ Allowed" in r.out


def test_approvers_teams_come_from_the_org_model(repo):
    """dave-acme is in data, not platform: his approval does not count for acme-staging."""
    branch_with(repo, "needs-approval")
    r = repo.run_process("check-pr", "--local", "--author", "carol-acme", "--approved-by", "dave-acme",
                         "--format", "json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["verdict"] == "needs-approval"
    ignored = doc["approvals"]["files"][0]["ignored"]
    assert ignored and ignored[0]["user"] == "dave-acme" and "not in a team that must approve" in ignored[0]["why"]


def test_local_mistakes_are_usage_errors(repo):
    branch_with(repo, "allowed")
    r = repo.run_process("check-pr", "--local", "--author", "carol-acme", "--approved-by", "nobody-here")
    assert r.code == 2 and "--approved-by 'nobody-here' is not a person" in r.err
    r = repo.run_process("check-pr", "--local", "--base", "no-such-branch", "--author", "carol-acme")
    assert r.code == 2 and "--base 'no-such-branch' is not a commit" in r.err
    r = repo.run_process("check-pr", "--local")  # git config names test@acme.example: nobody
    assert r.code == 2 and "pass --author LOGIN" in r.err
    r = repo.run_process("check-pr", "--approved-by", "alice-acme")
    assert r.code == 2 and "go with --local" in r.err


def test_headline_names_the_wrong_folder_before_the_expiry(repo):
    """The most fundamental problem first: a request filed under the wrong
    project, whose expiry is also too long, is first of all in the wrong place."""
    sample = repo.read("requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml")
    git(repo.root, "switch", "-q", "-c", "access/misfiled")
    repo.write("requests/gcp/acme-data-dev/erin.yaml", sample.replace('"2027-01-31"', '"2027-11-01"'))
    repo.commit("misfiled")
    r = repo.run_process("check-pr", "--local", "--author", "erin-acme", "--format", "json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["verdict"] == "denied"
    assert doc["headline"].startswith("Denied: invalid request requests/gcp/acme-data-dev/erin.yaml:")
    assert "but this file is under requests/gcp/acme-data-dev/" in doc["headline"]
    comment = doc["comment"]
    assert comment.count("expires is more than") + comment.count("Expiry beyond the tier maximum") <= 1
    assert "none until the request is fixed" in comment and "| — |" not in comment
