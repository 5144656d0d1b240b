"""Which waivers are in force: the Python twin of policies/access/waivers.

A waiver (``policies/data/waivers.yaml``: rule, file, owner, expires,
reason) moves one policy violation of one file to ``waived``. Validation
reports some of the same problems under the same rule ids (a role the
catalog does not list, an expiry beyond the tier), and the writers act on
validation's findings: unless both sides agree on which waivers are in force,
check-pr denies what the policy waived and apply never provisions it. So the
Python side asks :func:`active` exactly what ``waivers.waiver_for`` answers
(tests/test_waivers_agree.py compares the two on generated waiver lists).

The rule (waivers.rego): a waiver applies to violation ``(rule, file)`` when
the rule is not one of :data:`UNWAIVABLE`, rule and file match exactly, the
owner is a team of the org model, and the expiry is a timestamp both Rego
engines parse the same way (lib.timestamp) and is after ``now``.
"""
from __future__ import annotations

import calendar
import re
from datetime import datetime
from typing import Any, Iterable, Mapping

from tools.core.expiry import format_expiry, parse_expiry

# Rules no waiver removes (waivers.rego ``unwaivable``; a test keeps the two
# equal). Safety rules (approvals, the rules change), and what says who holds
# or answers for access and that it ends: a person outside the organisation
# or inactive is exactly whom an insider would keep in with a waiver.
UNWAIVABLE = frozenset({
    "approval-owner-missing",
    "approval-security-missing",
    "approval-not-independent",
    "pr-mixes-rules-and-requests",
    "principal-public",
    "principal-external",
    "principal-unknown",
    "identity-owner-unknown",
    "catalog-unknown-target",
    "expiry-missing",
    "expiry-past",
    "rules-change-invalid",
    "rules-change-approval-missing",
    "removal-approval-missing",
})

# Policy rules validation checks too, under the same id. An active waiver of
# one of these removes validation's finding as well; validation's own
# findings (no policy rule id, or ids of Python-only checks) are never waived.
ALSO_VALIDATED = frozenset({
    "catalog-not-requestable",
    "expiry-too-long",
    "break-glass-too-long",
    "identity-expiry-too-long",
})

# lib.timestamp: upper-case T and Z, seconds below 60, an offset of at most
# 23:59, a fraction of at most nine digits.
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12][0-9]|3[01])"
    r"T(?P<h>[01][0-9]|2[0-3]):(?P<mi>[0-5][0-9]):(?P<s>[0-5][0-9])(?:\.(?P<f>[0-9]{1,9}))?"
    r"(?P<z>Z|(?P<sign>[+-])(?P<oh>[01][0-9]|2[0-3]):(?P<om>[0-5][0-9]))")
_NS = 1_000_000_000


def timestamp_ns(ts: Any) -> int | None:
    """Nanoseconds since the epoch of a timestamp lib.timestamp accepts
    (what ``time.parse_rfc3339_ns`` then returns), else None. Years 1678 to
    2261 only: both engines hold no later time in nanoseconds."""
    if not isinstance(ts, str):
        return None
    m = _TIMESTAMP.fullmatch(ts)
    if m is None:
        return None
    year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
    if not 1678 <= year <= 2261 or day > calendar.monthrange(year, month)[1]:
        return None
    seconds = calendar.timegm((year, month, day, int(m["h"]), int(m["mi"]), int(m["s"])))
    if m["sign"]:
        offset = int(m["oh"]) * 3600 + int(m["om"]) * 60
        seconds -= offset if m["sign"] == "+" else -offset
    return seconds * _NS + int((m["f"] or "").ljust(9, "0"))


def active(waivers: Iterable[Any], teams: Mapping[str, Any], now: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(rule, file) → the waiver in force for it (the first in file order),
    from the data the policy sees: ``data.org.waivers``, ``data.org.teams``
    and ``input.now``. Pure; exactly ``waivers.waiver_for``."""
    now_ns = timestamp_ns(now)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if now_ns is None:
        return out
    for w in waivers if isinstance(waivers, list) else []:
        if not isinstance(w, dict):
            continue
        rule, file, owner = w.get("rule"), w.get("file"), w.get("owner")
        if not (isinstance(rule, str) and isinstance(file, str)) or rule in UNWAIVABLE:
            continue
        # `_org.teams[w.owner]` holds unless the key is missing or its value is false.
        if not isinstance(owner, str) or owner not in teams or teams[owner] is False:
            continue
        expires = timestamp_ns(w.get("expires"))
        if expires is None or expires <= now_ns:
            continue
        out.setdefault((rule, file), w)
    return out


def policy_expiry(value: Any) -> Any:
    """A waiver's expiry as ``data.org`` holds it (engines.org_data): Rego's
    time.parse_rfc3339_ns needs a full timestamp in one form, so a date or an
    offset becomes UTC seconds; what does not parse stays as written (the
    org-model schema refuses it first)."""
    if not isinstance(value, str):
        return value
    try:
        return format_expiry(parse_expiry(value))
    except ValueError:
        return value


def policy_waivers(raw: Mapping[str, Any]) -> list[Any]:
    """``data.org.waivers`` from the raw org model (expiries normalised)."""
    items = raw.get("waivers") or []
    return [dict(w, expires=policy_expiry(w["expires"])) if isinstance(w, dict) and "expires" in w else w
            for w in items] if isinstance(items, list) else []


def in_force(raw: Mapping[str, Any], now: datetime) -> dict[tuple[str, str], dict[str, Any]]:
    """The waivers in force at ``now`` for an org model's raw data, as the
    policy judges them with ``input.now`` (whole seconds, UTC)."""
    return active(policy_waivers(raw), raw.get("teams") or {}, format_expiry(now))


def ended(raw: Mapping[str, Any], now: datetime) -> dict[tuple[str, str], dict[str, Any]]:
    """(rule, file) → the latest waiver for it whose expiry has passed: only
    to say, when the finding comes back, why (never to decide anything)."""
    now_ns = timestamp_ns(format_expiry(now))
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for w in policy_waivers(raw):
        when = timestamp_ns(w.get("expires")) if isinstance(w, dict) else None
        if when is None or now_ns is None or when > now_ns:
            continue
        key = (w.get("rule"), w.get("file"))
        if key not in out or when > (timestamp_ns(out[key].get("expires")) or 0):
            out[key] = w
    return out


__all__ = ["UNWAIVABLE", "ALSO_VALIDATED", "timestamp_ns", "active", "policy_expiry", "policy_waivers", "in_force", "ended"]
