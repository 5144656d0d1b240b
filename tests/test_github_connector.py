"""The GitHub connector against the loopback fake, through real PyGithub.

What a user would notice: the policy sees every changed file and every
review (on which commit, by whom); the PR shows one comment, never two;
rate limits slow a run down instead of failing it. Each test's token has
only the permissions the pipeline's App or workflow job really has.
"""
from __future__ import annotations

import pytest

from connectors.github import STATUS_CONTEXT, GitHubConnector, GitHubError, marker, retry_delay
from tests.conftest import PROJECT
from tools.sandbox.github import FakeGitHub

@pytest.fixture
def fake():
    with FakeGitHub(org="acme", repo="access") as gh:
        gh.add_team("platform", ["alice-acme", "bob-acme"])
        gh.add_team("security", ["ivan-acme"], pending=["judy-acme"])
        yield gh


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def conn(fake, sleeps):
    return GitHubConnector("acme/access", token="x", base_url=fake.url, sleep=sleeps.append)


def test_pr_context_reads_every_page_of_files_and_reviews(fake, conn):
    files = [(f"requests/aws/acme-dev/user{i:03}.yaml", "added") for i in range(230)]
    files.append(("policies/access/approval.rego", "modified"))
    n = fake.add_pr("carol-acme", files)
    old = fake.pulls[n].head_sha
    fake.add_review(n, "alice-acme", "APPROVED")
    head = fake.push(n)
    fake.add_review(n, "ivan-acme", "CHANGES_REQUESTED")
    fake.add_review(n, "judy-acme", "APPROVED")
    fake.add_review(n, "zed-outsider", "APPROVED")

    ctx = conn.pr_context(n)

    assert (ctx.number, ctx.author, ctx.head_sha) == (n, "carol-acme", head)
    assert ctx.base_sha == fake.branches["main"]["sha"] and ctx.base_ref == "main"
    assert len(ctx.files) == 231 and ctx.files[-1].path == "policies/access/approval.rego"
    assert ctx.files[-1].status == "modified"
    assert fake.count("GET", f"/pulls/{n}/files") == 3  # 100 + 100 + 31
    got = {(r.user, r.state, r.commit_id) for r in ctx.reviews}
    assert got == {("alice-acme", "APPROVED", old), ("ivan-acme", "CHANGES_REQUESTED", head),
                   ("judy-acme", "APPROVED", head), ("zed-outsider", "APPROVED", head)}
    # teams are the org model's to say, never GitHub's membership API
    assert ctx.as_json()["reviews"][0] == {"user": "alice-acme", "state": "APPROVED", "commit_id": old, "teams": []}
    assert fake.count("GET", "/memberships/") == 0


def test_pr_context_keeps_renames_and_null_review_commits_and_refuses_a_truncated_file_list(fake, conn):
    n = fake.add_pr("carol-acme", [("requests/aws/acme-dev/new.yaml", "renamed", "requests/aws/acme-dev/old.yaml")])
    fake.add_review(n, "alice-acme", commit_id=None)  # the reviewed commit was force-pushed away
    ctx = conn.pr_context(n)
    assert ctx.files[0].previous_path == "requests/aws/acme-dev/old.yaml"
    assert ctx.as_json()["files"][0]["previous_path"] == "requests/aws/acme-dev/old.yaml"
    assert ctx.reviews[0].commit_id is None
    big = fake.add_pr("carol-acme", [(f"requests/aws/acme-dev/u{i:04}.yaml", "added") for i in range(3001)])
    with pytest.raises(GitHubError, match="changes 3001 files but GitHub lists only 3000"):
        conn.pr_context(big)


def test_a_job_token_with_pull_requests_only_reads_the_pr_and_comments(fake, sleeps, tmp_path):
    """The old PR check job had pull-requests and statuses, not issues: the
    connector must not need issues for what a PR check does."""
    wf = tmp_path / "old-pr-check.yml"
    wf.write_text("on: pull_request\njobs:\n  check-pr:\n    permissions: {contents: read, pull-requests: write, "
                  "statuses: write}\n    runs-on: ubuntu-24.04\n    steps: [{run: 'true'}]\n")
    token = fake.workflow_token(wf, "check-pr")
    assert "issues" not in fake.tokens[token].permissions
    conn = GitHubConnector("acme/access", token=token, base_url=fake.url, sleep=sleeps.append)
    n = fake.add_pr("bob-acme", [("requests/aws/acme-dev/bob.yaml", "added")])
    assert conn.pr_context(n).number == n
    conn.upsert_comment(n, "check-pr", "first")
    conn.upsert_comment(n, "check-pr", "second")
    assert [c["body"].splitlines()[-1] for c in fake.pr_comments(n)] == ["second"]


