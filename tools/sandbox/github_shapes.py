"""The JSON objects the GitHub sandbox answers with, shaped as GitHub's
OpenAPI description documents them (every required property present, null
where GitHub sends null). The contract test (tests/contract/) validates each
response against the description, so a shape that drifts fails a test.
Pure functions of the values they are given; ids are stable hashes.
"""
from __future__ import annotations

import zlib
from typing import Any

STAMP = "2026-11-22T12:00:00Z"


def ident(text: str) -> int:
    """A stable positive id for a name (Python's hash() changes between runs)."""
    return zlib.crc32(text.encode()) % 10**8 + 1


def user(api: str, login: str, kind: str = "User") -> dict[str, Any]:
    """components/schemas/simple-user."""
    u = f"{api}/users/{login}"
    return {"login": login, "id": ident(login), "node_id": f"U_{login}", "avatar_url": f"https://github.com/{login}.png",
            "gravatar_id": "", "url": u, "html_url": f"https://github.com/{login}", "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}", "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs", "repos_url": f"{u}/repos", "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events", "type": kind, "site_admin": False}


_REPO_URLS = {  # name -> path under the repository url (GitHub's URI templates)
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
    "downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}", "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
    "languages_url": "/languages", "merges_url": "/merges", "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
    "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}


def repository(api: str, org: str, name: str, default_branch: str) -> dict[str, Any]:
    """components/schemas/full-repository (a superset of the PR's head/base repo)."""
    full = f"{org}/{name}"
    url = f"{api}/repos/{full}"
    out: dict[str, Any] = {k: url + v for k, v in _REPO_URLS.items()}
    out.update({"id": ident(full), "node_id": f"R_{full}", "name": name, "full_name": full, "private": True,
                "owner": user(api, org, "Organization"), "url": url, "html_url": f"https://github.com/{full}",
                "clone_url": f"https://github.com/{full}.git", "git_url": f"git://github.com/{full}.git",
                "ssh_url": f"git@github.com:{full}.git", "svn_url": f"https://github.com/{full}", "mirror_url": None,
                "homepage": None, "description": "Access requests", "language": "Python", "license": None,
                "fork": False, "archived": False, "disabled": False, "visibility": "private",
                "default_branch": default_branch, "created_at": STAMP, "updated_at": STAMP, "pushed_at": STAMP,
                "size": 1, "forks": 0, "forks_count": 0, "network_count": 0, "open_issues": 0,
                "open_issues_count": 0, "stargazers_count": 0, "subscribers_count": 0, "watchers": 0,
                "watchers_count": 0, "has_issues": True, "has_projects": False, "has_wiki": False,
                "has_pages": False, "has_downloads": False, "has_discussions": False})
    return out


def pull(api: str, repo: dict[str, Any], pr: Any, author: dict[str, Any], org_user: dict[str, Any]) -> dict[str, Any]:
    """components/schemas/pull-request for ``pr`` (tools.sandbox.github.PR)."""
    url = f"{repo['url']}/pulls/{pr.number}"
    html = f"{repo['html_url']}/pull/{pr.number}"
    ref = lambda name, sha: {"ref": name, "sha": sha, "label": f"{repo['owner']['login']}:{name}", "repo": repo,
                             "user": org_user}
    link = lambda href: {"href": href}
    return {"id": pr.number + 50000, "node_id": f"PR_{pr.number}", "number": pr.number, "state": pr.state,
            "locked": False, "title": pr.title, "body": pr.body, "user": author, "url": url, "html_url": html,
            "diff_url": f"{html}.diff", "patch_url": f"{html}.patch", "issue_url": f"{repo['url']}/issues/{pr.number}",
            "commits_url": f"{url}/commits", "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{repo['url']}/pulls/comments{{/number}}",
            "comments_url": f"{repo['url']}/issues/{pr.number}/comments",
            "statuses_url": f"{repo['url']}/statuses/{pr.head_sha}",
            "head": ref(pr.head_ref, pr.head_sha), "base": ref(pr.base_ref, pr.base_sha),
            "_links": {"self": link(url), "html": link(html), "issue": link(f"{repo['url']}/issues/{pr.number}"),
                       "comments": link(f"{repo['url']}/issues/{pr.number}/comments"),
                       "review_comments": link(f"{url}/comments"),
                       "review_comment": link(f"{repo['url']}/pulls/comments{{/number}}"),
                       "commits": link(f"{url}/commits"), "statuses": link(f"{repo['url']}/statuses/{pr.head_sha}")},
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [], "labels": [],
            "milestone": None, "auto_merge": None, "active_lock_reason": None, "author_association": "MEMBER",
            "draft": False, "merged": pr.merged_at is not None, "mergeable": None, "rebaseable": None, "mergeable_state": "unknown",
            "merged_by": None, "merged_at": pr.merged_at, "closed_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
            "maintainer_can_modify": False, "comments": 0, "review_comments": 0, "commits": 1,
            "additions": len(pr.files), "deletions": 0,
            "changed_files": pr.changed_files if pr.changed_files is not None else len(pr.files),
            "created_at": STAMP, "updated_at": STAMP}


def review(repo: dict[str, Any], number: int, r: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
    """components/schemas/pull-request-review (``commit_id`` may be null)."""
    html = f"{repo['html_url']}/pull/{number}#pullrequestreview-{r['id']}"
    pr_url = f"{repo['url']}/pulls/{number}"
    return {"id": r["id"], "node_id": f"PRR_{r['id']}", "user": author, "body": "", "state": r["state"],
            "html_url": html, "pull_request_url": pr_url, "commit_id": r["commit_id"], "submitted_at": STAMP,
            "author_association": "MEMBER", "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}}}


def comment(repo: dict[str, Any], cid: int, issue: int, body: str, author: dict[str, Any]) -> dict[str, Any]:
    """components/schemas/issue-comment."""
    return {"id": cid, "node_id": f"IC_{cid}", "body": body, "user": author,
            "url": f"{repo['url']}/issues/comments/{cid}",
            "html_url": f"{repo['html_url']}/issues/{issue}#issuecomment-{cid}",
            "issue_url": f"{repo['url']}/issues/{issue}", "created_at": STAMP, "updated_at": STAMP,
            "author_association": "MEMBER"}


def issue(repo: dict[str, Any], number: int, i: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
    """components/schemas/issue."""
    url = f"{repo['url']}/issues/{number}"
    return {"id": number + 90000, "node_id": f"I_{number}", "number": number, "title": i["title"],
            "body": i["body"], "state": i["state"], "state_reason": i.get("state_reason"), "user": author,
            "labels": [{"id": ident(n), "node_id": f"LA_{n}", "name": n, "url": f"{repo['url']}/labels/{n}",
                        "color": "ededed", "default": False, "description": None} for n in i["labels"]],
            "url": url, "repository_url": repo["url"], "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments", "events_url": f"{url}/events",
            "html_url": f"{repo['html_url']}/issues/{number}", "assignee": None, "assignees": [],
            "milestone": None, "locked": False, "active_lock_reason": None, "comments": 0,
            "closed_at": STAMP if i["state"] == "closed" else None, "created_at": STAMP, "updated_at": STAMP,
            "author_association": "MEMBER"}


def team(api: str, org: str, slug: str, members: int) -> dict[str, Any]:
    """components/schemas/team-full (its subset, team, for lists)."""
    url = f"{api}/orgs/{org}/teams/{slug}"
    return {"id": ident(f"{org}/{slug}"), "node_id": f"T_{slug}", "slug": slug, "name": slug, "description": None,
            "privacy": "closed", "notification_setting": "notifications_enabled", "permission": "pull",
            "url": url, "html_url": f"https://github.com/orgs/{org}/teams/{slug}",
            "members_url": f"{url}/members{{/member}}", "repositories_url": f"{url}/repos", "parent": None,
            "type": "organization", "members_count": members, "repos_count": 0, "created_at": STAMP,
            "updated_at": STAMP, "organization": organization(api, org)}


def organization(api: str, org: str) -> dict[str, Any]:
    """components/schemas/team-organization."""
    url = f"{api}/orgs/{org}"
    return {"login": org, "id": ident(org), "node_id": f"O_{org}", "url": url, "repos_url": f"{url}/repos",
            "events_url": f"{url}/events", "hooks_url": f"{url}/hooks", "issues_url": f"{url}/issues",
            "members_url": f"{url}/members{{/member}}", "public_members_url": f"{url}/public_members{{/member}}",
            "avatar_url": f"https://github.com/{org}.png", "description": None, "html_url": f"https://github.com/{org}",
            "has_organization_projects": False, "has_repository_projects": False, "public_repos": 0,
            "public_gists": 0, "followers": 0, "following": 0, "type": "Organization", "created_at": STAMP,
            "updated_at": STAMP, "archived_at": None}


def commit(repo: dict[str, Any], sha: str, message: str = "") -> dict[str, Any]:
    """components/schemas/commit."""
    person = {"name": "accessctl", "email": "accessctl@example.invalid", "date": STAMP}
    return {"sha": sha, "node_id": f"C_{sha}", "url": f"{repo['url']}/commits/{sha}",
            "html_url": f"{repo['html_url']}/commit/{sha}", "comments_url": f"{repo['url']}/commits/{sha}/comments",
            "commit": {"url": f"{repo['url']}/git/commits/{sha}", "author": person, "committer": person,
                       "message": message, "comment_count": 0,
                       "tree": {"sha": sha, "url": f"{repo['url']}/git/trees/{sha}"}},
            "author": None, "committer": None, "parents": [], "files": []}
