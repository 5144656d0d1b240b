"""The rotate step of the daily expire job: third-party integration keys. Pure.

An integration's key is due when it is older than the file's ``rotate_days``
(the connector reads it as the identity's ``key`` attribute: ``due`` or
``missing``); a rotated-out key is due for deletion once the org model's
grace period (``organization.key_rotation_grace_hours``) has passed, and a
key the pipeline never issued at once (the connector reports both as
``aws-access-key`` / ``gcp-service-account-key`` grants on the identity).
Rotation is the same change ``reconcile --mode fix`` would make; running it
daily keeps every key younger than ``rotate_days`` without anyone asking.
"""
from __future__ import annotations

from typing import Iterable

from tools.core.model import Action, Change, Grant

KEY_KINDS = frozenset({"aws-access-key", "gcp-service-account-key"})


def rotations(desired: Iterable[Grant], live: Iterable[Grant]) -> list[Change]:
    """Changes that issue a fresh key for each desired integration whose key is
    due or missing, and delete keys the identity must not hold."""
    want = {g.key: g for g in desired if g.attr("use") == "integration"}
    principals = {g.principal for g in want.values()}
    out: list[Change] = []
    for g in live:
        if g.key in want and g.attr("key") != want[g.key].attr("key"):
            out.append(Change(Action.UPDATE, want[g.key], g,
                              f"key {g.attr('key')}: older than {want[g.key].attr('rotate_days')} days or absent"))
        elif g.kind in KEY_KINDS and g.principal in principals:
            out.append(Change(Action.REMOVE, g, g, "a key the pipeline does not keep (rotated out past its grace "
                                                   "period, or never issued by the pipeline)"))
    return sorted(out, key=lambda c: c.grant.key)
