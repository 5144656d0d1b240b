"""Adopt existing access: live grants no request covers become request files.

Pure: takes the plan's ``remove`` changes (live, managed, unrequested) and
returns file contents. Each file groups one principal's grants in one
target, is marked ``imported: true`` and leaves requester, justification
and expiry to an owner, so it keeps the access but cannot pass validation
until someone answers for it.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from tools.core.model import IDENTITY_KINDS, KINDS, Action, Change, Grant, Principal, Target
from tools.core.yamlsafe import dumps
from tools.request.load import SCHEMA_PATH

HEADER = ("# yaml-language-server: $schema=../../../{schema}\n"
          "# Imported by `accessctl import` from live {provider} state on {date}.\n"
          "# The access is kept as found. An owner must add {missing}\n"
          "# (a date within the role's maximum), then open a PR: until then validation fails.\n")


@dataclass(frozen=True)
class ImportedFile:
    path: str
    text: str
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class Skipped:
    grant: Grant
    why: str


def _slug(principal: str) -> str:
    p = Principal.parse(principal)
    ident = p.id.split("@")[0] if p.type == "user" else p.id.rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9-]+", "-", ident.lower()).strip("-") or "principal"


def importable(grant: Grant, org) -> str | None:
    """Why a live grant cannot become a request (None when it can)."""
    try:
        p = Principal.parse(grant.principal)
    except ValueError:
        return "principal is not a person, team or service account of the organisation"
    if p.type == "user" and p.id not in org.people:
        return f"{p.id} is not a person of the organisation: it cannot be adopted, only revoked"
    if p.type == "group" and p.id not in org.teams:
        return f"group {p.id} is not a team of the organisation"
    return None


def plan_imports(changes: list[Change], targets: dict[tuple[str, str], Target], org, date: str,
                 existing: set[str]) -> tuple[list[ImportedFile], list[Skipped]]:
    groups: dict[tuple[str, str, str], list[Grant]] = defaultdict(list)
    skipped: list[Skipped] = []
    for c in changes:
        if c.action is not Action.REMOVE:
            continue
        why = importable(c.grant, org)
        target = targets.get((c.grant.provider, c.grant.target))
        if why is None and c.grant.kind not in KINDS and c.grant.kind not in IDENTITY_KINDS.values():
            why = f"{c.grant.kind} on a pipeline-owned identity is never adopted: reconcile --mode fix removes it"
        elif why is None and c.grant.kind in KINDS and target is not None \
                and not target.manages(c.grant.kind, c.grant.entitlement):
            why = f"{c.grant.entitlement} is outside the managed scope of {target.name}: it is removed, not adopted"
        if why:
            skipped.append(Skipped(c.grant, why))
            continue
        groups[(c.grant.provider, c.grant.target, c.grant.principal)].append(c.grant)
    files: list[ImportedFile] = []
    taken = set(existing)
    for (provider, target_id, principal), grants in sorted(groups.items()):
        target = targets[(provider, target_id)]
        identities = [g for g in grants if g.kind in IDENTITY_KINDS.values()]
        access = [g for g in grants if g.kind in KINDS]
        for g in identities:
            files.append(_file(provider, target, f"{g.entitlement}", _service_account(g, target), [g], date, taken))
        if access:
            files.append(_file(provider, target, f"imported-{_slug(principal)}",
                               _access_request(principal, access, target), access, date, taken))
    return files, skipped


def _file(provider, target, stem, body: dict, grants, date, taken: set[str]) -> ImportedFile:
    base = f"requests/{provider}/{target.name}/{stem}"
    path, n = f"{base}.yaml", 2
    while path in taken:
        path, n = f"{base}-{n}.yaml", n + 1
    taken.add(path)
    missing = "`owner`, `purpose`, `requester` and `expires`" if body["kind"] == "ServiceAccount" \
        else "`requester`, `justification` and `expires`"
    text = HEADER.format(schema=SCHEMA_PATH, provider=provider, date=date, missing=missing) + dumps(body)
    return ImportedFile(path, text, tuple(grants))


def _access_request(principal: str, grants: list[Grant], target: Target) -> dict:
    out = []
    for g in sorted(grants, key=lambda g: (g.kind, g.entitlement)):
        kind = KINDS[g.kind]
        out.append({"kind": g.kind, kind.target_field: target.name, kind.entitlement_field: g.entitlement})
    return {"apiVersion": "accessctl/v1", "kind": "AccessRequest", "imported": True,
            "principal": principal, "grants": out}


def _service_account(g: Grant, target: Target) -> dict:
    body = {"apiVersion": "accessctl/v1", "kind": "ServiceAccount", "imported": True,
            "provider": g.provider, "name": g.entitlement,
            ("account" if g.provider == "aws" else "project"): target.name}
    if g.attr("owner"):
        body["owner"] = g.attr("owner")
    if g.provider == "aws" and g.attr("oidc_repository") and g.attr("oidc_ref"):
        body["oidc"] = {"repository": g.attr("oidc_repository"), "ref": g.attr("oidc_ref")}
    return body
