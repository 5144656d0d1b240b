"""Drift: the plan, seen from the cloud's side. Pure functions.

Reconcile reuses the plan (same diff, same modes, same guard) and only
renames what it finds: desired-but-absent is ``missing``, live-but-unasked
is ``extra``, present-but-different is ``changed``. Sharding splits targets
deterministically so N scheduled jobs cover each target exactly once.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Iterable, Mapping

from tools.core.errors import UsageError
from tools.core.model import Action, Change, ChangeResult, Target
from tools.provision.plan import Plan
from tools.provision.render import change_json

DRIFT_KIND = {Action.ADD: "missing", Action.REMOVE: "extra", Action.UPDATE: "changed"}


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as a GitHub Actions matrix writes it
    count: int

    @classmethod
    def parse(cls, text: str | None) -> "Shard":
        if not text:
            return cls(1, 1)
        try:
            i, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise UsageError(f"--shard {text!r} must look like I/N, e.g. 2/4") from None
        if not 1 <= i <= n:
            raise UsageError(f"--shard {text!r}: I must be between 1 and N")
        return cls(i, n)

    def owns(self, target: Target) -> bool:
        """Stable hash of the target's identity: adding a target moves no other."""
        return zlib.crc32(f"{target.provider}/{target.id}".encode()) % self.count == self.index - 1


def shard_targets(targets: Mapping[tuple[str, str], Target], shard: Shard) -> dict[tuple[str, str], Target]:
    return {k: t for k, t in targets.items() if shard.owns(t)}


@dataclass(frozen=True)
class Drift:
    change: Change
    outcome: str  # "reported" | "fixed" | "failed: …" | "held: …"

    @property
    def kind(self) -> str:
        return DRIFT_KIND[self.change.action]

    def as_json(self, targets) -> dict:
        out = change_json(self.change, targets)
        out.pop("action")
        out["grant_kind"] = out.pop("kind")
        return {"kind": self.kind, **out, "outcome": self.outcome}


def drift_of(plan: Plan, results: Iterable[ChangeResult] = ()) -> list[Drift]:
    """Every difference in the plan, with what was done about it."""
    done = {id(r.change): r for r in results}
    out = []
    for c in plan.changes:
        r = done.get(id(c))
        outcome = "reported" if r is None else ("fixed" if r.ok else f"failed: {r.error}")
        out.append(Drift(c, outcome))
    out += [Drift(h.change, f"held: {h.why}") for h in plan.held]
    return out


def summary(drift: list[Drift], targets: int) -> dict:
    counts = {k: 0 for k in ("missing", "extra", "changed")}
    for d in drift:
        counts[d.kind] += 1
    return {**counts, "total": len(drift), "targets": targets,
            "fixed": sum(d.outcome == "fixed" for d in drift),
            "failed": sum(d.outcome.startswith("failed") for d in drift)}