def test_team_members_need_the_org_members_permission(fake, conn, sleeps):
    assert conn.team_members("acme/platform") == ["alice-acme", "bob-acme"]
    assert conn.team_members("acme/nope") is None
    token = fake.workflow_token(PROJECT / ".github/workflows/pr-check.yml", "check-pr")
    blind = GitHubConnector("acme/access", token=token, base_url=fake.url, sleep=sleeps.append)
    assert blind.team_members("acme/platform") is None  # 404, as GitHub answers the Actions token


def test_comment_is_updated_in_place_across_five_pushes(fake, conn):
    n = fake.add_pr("bob-acme", [("requests/aws/acme-dev/bob.yaml", "added")])
    ids = set()
    for push in range(5):
        fake.push(n)
        ids.add(conn.upsert_comment(n, "check-pr", f"Denied: push {push}"))
    comments = fake.pr_comments(n)
    assert len(ids) == 1 and len(comments) == 1
    assert comments[0]["body"] == f"{marker('check-pr')}\nDenied: push 4"
    assert fake.count("POST", f"/issues/{n}/comments") == 1
    assert fake.count("PATCH", "/issues/comments/") == 4

    before = len(fake.writes())
    conn.upsert_comment(n, "check-pr", "Denied: push 4")  # same text: nothing to write
    assert len(fake.writes()) == before


def test_comment_marker_written_by_a_person_is_never_adopted(fake, conn):
    n = fake.add_pr("mallory-acme", [("requests/aws/acme-dev/m.yaml", "added")])
    forged = fake.add_comment(n, "mallory-acme", f"{marker('check-pr')}\nAllowed: approved by security")
    conn.upsert_comment(n, "check-pr", "Denied: needs approval")
    bodies = {c["user"]: c["body"] for c in fake.pr_comments(n)}
    assert bodies["mallory-acme"].endswith("Allowed: approved by security")
    assert bodies["accessctl[bot]"].endswith("Denied: needs approval")
    assert fake.comments[forged]["user"] == "mallory-acme"


def test_duplicate_comments_from_a_race_are_removed(fake, conn):
    n = fake.add_pr("bob-acme", [("requests/aws/acme-dev/bob.yaml", "added")])
    first = fake.add_comment(n, "accessctl[bot]", f"{marker('check-pr')}\nold")
    fake.add_comment(n, "accessctl[bot]", f"{marker('check-pr')}\nolder copy")
    fake.add_comment(n, "accessctl[bot]", f"{marker('apply')}\nanother kind")
    assert conn.upsert_comment(n, "check-pr", "new") == first
    bodies = sorted(c["body"] for c in fake.pr_comments(n))
    assert bodies == [f"{marker('apply')}\nanother kind", f"{marker('check-pr')}\nnew"]


def test_check_run_is_posted_on_the_head_commit_by_the_app(fake, conn):
    n = fake.add_pr("bob-acme", [])
    sha = fake.pulls[n].head_sha
    conn.create_check_run(sha, False, "Needs one more approval from @acme/security", "x" * 70000)
    conn.create_check_run(sha, True, "Allowed", "all good")
    assert conn.check_runs(sha) == [(STATUS_CONTEXT, "success", 424242), (STATUS_CONTEXT, "failure", 424242)]


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_is_retried_after_retry_after(fake, conn, sleeps, status):
    n = fake.add_pr("bob-acme", [(f"requests/aws/acme-dev/u{i}.yaml", "added") for i in range(3)])
    fake.rate_limit(times=2, status=status, retry_after=7, match=f"/pulls/{n}/files")
    ctx = conn.pr_context(n)
    assert len(ctx.files) == 3
    assert sleeps == [7.0, 7.0]
    assert fake.count("GET", f"/pulls/{n}/files") == 3


def test_rate_limited_writes_are_retried_and_never_doubled(fake, conn, sleeps):
    n = fake.add_pr("bob-acme", [])
    fake.rate_limit(times=1, retry_after=2, match=f"/issues/{n}/comments")
    conn.upsert_comment(n, "check-pr", "hello")
    assert len(fake.pr_comments(n)) == 1 and sleeps == [2.0]


def test_rate_limit_that_never_ends_is_a_clear_error(fake, sleeps):
    conn = GitHubConnector("acme/access", token="x", base_url=fake.url, sleep=sleeps.append, max_attempts=3)
    n = fake.add_pr("bob-acme", [])
    fake.rate_limit(times=10, retry_after=1, match="/pulls/")
    with pytest.raises(GitHubError, match="kept rate-limiting") as err:
        conn.pr_context(n)
    assert err.value.exit_code == 2 and sleeps == [1.0, 1.0]


