"""Service accounts the pipeline owns: how ownership is written and read back.

GCP has no labels on service accounts, so ownership, purpose, the request
file and the expiry live in the description (at most 256 bytes), ending in
the marker ``managed-by: accessctl``. Only accounts carrying the marker are
ever read as grants, updated, disabled or deleted.
"""
from __future__ import annotations

import re
from datetime import datetime

from tools.core.expiry import format_expiry, parse_expiry
from tools.core.limits import GCP_ACCOUNT_MARKER, GCP_DESCRIPTION_BYTES, gcp_account_description
from tools.core.model import IDENTITY_KINDS, Grant

MARKER = GCP_ACCOUNT_MARKER
DESCRIPTION_LIMIT = GCP_DESCRIPTION_BYTES  # bytes, GCP's limit
KIND = IDENTITY_KINDS["gcp"]
_FORMAT = re.compile(r"^(?P<purpose>.*) \| owner: (?P<owner>[^|]*) \| request: (?P<request>[^|]*)"
                     r" \| expires: (?P<expires>[^|]*) \| " + re.escape(MARKER) + r"$", re.S)


def describe(grant: Grant) -> str:
    """``<purpose> | owner: <team> | request: <path> | expires: <ts> | managed-by: accessctl``.

    The expiry is stored because a service account's expiry is enforced by
    the pipeline and a changed one must show as drift. Raises ValueError when
    the result would not fit GCP's limit (a too-long purpose)."""
    expires = format_expiry(grant.expires) if grant.expires else "never"
    text = gcp_account_description(grant.attr("purpose", "") or "", grant.attr("owner", "") or "",
                                   grant.request or "", expires)
    size = len(text.encode())
    if size > DESCRIPTION_LIMIT:
        raise ValueError(f"the service account description would be {size} bytes, over GCP's "
                         f"{DESCRIPTION_LIMIT}; shorten `purpose` in {grant.request} by {size - DESCRIPTION_LIMIT} "
                         "characters")
    return text


def is_managed(description: str) -> bool:
    return MARKER in description


def account_grant(project: str, email: str, description: str, disabled: bool) -> Grant:
    """A managed account as a canonical identity grant. A description edited
    by hand still reads as managed, with whatever it holds, so the diff
    proposes rewriting it."""
    name = email.partition("@")[0]
    m = _FORMAT.match(description)
    attrs = {"purpose": description, "owner": ""}
    expires: datetime | None = None
    request: str | None = None
    if m:
        attrs = {"purpose": m.group("purpose"), "owner": m.group("owner")}
        request = m.group("request") or None
        try:
            expires = parse_expiry(m.group("expires"))
        except ValueError:
            expires = None
    if disabled:
        attrs["disabled"] = "true"
    return Grant("gcp", project, f"serviceAccount:{project}/{name}", KIND, name, expires, request,
                 tuple(sorted(attrs.items())))


def resource_name(project: str, name: str) -> str:
    return f"projects/{project}/serviceAccounts/{name}@{project}.iam.gserviceaccount.com"
