"""Last use of grants, read from the clouds for ``review open`` and
``audit report --live`` (never for plan, apply, reconcile or expire).

One connector per provider, one ``last_used`` call per target with every
grant asked about there; the connector batches what its API allows. A
target whose read fails leaves its grants ``unknown`` with the reason, and
the failure is returned as one line: last use informs the reviewers, it
never blocks a review or a report.
"""
from __future__ import annotations

from typing import Callable, Iterable

from tools.core.connector import connector_for
from tools.core.errors import UsageError
from tools.core.model import Grant
from tools.core.orgmodel import OrgModel
from tools.core.usage import UNKNOWN, LastUsed, UsageReader

Factory = Callable[[str, OrgModel], UsageReader]


def read(org: OrgModel, grants: Iterable[Grant], factory: Factory | None = None
         ) -> tuple[dict[tuple, LastUsed], list[str]]:
    """Grant key → last use for every grant, and the reads that failed."""
    make = factory or (lambda provider, o: connector_for(provider, o))
    by_target: dict[tuple[str, str], list[Grant]] = {}
    for g in grants:
        by_target.setdefault((g.provider, g.target), []).append(g)
    out: dict[tuple, LastUsed] = {}
    errors: list[str] = []
    connectors: dict[str, UsageReader] = {}
    try:
        for (provider, target_id), here in sorted(by_target.items()):
            target = org.target_by_id(provider, target_id)
            if target is None:
                for g in here:
                    out[g.key] = LastUsed(UNKNOWN, None, "", f"{provider} target {target_id} is not in the org model")
                continue
            failed = ""
            try:
                if provider not in connectors:
                    connectors[provider] = make(provider, org)
                found = connectors[provider].last_used(target, here)
            except UsageError as exc:
                failed = str(exc)
                errors.append(failed)
                found = {}
            for g in here:
                out[g.key] = found.get(g.key) or LastUsed(UNKNOWN, None, "", f"not read: {failed or 'no answer'}")
    finally:
        for c in connectors.values():
            close = getattr(c, "close", None)
            if close:
                close()
    return out, errors
