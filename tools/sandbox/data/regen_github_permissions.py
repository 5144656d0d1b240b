"""Regenerate tools/sandbox/data/github-permissions.json from GitHub's published tables.

Source: the "Permissions required for GitHub Apps" page
(https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps),
as the npm package ``@octokit/app-permissions`` ships it scraped in
``cache/api.github.com.html``. Usage::

    npm pack @octokit/app-permissions@2.1.0 && tar xzf octokit-app-permissions-2.1.0.tgz
    python tools/sandbox/data/regen_github_permissions.py package/cache/api.github.com.html

The page lists, per permission, every endpoint an installation token (IAT)
may call with it. An endpoint listed under several permissions accepts any
one of them (the REST reference renders these as "at least one of the
following permission sets"), so each listing becomes one alternative.
Only the operations the sandbox serves (``USED`` below) are kept.
"""
from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).with_name("github-permissions.json")
# The operations tools/sandbox/github.py serves, as the page spells them.
USED = (
    "GET /repos/{owner}/{repo}",
    "GET /repos/{owner}/{repo}/pulls", "POST /repos/{owner}/{repo}/pulls",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}", "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/files", "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
    "GET /repos/{owner}/{repo}/issues", "POST /repos/{owner}/{repo}/issues",
    "GET /repos/{owner}/{repo}/issues/{issue_number}", "PATCH /repos/{owner}/{repo}/issues/{issue_number}",
    "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "GET /repos/{owner}/{repo}/issues/comments/{comment_id}",
    "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
    "DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}",
    "GET /repos/{owner}/{repo}/commits/{ref}", "GET /repos/{owner}/{repo}/commits/{ref}/statuses",
    "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls",
    "POST /repos/{owner}/{repo}/statuses/{sha}",
    "POST /repos/{owner}/{repo}/check-runs", "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
    "GET /repos/{owner}/{repo}/branches/{branch}",
    "GET /repos/{owner}/{repo}/git/ref/{ref}", "POST /repos/{owner}/{repo}/git/refs",
    "GET /repos/{owner}/{repo}/contents/{path}", "PUT /repos/{owner}/{repo}/contents/{path}",
    "DELETE /repos/{owner}/{repo}/contents/{path}",
    "GET /repos/{owner}/{repo}/branches/{branch}/protection",
    "PUT /repos/{owner}/{repo}/branches/{branch}/protection",
    "DELETE /repos/{owner}/{repo}/branches/{branch}/protection",
    "GET /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks",
    "GET /repos/{owner}/{repo}/branches/{branch}/protection/required_pull_request_reviews",
    "GET /repos/{owner}/{repo}/branches/{branch}/protection/enforce_admins",
    "POST /repos/{owner}/{repo}/branches/{branch}/protection/enforce_admins",
    "DELETE /repos/{owner}/{repo}/branches/{branch}/protection/enforce_admins",
    "GET /repos/{owner}/{repo}/environments/{environment_name}",
    "PUT /repos/{owner}/{repo}/environments/{environment_name}",
    "GET /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies",
    "POST /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies",
    "DELETE /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies/{branch_policy_id}",
    "GET /orgs/{org}/teams", "GET /orgs/{org}/teams/{team_slug}",
    "GET /orgs/{org}/teams/{team_slug}/members",
    "GET /orgs/{org}/teams/{team_slug}/memberships/{username}",
    "PUT /orgs/{org}/teams/{team_slug}/memberships/{username}",
    "DELETE /orgs/{org}/teams/{team_slug}/memberships/{username}",
)
# Page section title -> the permission's key in an installation token's
# ``permissions`` object (components/schemas/app-permissions of the OpenAPI).
TITLES = {"Commit statuses": "statuses", "Pull requests": "pull_requests", "Members": "members",
          "Metadata": "metadata"}

