"""An in-memory cloud behind the Connector interface (tools/core/connector.py).

For tests of the core's orchestration (batching, modes, sharding, drift
bookkeeping); the real connectors are tested against loopback clouds.
"""
from __future__ import annotations

from dataclasses import replace

from tools.core.model import Action, ChangeResult, Grant, Target
from tools.core.orgmodel import OrgModel


class MemoryCloud:
    """Live grants per target; records every read and every applied batch."""

    def __init__(self):
        self.grants: set[Grant] = set()
        self.reads: list[str] = []
        self.batches: list[tuple[str, int]] = []
        self.fail: set[str] = set()  # principals whose changes fail
        self.revoked_sessions: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, str]] = []

    def connector(self, provider: str, org: OrgModel):
        cloud = self

        class Conn:
            PERMISSIONS = {"read": ("x:Read",), "apply": ("x:Write",)}

            def read(self, target: Target):
                cloud.reads.append(target.id)
                return [g for g in cloud.grants if g.provider == provider and g.target == target.id]

            def apply(self, target, changes):
                cloud.batches.append((target.id, len(changes)))
                out = []
                for c in changes:
                    if c.grant.principal in cloud.fail:
                        out.append(ChangeResult(c, False, "AccessDenied"))
                        continue
                    if c.action is Action.REMOVE and c.grant.kind == "gcp-service-account":
                        cloud.grants.discard(c.grant)  # like GCP: removal disables, deletion comes later
                        cloud.grants.add(replace(c.grant, attributes=tuple(sorted(
                            {**dict(c.grant.attributes), "disabled": "true"}.items()))))
                    elif c.action is Action.REMOVE:
                        cloud.grants.discard(c.grant)
                    else:
                        if c.current:
                            cloud.grants.discard(c.current)
                        cloud.grants.add(c.grant)
                    out.append(ChangeResult(c, True, None, 1))
                return out

            def revoke_role_sessions(self, account_id, role_name, at):
                cloud.revoked_sessions.append((account_id, role_name))

            def delete_service_account(self, project, name):
                cloud.deleted.append((project, name))
                cloud.grants = {g for g in cloud.grants if not (g.target == project and g.entitlement == name
                                                                and g.kind == "gcp-service-account")}

        return Conn()
