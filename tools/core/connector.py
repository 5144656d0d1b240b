"""The narrow interface every cloud connector implements.

The core (plan, apply, reconcile) only ever calls these methods; each
connector in ``connectors/`` hides its SDK behind them. Connectors are
loaded by name from the explicit map below, only when a provider is used,
so ``tools`` never imports a cloud SDK itself.
"""
from __future__ import annotations

import contextlib
import importlib
from typing import Mapping, Protocol, Sequence

from tools.core.model import Change, ChangeResult, Grant, Target
from tools.core.orgmodel import OrgModel

CONNECTORS: dict[str, str] = {
    "aws": "connectors.aws:AwsConnector",
    "gcp": "connectors.gcp:GcpConnector",
}


class Connector(Protocol):
    provider: str
    # operation name -> cloud permissions it needs (IAM actions / GCP permissions).
    # A test fails if any operation declares none; the README prints the union.
    PERMISSIONS: Mapping[str, tuple[str, ...]]

    def read(self, target: Target) -> list[Grant]:
        """Live grants in ``target``'s managed scope, in canonical form:
        same principal strings, target id, kind and entitlement as the
        desired state, so the diff is plain set arithmetic. Nothing outside
        ``target.managed`` (and the pipeline's own identities) is returned."""
        ...

    def apply(self, target: Target, changes: Sequence[Change]) -> list[ChangeResult]:
        """Apply every change for one target, batched (e.g. one GCP policy
        read-modify-write for all of them). Never raises for one change's
        failure: the result says which failed and why."""
        ...


_OPEN: list = []  # connectors this command opened that hold connections


def connector_for(provider: str, org: OrgModel, **options) -> Connector:
    module, _, cls = CONNECTORS[provider].partition(":")
    connector = getattr(importlib.import_module(module), cls)(org, **options)
    if hasattr(connector, "close"):
        _OPEN.append(connector)
    return connector


def close_all() -> None:
    """Close what the command opened, when it ends. A gRPC channel left to the
    garbage collector can outlive its server (the sandbox's) and log a GOAWAY
    line into the user's terminal; closing is best effort, never an error."""
    while _OPEN:
        with contextlib.suppress(Exception):
            _OPEN.pop().close()
