"""Checks on ServiceAccount files that need the cloud's limits or the org model.

Run by validation, so a CI role or service account that the cloud would
refuse, or that would touch the pipeline's own identities or trust a
repository outside the organisation, fails on the PR with a fix instead of
failing (or worse, succeeding) at apply:

- AWS: the role name, the description (``purpose``) against IAM's pattern and
  length, the tag values the connector writes (``request``: the file path);
- GCP: the account id's length and form, the description's 256 bytes;
- both: reserved names; AWS: the OIDC trust's repository and ref.
"""
from __future__ import annotations

from tools.core import limits, ownership
from tools.core.expiry import format_expiry
from tools.core.orgmodel import OrgModel
from tools.request.load import RequestFile, ServiceAccount


def check(rf: RequestFile, sa: ServiceAccount, org: OrgModel) -> None:
    """Append findings for ``sa`` to ``rf``."""
    reserved = ownership.reserved_name_problem(org.raw, sa.provider, sa.name)
    if reserved:
        rf.finding(f"service account name {sa.name!r}: {reserved}", "choose another name", at=("name",))
    if sa.provider == "aws":
        _aws(rf, sa, org)
    elif sa.provider == "gcp":
        _gcp(rf, sa)


def _aws(rf: RequestFile, sa: ServiceAccount, org: OrgModel) -> None:
    problem = limits.aws_role_name_problem(sa.name)
    if problem:
        rf.finding(f"CI role name {sa.name!r} {problem}", "choose a shorter name of letters, digits and -",
                   at=("name",))
    if sa.purpose is not None:
        problem = limits.aws_role_description_problem(sa.purpose)
        if problem:
            rf.finding(f"`purpose` becomes the IAM role's description, and it {problem}",
                       "rewrite `purpose` in plain ASCII (botocore iam service model, roleDescriptionType)",
                       at=("purpose",))
    for tag, value in (("request", rf.path), ("owner", sa.owner or "")):
        problem = limits.aws_tag_value_problem(value)
        if problem:
            rf.finding(f"the role's `{tag}` tag would be {value!r}, which {problem}",
                       "rename the file" if tag == "request" else "use a team key", at=(tag,) if tag == "owner" else ())
    if sa.oidc_repository is not None or sa.oidc_ref is not None:
        problem = ownership.oidc_problem(org.raw, sa.oidc_repository, sa.oidc_ref)
        if problem:
            rf.finding(f"OIDC trust of {sa.ref}: {problem}", "trust one repository of the organisation and one "
                       "branch, tag or environment", at=("oidc",))


def _gcp(rf: RequestFile, sa: ServiceAccount) -> None:
    problem = limits.gcp_account_id_problem(sa.name)
    if problem:
        rf.finding(f"service account name {sa.name!r} {problem}", "choose a name of 6-30 characters: a-z, 0-9, -",
                   at=("name",))
    if sa.purpose is None:
        return
    expires = format_expiry(sa.expires) if sa.expires else "never"
    text = limits.gcp_account_description(sa.purpose, sa.owner or "", rf.path, expires)
    size = len(text.encode())
    if size > limits.GCP_DESCRIPTION_BYTES:
        rf.finding(f"`purpose` goes into the service account's description with the owner, request path and expiry; "
                   f"that would be {size} bytes, over GCP's {limits.GCP_DESCRIPTION_BYTES}",
                   f"shorten `purpose` by {size - limits.GCP_DESCRIPTION_BYTES} bytes", at=("purpose",))
