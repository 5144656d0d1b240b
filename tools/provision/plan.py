"""The diff: desired grants vs live grants → changes. Pure functions only.

Identity is ``Grant.key``; anything else that differs on a matching key
(an expiry the cloud enforces, an identity's attributes, a disabled
account) is an update. Management modes, protected principals and the
blast-radius guard decide which changes may be applied; they never hide a
change from the plan, so what the PR shows is what apply would consider.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from tools.core.errors import FindingError
from tools.core.model import EXPIRY_KINDS, Action, Change, Grant, Target


def _differences(want: Grant, have: Grant) -> list[str]:
    out = []
    if want.kind in EXPIRY_KINDS and want.expires != have.expires:
        was = have.expires.strftime("%Y-%m-%dT%H:%MZ") if have.expires else "none"
        out.append(f"expiry {was} → {want.expires:%Y-%m-%dT%H:%MZ}")
    if want.kind in EXPIRY_KINDS and have.request is not None and want.request != have.request:
        out.append(f"request {have.request} → {want.request}")
    have_attrs, want_attrs = dict(have.attributes), dict(want.attributes)
    for name in sorted(set(want_attrs) | {"disabled"}):
        if want_attrs.get(name) != have_attrs.get(name):
            out.append(f"{name} {have_attrs.get(name)!r} → {want_attrs.get(name)!r}")
    return out


def diff(desired: Iterable[Grant], live: Iterable[Grant]) -> list[Change]:
    """Set arithmetic on grant keys; sorted so plans are stable to read and test."""
    want = {g.key: g for g in desired}
    have = {g.key: g for g in live}
    changes = [Change(Action.ADD, want[k], None, f"requested in {want[k].request}")
               for k in want.keys() - have.keys()]
    # A disabled identity nobody requests is already removed: it waits for its
    # deletion after the grace period (the expire job), and removing it again
    # on every run would be noise. One enabled by hand is drift again.
    changes += [Change(Action.REMOVE, have[k], have[k], "no request on main grants this")
                for k in have.keys() - want.keys() if have[k].attr("disabled") != "true"]
    for k in want.keys() & have.keys():
        why = _differences(want[k], have[k])
        if why:
            changes.append(Change(Action.UPDATE, want[k], have[k], "; ".join(why)))
    order = {Action.ADD: 0, Action.UPDATE: 1, Action.REMOVE: 2}
    return sorted(changes, key=lambda c: (c.grant.key, order[c.action]))


@dataclass(frozen=True)
class Held:
    change: Change
    why: str


@dataclass
class Plan:
    """Changes to apply, changes held back (and why), and what they were computed from."""

    changes: list[Change]
    held: list[Held] = field(default_factory=list)
    live_counts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    targets: Mapping[tuple[str, str], Target] = field(default_factory=dict)
    # grant keys whose removal is expiry, not drift: exempt from the guard
    expiry: frozenset = frozenset()
    # targets that could not be read: named in the output, never planned
    failed_targets: dict = field(default_factory=dict)  # (provider, id) -> error
    held_files: list = field(default_factory=list)  # tools.provision.invalid_files.HeldFile
    guard_verdict: str | None = None  # the blast-radius refusal, when there was one

    def summary(self) -> dict:
        counts = Counter(c.action.value for c in self.changes)
        return {"add": counts["add"], "update": counts["update"], "remove": counts["remove"],
                "held": len(self.held),
                "targets": len({(c.grant.provider, c.grant.target) for c in self.changes}),
                "managed_live_grants": sum(self.live_counts.values())}

    def by_target(self) -> dict[tuple[str, str], list[Change]]:
        out: dict[tuple[str, str], list[Change]] = {}
        for c in self.changes:
            out.setdefault((c.grant.provider, c.grant.target), []).append(c)
        return out


def make_plan(desired: Iterable[Grant], live: Iterable[Grant], targets: Mapping[tuple[str, str], Target],
              protected: Iterable[str] = (), hold: Mapping[tuple, str] | None = None,
              expiry: Mapping[tuple, str] | None = None, withdrawn: Mapping[tuple, str] | None = None) -> Plan:
    """Diff, then hold back what the target's mode, protection or an invalid
    file's hold forbids. ``hold``: grant key (or ``("request", path)``) →
    why; ``expiry``: grant key → why its removal is expiry; ``withdrawn``:
    grant key → why the org model withdrew it (the removal says so)."""
    desired, live = list(desired), list(live)
    in_scope = set(targets)
    desired = [g for g in desired if (g.provider, g.target) in in_scope]
    live = [g for g in live if (g.provider, g.target) in in_scope]
    protected, hold, expiry, withdrawn = set(protected), dict(hold or {}), dict(expiry or {}), dict(withdrawn or {})
    plan = Plan([], [], Counter((g.provider, g.target) for g in live), targets)
    expiring = set()
    for change in diff(desired, live):
        target = targets[(change.grant.provider, change.grant.target)]
        held_why = None
        if change.action is not Action.ADD:
            held_why = hold.get(change.grant.key) or hold.get(("request", (change.current or change.grant).request))
        if change.action is Action.REMOVE and change.grant.key in expiry and not held_why:
            change = Change(change.action, change.grant, change.current, expiry[change.grant.key])
            expiring.add(change.grant.key)
        elif change.action is Action.REMOVE and change.grant.key in withdrawn and not held_why:
            change = Change(change.action, change.grant, change.current, withdrawn[change.grant.key])
        if target.mode == "report-only":
            plan.held.append(Held(change, f"{target.name} is report-only: drift is reported, never fixed"))
        elif held_why:
            plan.held.append(Held(change, held_why))
        elif change.grant.key in expiring:
            plan.changes.append(change)  # expiry ends access whatever the mode or the principal
        elif target.mode == "additive" and change.action is Action.REMOVE:
            plan.held.append(Held(change, f"{target.name} is additive: extra access is reported, not removed"))
        elif change.action is Action.REMOVE and change.grant.principal in protected:
            plan.held.append(Held(change, f"{change.grant.principal} is the pipeline's own access: never removed"))
        else:
            plan.changes.append(change)
    plan.expiry = frozenset(expiring)
    return plan


@dataclass(frozen=True)
class BlastRadius:
    max_remove_share: float = 0.25
    max_remove_count: int = 50
    # Below this many removals the share is not checked: revoking 1 of 2
    # grants in a small org is routine (expiry), not a blast.
    share_floor: int = 3

    def verdict(self, plan: Plan, removes: int | None = None, managed: int | None = None) -> str | None:
        """Why the plan revokes too much at once (a bad merge, a broken read
        that returned nothing desired), or None. Expiry is exempt: the guard
        protects against accidental mass removal, not against time-boxing.
        ``removes``/``managed`` override the plan's own counts (a shard
        counting against the whole organisation)."""
        if removes is None:
            removes = self.counted(plan)
        if managed is None:
            managed = sum(plan.live_counts.values())
        if removes > self.max_remove_count:
            return (f"the plan removes {removes} grants, over the limit of {self.max_remove_count} by "
                    f"{removes - self.max_remove_count}")
        if removes > self.share_floor and managed and removes / managed > self.max_remove_share:
            return (f"the plan removes {removes} of {managed} managed grants ({removes / managed:.0%}), "
                    f"over the limit of {self.max_remove_share:.0%}")
        return None

    @staticmethod
    def counted(plan: Plan) -> int:
        """Removals the guard counts: every removal except expiry."""
        return sum(1 for c in plan.changes if c.action is Action.REMOVE and c.grant.key not in plan.expiry)

    def check(self, plan: Plan) -> None:
        """Raise the refusal (exit 1) when the plan is over the limits."""
        why = self.verdict(plan)
        if why:
            raise FindingError(f"refusing to apply: {why}; review the plan and re-run with "
                               "--allow-mass-revoke if it is intended")

    def enforce(self, plan: Plan, all_or_nothing: bool = False, removes: int | None = None,
                managed: int | None = None) -> Plan:
        """Hold back the guarded removals of a refused plan, keep the rest.

        A refused mass revocation does not block unrelated additions and
        updates, nor expiry; ``all_or_nothing`` refuses the whole plan."""
        why = self.verdict(plan, removes, managed)
        plan.guard_verdict = why
        if not why:
            return plan
        if all_or_nothing:
            raise FindingError(f"refusing to apply anything (--all-or-nothing): {why}; review the plan and "
                               "re-run with --allow-mass-revoke if it is intended")
        keep, held = [], list(plan.held)
        for c in plan.changes:
            if c.action is Action.REMOVE and c.grant.key not in plan.expiry:
                held.append(Held(c, f"blast-radius guard: {why}; re-run with --allow-mass-revoke if intended"))
            else:
                keep.append(c)
        plan.changes, plan.held = keep, held
        return plan