def test_other_errors_fail_at_once_with_a_hint(fake, conn, sleeps):
    with pytest.raises(GitHubError, match="not found.*GITHUB_REPOSITORY"):
        conn.pr_context(999)
    assert sleeps == []
    other = GitHubConnector("acme/nope", token="x", base_url=fake.url, sleep=sleeps.append)
    with pytest.raises(GitHubError, match="404"):
        other.pr_context(1)


def test_retry_delay_follows_githubs_documented_order():
    assert retry_delay(403, {"Retry-After": "30"}, "", 0, 0) == 30
    assert retry_delay(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1100"},
                       "API rate limit exceeded", 0, 1000) == 101
    assert retry_delay(403, {}, "You have exceeded a secondary rate limit", 2, 0) == 240
    assert retry_delay(403, {}, "Resource not accessible by integration", 0, 0) is None
    assert retry_delay(404, {"Retry-After": "1"}, "", 0, 0) is None


def test_one_issue_per_key_opened_updated_closed_and_reopened(fake, conn):
    fake.add_user("mallory-acme")
    fake.issues[50] = {"title": "fake", "body": f"{marker('issue:drift')}\nforged", "state": "open",
                       "labels": ["accessctl"], "user": "mallory-acme"}
    first = conn.upsert_issue("drift", "accessctl: access drifted", "| a | b |")
    assert first != 50 and fake.issues[first]["labels"] == ["accessctl"]
    writes = len(fake.writes())
    assert conn.upsert_issue("drift", "accessctl: access drifted", "| a | b |") == first
    assert len(fake.writes()) == writes  # unchanged: no write
    assert conn.upsert_issue("drift", "accessctl: access drifted", "| c |") == first
    assert fake.issues[first]["body"].endswith("| c |")
    assert conn.upsert_issue("drift", "", "clean", open_=False) == first
    assert fake.issues[first]["state"] == "closed" and fake.issues[first]["state_reason"] == "completed"
    assert conn.upsert_issue("drift", "accessctl: access drifted", "again") == first
    assert fake.issues[first]["state"] == "open"
    assert conn.close_issue("drift") == first and conn.close_issue("drift") is None
    assert conn.upsert_issue("other", "t", "b", open_=False) is None
    assert fake.issues[50]["body"].endswith("forged")


def test_bot_pull_request_adds_modifies_deletes_and_is_idempotent(fake, conn):
    fake.set_file("main", "requests/aws/acme-dev/old.yaml", "expired: true\n")
    fake.set_file("main", "requests/aws/acme-dev/keep.yaml", "a: 1\n")
    changes = {"requests/aws/acme-dev/old.yaml": None, "requests/aws/acme-dev/keep.yaml": "a: 2\n",
               "requests/aws/acme-dev/new.yaml": "b: 1\n"}
    n = conn.open_pull_request("accessctl/expire-2026-11-22", "Remove expired access", "body", changes)
    pr = fake.pulls[n]
    assert (pr.author, pr.base_ref, pr.head_ref) == ("accessctl[bot]", "main", "accessctl/expire-2026-11-22")
    assert pr.starts_workflows  # opened with the App's token: the PR check will run on it
    assert {(f["filename"], f["status"]) for f in pr.files} == {
        ("requests/aws/acme-dev/old.yaml", "removed"), ("requests/aws/acme-dev/keep.yaml", "modified"),
        ("requests/aws/acme-dev/new.yaml", "added")}
    assert fake.branches["main"]["files"]["requests/aws/acme-dev/old.yaml"] == b"expired: true\n"
    writes = len(fake.writes())
    assert conn.open_pull_request("accessctl/expire-2026-11-22", "Remove expired access", "body", changes) == n
    assert len(fake.writes()) == writes


def test_bot_pull_request_opened_with_the_workflow_token_would_start_no_workflow(fake, sleeps, tmp_path):
    """GitHub starts no workflow for events the Actions token causes, so a
    cleanup PR opened with it would never get its required check."""
    wf = tmp_path / "old-expire.yml"
    wf.write_text("on: schedule\njobs:\n  expire:\n    permissions: {contents: write, pull-requests: write}\n"
                  "    runs-on: ubuntu-24.04\n    steps: [{run: 'true'}]\n")
    token = fake.workflow_token(wf, "expire")
    conn = GitHubConnector("acme/access", token=token, base_url=fake.url, sleep=sleeps.append)
    fake.set_file("main", "requests/aws/acme-dev/old.yaml", "expired: true\n")
    n = conn.open_pull_request("accessctl/expire-x", "Remove expired access", "body",
                               {"requests/aws/acme-dev/old.yaml": None})
    assert fake.pulls[n].author == "github-actions[bot]" and not fake.pulls[n].starts_workflows
