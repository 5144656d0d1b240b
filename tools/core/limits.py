"""What the clouds accept in the fields the pipeline writes, checked before any call.

Each rule is the cloud's own published limit, so a request that could never
be written fails at validation, with a fix, instead of at CreateRole or
CreateServiceAccount on every apply. Pure functions (no SDK): validation,
the connectors and the sandbox fakes share them, so all three agree.
"""
from __future__ import annotations

import re
import unicodedata

# AWS IAM, botocore/data/iam/2010-05-08/service-2.json, shape roleDescriptionType:
#   {"type": "string", "max": 1000, "pattern": "[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*"}
AWS_ROLE_DESCRIPTION_MAX = 1000
AWS_ROLE_DESCRIPTION = re.compile("[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*")
# Same model, shape roleNameType: {"max": 64, "min": 1, "pattern": "[\w+=,.@-]+"}
AWS_ROLE_NAME_MAX = 64
AWS_ROLE_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
# Same model, shape tagValueType: {"max": 256, "pattern": "[\p{L}\p{Z}\p{N}_.:/=+\-@]*"}
AWS_TAG_VALUE_MAX = 256
_TAG_EXTRA = set("_.:/=+-@")
# GCP IAM v1 discovery document (iam.v1.json, shipped in google-api-python-client):
# schemas.CreateServiceAccountRequest.properties.accountId: "must be 6-30 characters long, and
# match the regular expression `[a-z]([-a-z0-9]*[a-z0-9])`"; schemas.ServiceAccount.properties
# .description: "The maximum length is 256 UTF-8 bytes."
GCP_ACCOUNT_ID = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])$")
GCP_ACCOUNT_ID_LENGTH = (6, 30)
GCP_DESCRIPTION_BYTES = 256
# https://cloud.google.com/iam/docs/conditions-overview ("Conditions in allow policies"):
# "You cannot use conditions when you grant legacy basic roles, including Owner
# (roles/owner), Editor (roles/editor), and Viewer (roles/viewer)", nor to allUsers /
# allAuthenticatedUsers.
GCP_BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
GCP_PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})


def aws_role_description_problem(text: str) -> str | None:
    """Why IAM would refuse ``text`` as a role description, or None."""
    if len(text) > AWS_ROLE_DESCRIPTION_MAX:
        return f"is {len(text)} characters, over IAM's {AWS_ROLE_DESCRIPTION_MAX} for a role description"
    bad = sorted({c for c in text if not AWS_ROLE_DESCRIPTION.fullmatch(c)})
    if bad:
        shown = " ".join(f"{c!r} (U+{ord(c):04X})" for c in bad[:5])
        return (f"has characters IAM refuses in a role description: {shown}; only tab, newline and "
                "Latin-1 printable characters are allowed (write straight quotes ' \" and a hyphen -)")
    return None


def _tag_char_ok(c: str) -> bool:
    return unicodedata.category(c)[0] in "LZN" or c in _TAG_EXTRA


def aws_tag_value_problem(value: str) -> str | None:
    """Why IAM would refuse ``value`` as a tag value, or None."""
    if len(value) > AWS_TAG_VALUE_MAX:
        return f"is {len(value)} characters, over IAM's {AWS_TAG_VALUE_MAX} for a tag value"
    bad = sorted({c for c in value if not _tag_char_ok(c)})
    if bad:
        return ("has characters IAM refuses in a tag value: " + " ".join(repr(c) for c in bad[:5])
                + "; use letters, digits, spaces and _ . : / = + - @")
    return None


def aws_role_name_problem(name: str) -> str | None:
    if not 1 <= len(name) <= AWS_ROLE_NAME_MAX:
        return f"is {len(name)} characters; IAM role names are 1-{AWS_ROLE_NAME_MAX}"
    if not AWS_ROLE_NAME.fullmatch(name):
        return "may hold only letters, digits and + = , . @ _ - in an IAM role name"
    return None


def gcp_account_id_problem(name: str) -> str | None:
    low, high = GCP_ACCOUNT_ID_LENGTH
    if not low <= len(name) <= high:
        return f"is {len(name)} characters; GCP service account ids are {low}-{high}"
    if not GCP_ACCOUNT_ID.match(name):
        return "must start with a letter, end with a letter or digit, and hold only a-z, 0-9 and -"
    return None


def gcp_basic_role(role: str) -> bool:
    return role in GCP_BASIC_ROLES


# https://cloud.google.com/iam/quotas (allow policies) and
# https://cloud.google.com/iam/docs/allow-policies: at most 1,500 principals per
# policy (each occurrence counts) and 250 Google groups (each counted once) or
# domains (each occurrence counts).
GCP_MAX_PRINCIPALS = 1500
GCP_MAX_GROUPS_AND_DOMAINS = 250


def gcp_policy_problem(old: list[tuple[str, tuple[str, ...], bool]],
                       new: list[tuple[str, tuple[str, ...], bool]]) -> str | None:
    """Why GCP would refuse writing ``new`` over ``old`` (bindings as
    (role, members, has_condition)), or None. A limit already exceeded before
    the write only counts if the write makes it worse, so revocations always pass."""
    for role, members, conditional in new:
        public = sorted(set(members) & GCP_PUBLIC_MEMBERS)
        if public:
            # cloudresourcemanager.v3.json, projects.setIamPolicy: "Project does not support
            # allUsers and allAuthenticatedUsers as members in a Binding of a Policy."
            return f"{role} names {public[0]}, which GCP refuses on projects"
        if conditional and gcp_basic_role(role):
            return (f"{role} is a GCP basic role, and GCP refuses IAM conditions on basic roles "
                    "(https://cloud.google.com/iam/docs/conditions-overview)")

    def counts(bindings: list[tuple[str, tuple[str, ...], bool]]) -> tuple[int, int]:
        total = sum(len(m) for _, m, _ in bindings)
        groups = {x for _, m, _ in bindings for x in m if x.startswith("group:")}
        domains = sum(1 for _, m, _ in bindings for x in m if x.startswith("domain:"))
        return total, len(groups) + domains

    (total, grouped), (was_total, was_grouped) = counts(new), counts(old)
    if total > GCP_MAX_PRINCIPALS and total > was_total:
        return (f"the policy would hold {total:,} principals, over GCP's limit of {GCP_MAX_PRINCIPALS:,} per "
                "policy; grant to a group (one principal) instead of many people")
    if grouped > GCP_MAX_GROUPS_AND_DOMAINS and grouped > was_grouped:
        return (f"the policy would name {grouped} groups and domains, over GCP's limit of "
                f"{GCP_MAX_GROUPS_AND_DOMAINS}")
    return None


GCP_ACCOUNT_MARKER = "managed-by: accessctl"


def gcp_account_description(purpose: str, owner: str, request: str, expires: str) -> str:
    """The description the pipeline writes on its service accounts (GCP has no
    labels on them): ``<purpose> | owner: … | request: … | expires: … | managed-by: accessctl``.
    Here so that validation measures exactly what the connector will write."""
    return f"{purpose} | owner: {owner} | request: {request} | expires: {expires} | {GCP_ACCOUNT_MARKER}"
