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


def call(fake: FakeGitHub, method: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(fake.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
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
    elif isinstance(value, str) and key.endswith("url") and key not in ("html_url", "documentation_url"):
        yield value


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
    status, _, body = call(fake, "PUT", "/repos/acme/access/branches/main/protection", {"enforce_admins": True})
    assert status == 422 and "required_status_checks" in body["message"]
    assert call(fake, "GET", "/repos/acme/access/branches/main/protection")[2]["message"] == "Branch not protected"


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
