"""The GitHub side of a run, from the standard Actions environment.

Commands that talk to GitHub read ``GITHUB_REPOSITORY``, ``ACCESSCTL_GITHUB_TOKEN``
(the pipeline App's token, when set) or ``GITHUB_TOKEN``
and ``GITHUB_API_URL`` (what Actions sets) so workflows stay thin; flags
override them for local runs. Without them, GitHub features are skipped
and the command says so rather than failing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from tools.core.errors import UsageError


# The pipeline's one GitHub App (README "The pipeline's GitHub App"): the
# permissions it is created with. The workflow token cannot post a check run
# that branch protection attributes to this App, start workflows with the PRs
# it opens, or read or change organisation teams; an installation token of the App can.
APP_PERMISSION_USES: dict[str, tuple[str, str, str]] = {  # permission -> (scope, level, what for)
    "checks": ("repository", "write", "the `accessctl/check-pr` check run: the gate"),
    "contents": ("repository", "write", "branches and commits of the cleanup and renew PRs expire opens"),
    "issues": ("repository", "write", "drift, break-glass and unapproved-change issues; expiry reminders"),
    "pull_requests": ("repository", "write", "the PR comment; the cleanup and renew PRs"),
    "metadata": ("repository", "read", "required by GitHub with any repository permission"),
    "members": ("organization", "write", "`accessctl teams check` reads and `teams apply` writes team membership"),
}
APP_PERMISSIONS: dict[str, str] = {k: level for k, (_, level, _) in APP_PERMISSION_USES.items()}


def app_permissions_markdown() -> str:
    """The README's table of the App's permissions (a test keeps them equal)."""
    rows = [f"| {scope} | `{name}` | {level} | {why} |" for name, (scope, level, why) in APP_PERMISSION_USES.items()]
    return "| scope | permission | access | what for |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"


TOKEN_VARIABLES = ("ACCESSCTL_GITHUB_TOKEN", "GITHUB_TOKEN")


def github_token() -> str | None:
    """The App token when the workflow minted one (``ACCESSCTL_GITHUB_TOKEN``),
    else the workflow's ``GITHUB_TOKEN``."""
    return next((os.environ[v] for v in TOKEN_VARIABLES if os.environ.get(v)), None)


@dataclass(frozen=True)
class GitHubEnv:
    repository: str
    token: str
    api_url: str

    @classmethod
    def from_env(cls, repository: str | None = None) -> "GitHubEnv | None":
        repository = repository or os.environ.get("GITHUB_REPOSITORY")
        token = github_token()
        if not repository or not token:
            return None
        if "/" not in repository:
            raise UsageError(f"GitHub repository {repository!r} must look like owner/name")
        return cls(repository, token, os.environ.get("GITHUB_API_URL", "https://api.github.com"))


def client(repository: str | None = None):
    """The GitHub connector for this run, or None when there is no GitHub context."""
    env = GitHubEnv.from_env(repository)
    if env is None:
        return None
    from connectors.github import GitHubConnector  # only when GitHub is used
    return GitHubConnector(env.repository, token=env.token, base_url=env.api_url)
