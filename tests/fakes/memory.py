"""An in-memory cloud behind the Connector interface (tools/connector.py).

For tests of the core's orchestration (batching, modes, sharding, drift
bookkeeping); the real connectors are tested against loopback clouds.
"""
from __future__ import annotations

from tools.model import Action, ChangeResult, Grant, Target
from tools.orgmodel import OrgModel


class MemoryCloud:
    """Live grants per target; records every read and every applied batch."""

    def __init__(self):
        self.grants: set[Grant] = set()
        self.reads: list[str] = []
        self.batches: list[tuple[str, int]] = []
        self.fail: set[str] = set()  # principals whose changes fail

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
                    if c.action is Action.REMOVE:
                        cloud.grants.discard(c.grant)
                    else:
                        if c.current:
                            cloud.grants.discard(c.current)
                        cloud.grants.add(c.grant)
                    out.append(ChangeResult(c, True, None, 1))
                return out

        return Conn()
