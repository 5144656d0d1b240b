"""The GitHub side of a run, from the standard Actions environment.

Commands that talk to GitHub read ``GITHUB_REPOSITORY``, ``GITHUB_TOKEN``
and ``GITHUB_API_URL`` (what Actions sets) so workflows stay thin; flags
override them for local runs. Without them, GitHub features are skipped
and the command says so rather than failing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from tools.core.errors import UsageError


@dataclass(frozen=True)
class GitHubEnv:
    repository: str
    token: str
    api_url: str

    @classmethod
    def from_env(cls, repository: str | None = None) -> "GitHubEnv | None":
        repository = repository or os.environ.get("GITHUB_REPOSITORY")
        token = os.environ.get("GITHUB_TOKEN")
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
