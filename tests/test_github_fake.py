"""The GitHub fake itself: documented shapes, pagination, errors, switches.

Other tests trust the fake to behave like GitHub where the connector's
correctness depends on it; these pin those behaviours with raw HTTP, so
a fake that drifted from GitHub's documented contract fails here first.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from github import Auth, Github, GithubException, RateLimitExceededException
from github.Requester import Requester

from tools.sandbox.github import FakeGitHub, blob_sha


@pytest.fixture
def fake():
    with FakeGitHub() as gh:
        yield gh


def call(fake: FakeGitHub, method: str, path: str, body=None, token: str | None = "x"):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"token {token}"} if token else {})
    req = urllib.request.Request(fake.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def urls(value, key=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from urls(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from urls(v, key)
    elif isinstance(value, str) and key.endswith("url") and key not in ("html_url", "documentation_url") \
            and not value.startswith(WEB):  # web, git and raw-content links are GitHub's, not the API's
        yield value


WEB = ("https://github.com", "git://", "git@", "https://raw.githubusercontent.com")


def test_every_api_url_points_back_at_the_fake(fake):
    n = fake.add_pr("bob-acme", [("requests/a.yaml", "added")])
    fake.add_review(n, "ivan-acme")
    fake.add_comment(n, "ivan-acme", "hi")
    fake.add_team("security", ["ivan-acme"])
    for path in ["/repos/acme/access", f"/repos/acme/access/pulls/{n}", f"/repos/acme/access/pulls/{n}/reviews",
                 f"/repos/acme/access/issues/{n}/comments", "/orgs/acme/teams/security",
                 "/repos/acme/access/branches/main"]:
        status, _, body = call(fake, "GET", path)
        assert status == 200, path
        found = list(urls(body))
        assert found and all(u.startswith(fake.url) for u in found), (path, found)


def test_lists_paginate_with_link_headers(fake):
    n = fake.add_pr("bob-acme", [(f"f{i}.yaml", "added") for i in range(5)])
    path, seen = f"/repos/acme/access/pulls/{n}/files?per_page=2", []
    while path:
        status, headers, body = call(fake, "GET", path)
        seen += [f["filename"] for f in body]
        nxt = re.search(r'<([^>]+)>; rel="next"', headers.get("Link", ""))
        path = nxt.group(1)[len(fake.url):] if nxt else None
    assert seen == [f"f{i}.yaml" for i in range(5)]
    assert fake.count("GET", f"/pulls/{n}/files") == 3
    _, headers, body = call(fake, "GET", f"/repos/acme/access/pulls/{n}/files?per_page=2&page=3")
    assert len(body) == 1 and 'rel="prev"' in headers["Link"] and 'rel="next"' not in headers["Link"]


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_has_githubs_shape(fake, status):
    fake.rate_limit(times=1, status=status, retry_after=5, match="/pulls")
    code, headers, body = call(fake, "GET", "/repos/acme/access/pulls")
    assert code == status and headers["Retry-After"] == "5"
    assert Requester.isSecondaryRateLimitError(body["message"])
    assert call(fake, "GET", "/repos/acme/access/pulls")[0] == 200  # only `times` requests are refused


def test_pygithub_sees_the_rate_limit_as_such(fake):
    gh = Github(base_url=fake.url, auth=Auth.Token("x"), retry=None, seconds_between_requests=None)
    fake.rate_limit(times=1, status=403, retry_after=1)
    with pytest.raises(RateLimitExceededException) as err:
        gh.get_repo("acme/access")
    assert err.value.headers["retry-after"] == "1"


def test_protection_put_requires_githubs_four_keys(fake):
    admin = fake.admin_token()
    status, _, body = call(fake, "PUT", "/repos/acme/access/branches/main/protection", {"enforce_admins": True},
                           token=admin)
    assert status == 422 and "required_status_checks" in body["message"]
    assert call(fake, "GET", "/repos/acme/access/branches/main/protection", token=admin)[2]["message"] == \
        "Branch not protected"


@pytest.mark.parametrize("checks", [{"contexts": ["a"]}, {"strict": True},
                                    {"strict": True, "contexts": ["a"], "checks": [{"context": "a"}]}])
def test_protection_status_checks_need_strict_and_exactly_one_of_contexts_or_checks(fake, checks):
    doc = {"required_status_checks": checks, "enforce_admins": True, "required_pull_request_reviews": None,
           "restrictions": None}
    assert call(fake, "PUT", "/repos/acme/access/branches/main/protection", doc, token=fake.admin_token())[0] == 422


def test_unknown_token_is_refused_and_the_app_token_cannot_change_protection(fake):
    assert call(fake, "GET", "/repos/acme/access", token="stolen")[0] == 401
    assert call(fake, "GET", "/repos/acme/access", token=None)[0] == 401
    status, _, body = call(fake, "GET", "/repos/acme/access/branches/main/protection")
    assert (status, body["message"]) == (403, "Resource not accessible by integration")


def test_contents_refuse_a_stale_sha_and_the_bot_cannot_edit_others_comments(fake):
    fake.set_file("main", "a.yaml", "one\n")
    put = {"message": "m", "content": "dHdvCg==", "branch": "main", "sha": blob_sha(b"stale")}
    assert call(fake, "PUT", "/repos/acme/access/contents/a.yaml", put)[0] == 409
    put["sha"] = blob_sha(b"one\n")
    assert call(fake, "PUT", "/repos/acme/access/contents/a.yaml", put)[0] == 200
    assert fake.branches["main"]["files"]["a.yaml"] == b"two\n"
    n = fake.add_pr("bob-acme", [])
    cid = fake.add_comment(n, "bob-acme", "mine")
    assert call(fake, "PATCH", f"/repos/acme/access/issues/comments/{cid}", {"body": "x"})[0] == 403


def test_reviews_keep_the_commit_they_were_given_on(fake):
    gh = Github(base_url=fake.url, auth=Auth.Token("x"), retry=None, seconds_between_requests=None)
    n = fake.add_pr("bob-acme", [])
    first = fake.pulls[n].head_sha
    fake.add_review(n, "alice-acme")
    second = fake.push(n)
    fake.add_review(n, "ivan-acme", "CHANGES_REQUESTED")
    pr = gh.get_repo("acme/access").get_pull(n)
    assert pr.head.sha == second
    assert [(r.user.login, r.state, r.commit_id) for r in pr.get_reviews()] == [
        ("alice-acme", "APPROVED", first), ("ivan-acme", "CHANGES_REQUESTED", second)]
    with pytest.raises(GithubException) as err:
        gh.get_repo("acme/access").get_pull(99)
    assert err.value.status == 404


PR_CHECK_STYLE = """
permissions: {}
on: pull_request
jobs:
  check:
    runs-on: ubuntu-24.04
    permissions: {contents: read, pull-requests: write}
    steps: [{run: "true"}]
  quiet:
    runs-on: ubuntu-24.04
    steps: [{run: "true"}]
