"""The shared vocabulary of the pipeline.

Every stage (validate, evaluate, plan, apply, reconcile, audit, the PR
comment) speaks in these types, so a grant means the same thing everywhere.
Nothing here talks to a cloud: connectors translate to and from SDK shapes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Mapping


class Tier(str, Enum):
    STANDARD = "standard"
    SENSITIVE = "sensitive"
    PRIVILEGED = "privileged"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who receives access, in one canonical string form.

    ``user:<email>``, ``group:<team>`` or ``serviceAccount:<target>/<name>``.
    The string form is what request files, policy input and the diff use;
    connectors map it to cloud identities (IAM user, identity-store group,
    ``serviceAccount:name@project.iam.gserviceaccount.com`` …).
    """

    type: str  # "user" | "group" | "serviceAccount"
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> "Principal":
        kind, sep, ident = text.partition(":")
        if not sep or kind not in ("user", "group", "serviceAccount") or not ident:
            raise ValueError(
                f"principal {text!r} must look like user:<email>, group:<team> "
                "or serviceAccount:<account-or-project>/<name>"
            )
        if kind == "user":
            ident = ident.lower()
        return cls(kind, ident)


@dataclass(frozen=True, slots=True)
class GrantKind:
    """One provider feature a request can ask for.

    New kinds are added to ``KINDS`` below and nowhere else in the core:
    the schema, validator, policy input and diff read these fields.
    """

    name: str  # e.g. "gcp-project-role"
    provider: str  # "aws" | "gcp"
    target_field: str  # "account" | "project"
    entitlement_field: str  # "group" | "permission_set" | "policy" | "role"
    principal_types: tuple[str, ...]
    description: str


KINDS: dict[str, GrantKind] = {
    k.name: k
    for k in (
        GrantKind("aws-iam-group", "aws", "account", "group", ("user",),
                  "membership of an IAM group in an AWS account"),
        GrantKind("aws-sso-assignment", "aws", "account", "permission_set", ("user", "group"),
                  "an IAM Identity Center permission set assigned in an AWS account"),
        GrantKind("aws-role-policy", "aws", "account", "policy", ("serviceAccount",),
                  "a managed policy attached to a CI role (ServiceAccount) in an AWS account"),
        GrantKind("gcp-project-role", "gcp", "project", "role", ("user", "group", "serviceAccount"),
                  "a role binding on a GCP project"),
    )
}

# Kinds for non-human identities themselves (defined by ServiceAccount files).
# Their grants have the identity as principal and its name as entitlement;
# attributes hold owner, purpose and (AWS) the OIDC repository and ref.
IDENTITY_KINDS = {"aws": "aws-ci-role", "gcp": "gcp-service-account"}
# A third-party integration on AWS is an IAM user (its access key is the one
# long-lived secret the pipeline issues); every other AWS identity is a role.
AWS_INTEGRATION_KIND = "aws-integration-user"
ALL_IDENTITY_KINDS = frozenset({*IDENTITY_KINDS.values(), AWS_INTEGRATION_KIND})


def identity_kind(provider: str, use: str) -> str:
    """The grant kind of a ServiceAccount file's identity."""
    return AWS_INTEGRATION_KIND if provider == "aws" and use == "integration" else IDENTITY_KINDS[provider]

# Kinds whose expiry the cloud itself stores and enforces (an IAM condition,
# a trust-policy condition): a live expiry differing from the request is drift.
EXPIRY_KINDS = {"gcp-project-role", "aws-ci-role", "gcp-service-account", "aws-integration-user"}


@dataclass(frozen=True, slots=True)
class Grant:
    """One piece of access, desired (from a request file) or live (from a cloud).

    ``key`` is the identity used by the diff: two grants with the same key are
    the same access; any other difference (expiry, attributes) is an update.
    ``attributes`` carries kind-specific settings compared by the diff, e.g.
    the OIDC trust of a CI role, as a sorted tuple so grants stay hashable.
    """

    provider: str
    target: str  # AWS account id (12 digits) or GCP project id
    principal: str  # canonical Principal string
    kind: str  # a KINDS name, or an IDENTITY_KINDS value
    entitlement: str  # group / permission set / policy / role / identity name
    expires: datetime | None = None
    request: str | None = None  # repository path of the request file
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.provider, self.target, self.principal, self.kind, self.entitlement)

    def attr(self, name: str, default: str | None = None) -> str | None:
        return dict(self.attributes).get(name, default)


class Action(str, Enum):
    ADD = "add"
    REMOVE = "remove"
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class Change:
    """What must happen to one grant, and why. Shared by plan, apply,
    reconcile, the PR comment and audit so they never disagree."""

    action: Action
    grant: Grant  # the desired grant for add/update, the live one for remove
    current: Grant | None = None  # live grant (update/remove)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChangeResult:
    change: Change
    ok: bool
    error: str | None = None
    calls: int = 0


@dataclass(frozen=True, slots=True)
class Target:
    """An account or project, with what the pipeline owns in it."""

    provider: str
    id: str  # account id / project id
    name: str  # account name / project id
    environment: str
    owner: str  # owning team key
    mode: str  # "enforced" | "additive" | "report-only"
    managed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # managed: kind name -> entitlements the pipeline owns there
    # AWS: the ARN of the permissions boundary every agent role carries
    # (org model aws.agent_permissions_boundary), "" when none is set.
    agent_boundary: str = ""

    def manages(self, kind: str, entitlement: str) -> bool:
        return entitlement in self.managed.get(kind, ())


def as_json(value: Any) -> Any:
    """Plain JSON view of model objects, for --format json and policy input."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Grant):
        out = {
            "provider": value.provider, "target": value.target, "principal": value.principal,
            "kind": value.kind, "entitlement": value.entitlement,
            "expires": as_json(value.expires), "request": value.request,
        }
        if value.attributes:
            out["attributes"] = dict(value.attributes)
        return out
    if isinstance(value, Change):
        return {"action": value.action.value, "grant": as_json(value.grant),
                "current": as_json(value.current), "reason": value.reason}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value
