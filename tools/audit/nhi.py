"""Agents and third-party integrations in the audit: who owns each, which
vendor holds an integration's key, how old that key is and when it was last
rotated, when the identity ends, and which OWASP Non-Human Identity Top 10
(2025) risks its controls address.

Key age and last rotation come from the durable record, not from the
clouds: every key the pipeline issued was issued by an apply, reconcile or
expire run that recorded it (the identity's add, or an update whose reason
is the key's rotation). So the report needs no cloud read, and what it says
is what the pipeline did, with the run and commit that did it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from tools.core.model import ALL_IDENTITY_KINDS, Grant

# OWASP NHI Top 10 (2025) items each use's controls address.
OWASP = {
    "agent": ("NHI4:2025 Insecure Authentication", "NHI5:2025 Overprivileged NHI",
              "NHI7:2025 Long-Lived Secrets", "NHI10:2025 Human Use of NHI"),
    "integration": ("NHI1:2025 Improper Offboarding", "NHI2:2025 Secret Leakage",
                    "NHI3:2025 Vulnerable Third-Party NHI", "NHI7:2025 Long-Lived Secrets"),
}


@dataclass(frozen=True)
class NonHuman:
    principal: str
    provider: str
    target: str
    use: str
    owner: str
    vendor: str | None
    expires: datetime | None
    rotate_days: int | None
    last_rotation: datetime | None
    key_age_days: int | None

    def as_json(self) -> dict:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat().replace("+00:00", "Z") if v else None
        return {"principal": self.principal, "provider": self.provider, "target": self.target, "use": self.use,
                "owner": self.owner, "vendor": self.vendor, "expires": iso(self.expires),
                "rotate_days": self.rotate_days, "last_rotation": iso(self.last_rotation),
                "key_age_days": self.key_age_days, "key": "none (never a key)" if self.use == "agent" else
                ("not issued yet" if self.last_rotation is None else "in the secret store"),
                "owasp_nhi_2025": list(OWASP[self.use])}


def is_nhi(g: Grant) -> bool:
    return g.kind in ALL_IDENTITY_KINDS and g.attr("use") in OWASP


def last_rotations(records: Iterable) -> dict[str, datetime]:
    """Principal → when the pipeline last issued its key (a recorded, successful
    add of the identity, or an update that rotated the key)."""
    out: dict[str, datetime] = {}
    for r in records:
        g = r.grant or {}
        if not r.ok or g.get("kind") not in ALL_IDENTITY_KINDS:
            continue
        attrs = g.get("attributes") or {}
        reason = str((r.raw or {}).get("reason") or "")
        issued = r.action == "add" or (r.action == "update" and reason.startswith("key "))
        if attrs.get("use") == "integration" and issued and (r.principal not in out or r.time > out[r.principal]):
            out[r.principal] = r.time
    return out


def non_human(grants: Iterable[tuple[Grant, str]], records: Iterable, now: datetime) -> list[NonHuman]:
    """``grants``: (identity grant, target name) of the desired state."""
    rotated = last_rotations(records)
    out = []
    for g, target_name in grants:
        if not is_nhi(g):
            continue
        use = g.attr("use") or ""
        last = rotated.get(g.principal) if use == "integration" else None
        days = g.attr("rotate_days")
        out.append(NonHuman(g.principal, g.provider, target_name, use, g.attr("owner") or "", g.attr("vendor"),
                            g.expires, int(days) if days else None, last,
                            (now - last).days if last is not None else None))
    return sorted(out, key=lambda n: (n.provider, n.target, n.principal))