# Corrections, each with the REST reference page that shows the page's table
# is incomplete or too lenient for that operation.
OVERRIDES: dict[str, dict] = {
    # Team reads are missing from the page; each REST page says: "Members"
    # organization permissions (read).
    "GET /orgs/{org}/teams/{team_slug}": {
        "sets": [{"members": "read"}], "source": "https://docs.github.com/en/rest/teams/teams#get-a-team-by-name"},
    "GET /orgs/{org}/teams/{team_slug}/members": {
        "sets": [{"members": "read"}], "source": "https://docs.github.com/en/rest/teams/members#list-team-members"},
    "GET /orgs/{org}/teams/{team_slug}/memberships/{username}": {
        "sets": [{"members": "read"}],
        "source": "https://docs.github.com/en/rest/teams/members#get-team-membership-for-a-user"},
    # Team membership writes (`accessctl teams apply`): missing from the page
    # too; each REST page says: "Members" organization permissions (write).
    # The Actions GITHUB_TOKEN has no `members` scope at all, so it can never
    # change a team (docs: "Permissions for the GITHUB_TOKEN").
    "PUT /orgs/{org}/teams/{team_slug}/memberships/{username}": {
        "sets": [{"members": "write"}],
        "source": "https://docs.github.com/en/rest/teams/members#add-or-update-team-membership-for-a-user"},
    "DELETE /orgs/{org}/teams/{team_slug}/memberships/{username}": {
        "sets": [{"members": "write"}],
        "source": "https://docs.github.com/en/rest/teams/members#remove-team-membership-for-a-user"},
    # The page lists `workflows: write` beside `contents: write`; it is needed
    # in addition (for refs whose commits change .github/workflows), never instead.
    "POST /repos/{owner}/{repo}/git/refs": {
        "sets": [{"contents": "write"}], "source": "https://docs.github.com/en/rest/git/refs#create-a-reference"},
}
SECTION = re.compile(r'<h2 id="(repository|organization)-permissions-for-[^"]*"[^>]*>.*?'
                     r'permissions for &quot;(.*?)&quot;|<h2 id="(repository|organization)-permissions-for-[^"]*"'
                     r'[^>]*>.*?permissions for "(.*?)"', re.S)
ROW = re.compile(r"<tr>\s*<td>\s*<a[^>]*>\s*<span>(\w+)</span>\s*(?:<!-- -->)?\s*([^<\s]+)\s*</a\s*>\s*</td>"
                 r"\s*<td[^>]*>(\w+)</td>\s*<td[^>]*>(.*?)</td>", re.S)


def key(scope: str, title: str) -> str:
    name = TITLES.get(title, title.lower().replace(" ", "_").replace("-", "_"))
    return name if scope == "repository" or name == "members" else f"organization_{name}"


def parse(page: str) -> dict[str, list[dict[str, str]]]:
    table: dict[str, list[dict[str, str]]] = {}
    heads = [(m.start(), m.group(1) or m.group(3), html.unescape(m.group(2) or m.group(4)))
             for m in SECTION.finditer(page)]
    for n, (start, scope, title) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(page)
        for m in ROW.finditer(page, start, end):
            method, path, access, tokens = m.group(1), html.unescape(m.group(2)), m.group(3), m.group(4)
            if "IAT" not in tokens:
                continue
            alt = {key(scope, title): access}
            table.setdefault(f"{method} {path}", [])
            if alt not in table[f"{method} {path}"]:
                table[f"{method} {path}"].append(alt)
    return table


def main(argv: list[str]) -> int:
    table = parse(Path(argv[1]).read_text(encoding="utf-8"))
    for op, fix in OVERRIDES.items():
        table[op] = fix["sets"]
    missing = [op for op in USED if op not in table]
    out = {"source": "https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps",
           "via": "npm @octokit/app-permissions cache/api.github.com.html",
           "semantics": "each operation lists alternative permission sets; any one suffices",
           "operations": {op: sorted(table[op], key=lambda s: json.dumps(s, sort_keys=True))
                          for op in USED if op in table},
           "overrides": {op: fix["source"] for op, fix in OVERRIDES.items()},
           "not_listed": missing}
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(out['operations'])} operations, not listed: {missing}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
