"""When the cloud last saw a grant used, as far as the cloud reports it.

Review files (``accessctl review open``) and ``accessctl audit report --live``
show it next to each grant, so owners can tell access that is still in use
from access nobody touched. Only the clouds' own records count: a value is
never guessed. Where a cloud does not report use for a kind of grant (an
Identity Center assignment, a GCP role binding to a person), the value says
so ("not reported") instead of showing a blank that could read as "never".

Connectors fill these in (``last_used(target, grants)``); the core only
renders them. Nothing on the plan or apply path reads them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Protocol, Sequence

from tools.core.model import Grant, Target

USED = "used"
NEVER = "never"  # the cloud tracks it and has no use in its tracking period
NOT_REPORTED = "not reported"  # the cloud does not report use for this kind of grant
UNKNOWN = "unknown"  # not read: the read failed, or the identity was not found
STATES = (USED, NEVER, NOT_REPORTED, UNKNOWN)


@dataclass(frozen=True, slots=True)
class LastUsed:
    """One grant's last use. ``at`` is set only when ``state`` is ``used``.

    ``source`` names the API that said so (for the auditor), ``detail`` what
    else it said (region, service, key) or why there is no date."""

    state: str
    at: datetime | None = None
    source: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"last-used state {self.state!r} is not one of {STATES}")
        if (self.state == USED) != (self.at is not None):
            raise ValueError("a last-used date goes with state 'used', and only with it")

    def text(self) -> str:
        """The review file's and the report's value: a UTC date, ``never``,
        ``not reported`` or ``unknown``."""
        return f"{self.at.astimezone(timezone.utc):%Y-%m-%d}" if self.at is not None else self.state

    def note(self) -> str:
        """The value with where it came from, for a comment or a table cell."""
        said = "; ".join(x for x in (self.detail, self.source) if x)
        return f"{self.text()} ({said})" if said else self.text()

    def as_json(self) -> dict:
        return {"state": self.state,
                "at": self.at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if self.at else None,
                "source": self.source, "detail": self.detail}


def used(at: datetime, source: str, detail: str = "") -> LastUsed:
    return LastUsed(USED, at if at.tzinfo else at.replace(tzinfo=timezone.utc), source, detail)


def not_reported(why: str) -> LastUsed:
    return LastUsed(NOT_REPORTED, None, "", why)


class UsageReader(Protocol):
    """What a connector offers for last use. Called by ``review open`` and
    ``audit report --live`` only; at most one call per identity read (fewer
    where the API answers for many at once)."""

    def last_used(self, target: Target, grants: Sequence[Grant]) -> Mapping[tuple, LastUsed]:
        """Grant key → its last use, for every grant given (all in ``target``)."""
        ...
