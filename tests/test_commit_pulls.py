"""The commit -> pulls association, through PyGithub against the GitHub fake:
the one GitHub read apply's re-verification makes (connectors/github.py)."""
from __future__ import annotations

import pytest

from connectors.github import GitHubConnector
from tools.sandbox.github import FakeGitHub, blob_sha

PATH = "requests/aws/acme-dev/x.yaml"


@pytest.fixture
def fake():
    with FakeGitHub() as gh:
        yield gh


def connector(gh: FakeGitHub) -> GitHubConnector:
    return GitHubConnector(gh.full_name, token="x", base_url=gh.url)  # the App token the fake knows


def test_a_merged_commit_names_its_pr_with_files_and_reviews(fake):
    n = fake.add_pr("heidi-acme", [(PATH, "added")], contents={PATH: "text\n"})
    fake.add_review(n, "alice-acme", "APPROVED")
    merge = fake.new_sha()
    fake.merge(n, merge)
    [pr] = connector(fake).pulls_for_commit(merge)
    assert (pr.number, pr.author, pr.base_ref, pr.head_sha) == (n, "heidi-acme", "main", fake.pulls[n].head_sha)
    assert pr.merged_at is not None
    assert [(f.path, f.status, f.blob) for f in pr.files] == [(PATH, "added", blob_sha(b"text\n"))]
    assert [(r.user, r.state, r.commit_id) for r in pr.reviews] == [("alice-acme", "APPROVED", pr.head_sha)]


def test_a_pushed_commit_has_no_pr(fake):
    assert connector(fake).pulls_for_commit(fake.new_sha()) == []


def test_an_open_prs_head_is_listed_but_not_as_merged(fake):
    """GitHub: a commit not on the default branch lists only the open PRs it belongs to."""
    n = fake.add_pr("heidi-acme", [(PATH, "added")])
    [pr] = connector(fake).pulls_for_commit(fake.pulls[n].head_sha)
    assert pr.number == n and pr.merged_at is None and pr.files == ()


def test_the_pull_shape_carries_merge_fields(fake):
    n = fake.add_pr("heidi-acme", [(PATH, "added")])
    fake.merge(n, "a" * 40)
    raw = connector(fake)._gh.requester.requestJsonAndCheck("GET", f"/repos/{fake.full_name}/commits/{'a' * 40}/pulls")[1]
    assert {"merged_at", "merge_commit_sha", "state", "head", "base"} <= set(raw[0])
    assert raw[0]["merge_commit_sha"] == "a" * 40 and raw[0]["state"] == "closed"
