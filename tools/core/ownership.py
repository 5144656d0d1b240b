"""The pipeline's own identities and the repositories a CI role may trust.

Two rules of "the applier owns only what it created" that need the org
model, shared by validation (which refuses the request with a fix) and the
connectors (which refuse the write, in case a file got past validation):

- the names of the pipeline's own identities (the applier role and service
  account, the read-only planner) are reserved, as is everything starting
  with ``accessctl``: a request cannot define, re-trust or re-describe them;
- a CI role's OIDC trust names only repositories of the organisation
  (``organization.github_org``), or of ``organization.oidc_repositories``
  when that explicit allow-list is set, and one ref or environment.
"""
from __future__ import annotations

import re
from typing import Any

RESERVED_PREFIX = "accessctl"
_DEFAULT_NAMES = {"aws": (("aws", "applier_role", "accessctl-applier"), ("aws", "planner_role", "accessctl-planner")),
                  "gcp": (("gcp", "applier_service_account", "accessctl-applier"),
                          ("gcp", "planner_service_account", "accessctl-planner"))}
# GitHub's OIDC subject for a branch or tag (`repo:OWNER/REPO:ref:refs/heads/NAME`) or an
# environment (`repo:OWNER/REPO:environment:NAME`); a trailing * is a prefix match.
# https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims
OIDC_REF = re.compile(r"^(refs/(heads|tags)/|environment:)[^*\s]+\*?$")


def _setting(raw: dict[str, Any], *path: str) -> Any:
    node: Any = raw
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def reserved_names(raw: dict[str, Any], provider: str) -> set[str]:
    """The configured names of the pipeline's own identities in ``provider``."""
    return {str(_setting(raw, *path) or default) for *path, default in _DEFAULT_NAMES.get(provider, ())}


def reserved_name_problem(raw: dict[str, Any], provider: str, name: str) -> str | None:
    if name in reserved_names(raw, provider):
        return f"{name!r} is the pipeline's own identity; a request may never define, trust or describe it"
    if name.lower().startswith(RESERVED_PREFIX):
        return f"names starting with {RESERVED_PREFIX!r} are reserved for the pipeline's own identities"
    return None


def allowed_repositories(raw: dict[str, Any]) -> tuple[list[str], str | None]:
    """(explicit allow-list, organisation) from the org model."""
    listed = _setting(raw, "organization", "oidc_repositories") or []
    return [str(r) for r in listed], _setting(raw, "organization", "github_org")


def oidc_problem(raw: dict[str, Any], repository: str | None, ref: str | None) -> str | None:
    """Why a CI role may not trust ``repository`` at ``ref``, listing what is allowed; or None."""
    listed, org = allowed_repositories(raw)
    repository = repository or ""
    if listed:
        if repository.lower() not in {r.lower() for r in listed}:
            return (f"repository {repository!r} is not one the organisation lets CI roles trust; allowed: "
                    + ", ".join(sorted(listed)) + " (organization.oidc_repositories)")
    elif not org:
        return "organization.github_org is not set, so no repository may be trusted"
    else:
        owner, _, name = repository.partition("/")
        if owner.lower() != str(org).lower() or not name or "*" in name:
            return (f"repository {repository!r} is outside the organisation; allowed: {org}/<repository> "
                    "(organization.github_org), one repository, no wildcard")
    if not OIDC_REF.match(ref or ""):
        return (f"ref {ref!r} is not a branch, tag or environment; allowed: refs/heads/<branch>, "
                "refs/tags/<tag> or environment:<name> (a trailing * matches a prefix)")
    return None