"""


def test_workflow_token_gets_exactly_its_jobs_permissions(fake, tmp_path):
    wf = tmp_path / "wf.yml"
    wf.write_text(PR_CHECK_STYLE)
    token = fake.workflow_token(wf, "check")
    n = fake.add_pr("bob-acme", [("requests/aws/acme-dev/b.yaml", "added")])
    # comments on a PR's thread accept issues OR pull_requests (GitHub's table)
    assert call(fake, "POST", f"/repos/acme/access/issues/{n}/comments", {"body": "hi"}, token=token)[0] == 201
    assert call(fake, "GET", f"/repos/acme/access/pulls/{n}", token=token)[0] == 200
    # reading the PR as an issue, or listing issues, strictly needs issues
    assert call(fake, "GET", f"/repos/acme/access/issues/{n}", token=token)[0] == 403
    assert call(fake, "GET", "/repos/acme/access/issues", token=token)[0] == 403
    sha = fake.pulls[n].head_sha
    assert call(fake, "POST", f"/repos/acme/access/statuses/{sha}", {"state": "success"}, token=token)[0] == 403
    # org teams: the Actions token cannot see them at all
    fake.add_team("security", ["ivan-acme"])
    assert call(fake, "GET", "/orgs/acme/teams/security/memberships/ivan-acme", token=token)[0] == 404
    # a job without permissions: gets none but metadata (`permissions: {}` at the top)
    quiet = fake.workflow_token(wf, "quiet")
    assert call(fake, "GET", "/repos/acme/access", token=quiet)[0] == 200
    assert call(fake, "GET", f"/repos/acme/access/pulls/{n}", token=quiet)[0] == 403


def test_check_runs_carry_the_app_that_made_them_and_the_gate_wants_the_pipeline_app(fake, tmp_path):
    wf = tmp_path / "wf.yml"
    wf.write_text(PR_CHECK_STYLE.replace("pull-requests: write", "checks: write"))
    forged = fake.workflow_token(wf, "check")
    admin = fake.admin_token()
    fake.protection["main"] = {"required_status_checks": {
        "strict": True, "checks": [{"context": "accessctl/check-pr", "app_id": 424242}]}}
    sha = fake.pulls[fake.add_pr("mallory-acme", [])].head_sha
    body = {"name": "accessctl/check-pr", "head_sha": sha, "status": "completed", "conclusion": "success",
            "output": {"title": "Allowed", "summary": "trust me"}}
    assert call(fake, "POST", "/repos/acme/access/check-runs", body, token=admin)[0] == 403  # not an App
    status, _, run = call(fake, "POST", "/repos/acme/access/check-runs", body, token=forged)
    assert status == 201 and run["app"]["slug"] == "github-actions"
    assert fake.gate(sha) == ["accessctl/check-pr (from app 424242)"]
    status, _, run = call(fake, "POST", "/repos/acme/access/check-runs", body | {"conclusion": "failure"})
    assert status == 201 and run["app"]["id"] == 424242
    assert fake.gate(sha) == ["accessctl/check-pr (from app 424242)"]
    assert call(fake, "PATCH", f"/repos/acme/access/check-runs/{run['id']}", {"conclusion": "success"},
                token=forged)[0] == 403  # only its creator may change a check run
    assert call(fake, "PATCH", f"/repos/acme/access/check-runs/{run['id']}", {"conclusion": "success"})[0] == 200
    assert fake.gate(sha) == []


def test_environment_secrets_reach_only_the_branches_its_policy_names(fake):
    admin = fake.admin_token()
    env = "/repos/acme/access/environments/accessctl-check"
    body = {"deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": True}}
    assert call(fake, "PUT", env, body, token=admin)[0] == 422
    body["deployment_branch_policy"]["protected_branches"] = False
    assert call(fake, "PUT", env, body, token=admin)[0] == 200
    assert call(fake, "POST", f"{env}/deployment-branch-policies", {"name": "main"}, token=admin)[0] == 200
    assert fake.may_use_environment("accessctl-check", "refs/heads/main")
    assert not fake.may_use_environment("accessctl-check", "refs/heads/feature")
    assert not fake.may_use_environment("accessctl-check", "refs/pull/7/merge")
    assert call(fake, "GET", env)[0] == 403  # the App may not read environments (no actions: read)


def test_pr_files_stop_at_3000_renames_name_the_old_path_and_reviews_may_lose_their_commit(fake):
    files = [(f"requests/aws/acme-dev/u{i:04}.yaml", "added") for i in range(3002)]
    files.append(("requests/aws/acme-dev/new.yaml", "renamed", "requests/aws/acme-dev/old.yaml"))
    n = fake.add_pr("bob-acme", files)
    fake.pulls[n].files = fake.pulls[n].files[-1:] + fake.pulls[n].files[:-1]
    fake.add_review(n, "ivan-acme", commit_id=None)
    listed = []
    for page in range(1, 32):
        listed += call(fake, "GET", f"/repos/acme/access/pulls/{n}/files?per_page=100&page={page}")[2]
    assert len(listed) == 3000
    assert listed[0]["previous_filename"] == "requests/aws/acme-dev/old.yaml"
    assert call(fake, "GET", f"/repos/acme/access/pulls/{n}")[2]["changed_files"] == 3003
    assert call(fake, "GET", f"/repos/acme/access/pulls/{n}/reviews")[2][0]["commit_id"] is None
