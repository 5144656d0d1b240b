"""What hangs off a pipeline-owned GCP service account: its user-managed keys
and its own IAM policy (who may act as it).

The pipeline owns its service accounts whole (issue 13), as it owns its AWS
CI roles: a user-managed key it did not create and a binding on the
account's policy it did not write are live access nobody requested, read
here as grants of their own kinds, so the diff reports them as extra,
``reconcile --mode fix`` removes them and ``import`` never adopts them
(neither kind can be requested).

An AI agent's account (use: agent) has exactly one binding the pipeline
writes: ``roles/iam.serviceAccountTokenCreator`` for its runtime principal,
with the same expiry condition as every other grant. It is read back as the
identity's ``runtime`` attribute; a missing or changed one is an update.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.gcp_emulation import policy_pb2
from connectors.gcp_policy import expiry_condition, parse_condition

KEY_KIND = "gcp-service-account-key"  # live only: a user-managed key on a pipeline-owned account
BINDING_KIND = "gcp-service-account-binding"  # live only: a binding on its policy the pipeline did not write
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
# ListServiceAccountKeysRequest.KeyType.USER_MANAGED (iam.v1.json, keyTypes enum)
USER_MANAGED = 1


def key_id(name: str) -> str:
    return name.rpartition("/keys/")[2]


def runtime_binding(policy: policy_pb2.Policy) -> tuple[str | None, datetime | None]:
    """The agent runtime (member) and expiry of the binding the pipeline wrote, if any."""
    for b in policy.bindings:
        if b.role != TOKEN_CREATOR or len(b.members) != 1 or not b.HasField("condition"):
            continue
        expires, request = parse_condition(_cond(b))
        if request is not None:
            return b.members[0], expires
    return None, None


def foreign_bindings(policy: policy_pb2.Policy) -> list[str]:
    """Every (role, member) on the account's policy except the runtime binding,
    as ``"<role> <member>"`` (the grant's entitlement)."""
    ours, _ = runtime_binding(policy)
    out = []
    for b in policy.bindings:
        mine = b.role == TOKEN_CREATOR and b.HasField("condition") and parse_condition(_cond(b))[1] is not None
        for m in b.members:
            if not (mine and m == ours):
                out.append(f"{b.role} {m}")
    return sorted(set(out))


def with_runtime(policy: policy_pb2.Policy, member: str, request: str, expires: datetime) -> policy_pb2.Policy:
    """The policy with the pipeline's runtime binding replaced by one for ``member``;
    everything else as read (the etag too, so a concurrent write is a conflict)."""
    out = policy_pb2.Policy()
    out.CopyFrom(policy)
    del out.bindings[:]
    for b in policy.bindings:
        if b.role == TOKEN_CREATOR and b.HasField("condition") and parse_condition(_cond(b))[1] is not None:
            continue
        out.bindings.append(b)
    cond = expiry_condition(request, expires)
    binding = policy_pb2.Binding(role=TOKEN_CREATOR, members=[member])
    binding.condition.expression, binding.condition.title = cond.expression, cond.title
    binding.condition.description = cond.description
    out.bindings.append(binding)
    out.version = 3  # conditions need version 3
    return out


def without(policy: policy_pb2.Policy, entitlement: str) -> policy_pb2.Policy | None:
    """The policy without one foreign (role, member); None when already gone."""
    role, _, member = entitlement.partition(" ")
    out = policy_pb2.Policy()
    out.CopyFrom(policy)
    del out.bindings[:]
    changed = False
    for b in policy.bindings:
        if b.role == role and member in b.members:
            changed = True
            kept = [m for m in b.members if m != member]
            if not kept:
                continue
            nb = policy_pb2.Binding()
            nb.CopyFrom(b)
            del nb.members[:]
            nb.members.extend(kept)
            out.bindings.append(nb)
        else:
            out.bindings.append(b)
    if any(b.HasField("condition") for b in out.bindings):
        out.version = 3
    return out if changed else None


def _cond(b: Any):
    from connectors.gcp_policy import Condition
    c = b.condition
    return Condition(c.expression, c.title, c.description, c.location)
