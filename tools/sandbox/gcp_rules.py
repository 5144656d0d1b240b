"""The rules the real Resource Manager applies to a project's IAM policy on write.

Written from Google's documentation, independently of the connector's own
pre-flight checks (``tools.core.limits``): a rule both sides got wrong the
same way would prove nothing. Each rule cites its source. ``policy_error``
returns the 400 message GCP would answer, or None.
"""
from __future__ import annotations

import json
import re
from typing import Callable

# Discovery document cloudresourcemanager.v3.json, schemas.Binding.properties.members:
# the member forms a binding accepts (deleted:… forms are what GCP writes back for
# deleted principals, `deleted:serviceAccount:{emailid}?uid={uniqueid}`).
MEMBER = re.compile(r"^(user|group|serviceAccount|domain):\S+$|"
                    r"^deleted:(user|group|serviceAccount):\S+\?uid=\d+$|"
                    r"^(allUsers|allAuthenticatedUsers)$|^principal(Set)?://\S+$")
# https://cloud.google.com/iam/docs/conditions-overview, "Conditions in allow policies":
# no conditions on the basic roles, nor when granting to allUsers / allAuthenticatedUsers.
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
PUBLIC = ("allUsers", "allAuthenticatedUsers")
# https://cloud.google.com/iam/quotas (Limits, allow policies) and
# https://cloud.google.com/iam/docs/allow-policies ("Limits on all principals"): at most
# 1,500 principals per policy, every occurrence counted; at most 250 of them Google
# groups (each counted once) or domains (every occurrence counted).
MAX_PRINCIPALS = 1500
MAX_GROUPS_AND_DOMAINS = 250
# Same pages: at most 20 role bindings with the same role and principal but
# different conditions.
MAX_SAME_ROLE_AND_PRINCIPAL = 20
# The allow-policies page says long identifiers and conditions make IAM accept fewer
# than 1,500 principals, i.e. the policy also has a size bound, but Google publishes
# no byte figure. The fake's bound is an assumption (configurable on FakeGcp).
DEFAULT_MAX_POLICY_BYTES = 64 * 1024
SA_EMAIL = re.compile(r"^([a-z][-a-z0-9]*)@([a-z][-a-z0-9]*)\.iam\.gserviceaccount\.com$")


def policy_error(bindings: list[dict], version: int, old_bindings: list[dict],
                 account_state: Callable[[str], str], max_bytes: int) -> str | None:
    """The message of the 400 INVALID_ARGUMENT GCP answers for this write, or None.

    ``account_state(email)`` says whether a service account the fake hosts is
    ``"ok"``, ``"missing"`` or ``"propagating"`` (created, not yet visible to
    IAM); ``"unknown"`` for accounts of projects the fake does not host."""
    for b in bindings:
        if not b.get("role") or not b.get("members"):
            return "Policy bindings need a role and at least one member."
        for m in b["members"]:
            if not MEMBER.match(m):
                return f"Invalid principal: {m}."
            if m in PUBLIC:
                # cloudresourcemanager.v3.json, resources.projects.methods.setIamPolicy.description:
                # "Project does not support allUsers and allAuthenticatedUsers as members".
                return f"Project does not support {m} as a member in a Binding of a Policy."
        if b.get("condition") and b["role"] in BASIC_ROLES:
            return (f"Role {b['role']} is a basic role; conditions are not supported for basic roles "
                    "(https://cloud.google.com/iam/docs/conditions-overview).")
    if any(b.get("condition") for b in bindings) and version != 3:
        # Policy.version in the same discovery document: "Any operation that affects
        # conditional role bindings must specify version 3".
        return (f"Conditions can only be used with policy version 3 (got version {version}); "
                "set policy.version to 3.")
    error = _owner_invitation(bindings, old_bindings) or _counts(bindings)
    if error:
        return error
    size = len(json.dumps({"bindings": bindings, "version": version}, separators=(",", ":")))
    if size > max_bytes:
        return f"The size of the policy ({size:,} bytes) is larger than the maximum allowed size {max_bytes:,}."
    for b in bindings:
        for m in b["members"]:
            kind, _, email = m.partition(":")
            if kind == "serviceAccount" and account_state(email) in ("missing", "propagating"):
                # Service accounts must exist (and be visible to IAM, which is eventually
                # consistent: https://cloud.google.com/iam/docs/access-change-propagation).
                return f"Service account {email} does not exist."
    return None


def _owner_invitation(bindings: list[dict], old_bindings: list[dict]) -> str | None:
    """setIamPolicy's description: "A user cannot be granted the owner role using
    setIamPolicy()" (the user must accept an invitation from the console)."""
    had = {m for b in old_bindings if b.get("role") == "roles/owner" for m in b.get("members", [])}
    for b in bindings:
        if b.get("role") != "roles/owner":
            continue
        for m in b["members"]:
            if m.startswith("user:") and m not in had:
                return f"User {m[5:]} cannot be granted the owner role by setIamPolicy; invite them in the console."
    return None


def _counts(bindings: list[dict]) -> str | None:
    total = sum(len(b["members"]) for b in bindings)
    if total > MAX_PRINCIPALS:
        # The real API's wording, as users report it (e.g. kubeflow/pipelines#1146).
        return f"The number of members in the policy ({total:,}) is larger than the maximum allowed size 1,500."
    groups = {m for b in bindings for m in b["members"] if m.startswith("group:")}
    domains = sum(1 for b in bindings for m in b["members"] if m.startswith("domain:"))
    if len(groups) + domains > MAX_GROUPS_AND_DOMAINS:
        return (f"The number of groups and domains in the policy ({len(groups) + domains}) is larger than "
                f"the maximum allowed {MAX_GROUPS_AND_DOMAINS}.")
    same: dict[tuple[str, str], int] = {}
    for b in bindings:
        for m in b["members"]:
            same[(b["role"], m)] = same.get((b["role"], m), 0) + 1
    over = next((k for k, n in same.items() if n > MAX_SAME_ROLE_AND_PRINCIPAL), None)
    if over:
        return (f"{over[1]} holds {over[0]} in more than {MAX_SAME_ROLE_AND_PRINCIPAL} role bindings with "
                "different conditions.")
    return None
