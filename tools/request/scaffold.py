"""Build a request file from a requester's choices, with no side effects.

``accessctl request new`` asks the questions (prompts or flags); this module
turns the answers into the document and path the validator expects, and
offers the choices the org model allows, so a scaffolded request is valid
by construction and the prompts never offer something validation refuses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

import yaml

from tools.core import yamlsafe
from tools.core.expiry import format_expiry
from tools.core.model import KINDS, Target, Tier
from tools.core.orgmodel import CatalogEntry, OrgModel
from tools.request.load import API_VERSION, REQUESTS_DIR, SCHEMA_PATH


@dataclass(frozen=True, slots=True)
class Grant:
    kind: str
    entitlement: str


def targets(org: OrgModel, provider: str) -> list[Target]:
    """Accounts or projects of a provider, in org-model order."""
    return [t for (p, _), t in org.targets.items() if p == provider]


def providers_of(org: OrgModel, target_name: str) -> list[str]:
    return sorted({p for (p, n) in org.targets if n == target_name})


def kinds_at(org: OrgModel, target: Target) -> list[str]:
    """Grant kinds that have at least one requestable entitlement here."""
    return [k for k, spec in KINDS.items()
            if spec.provider == target.provider and entitlements(org, target, k)]


def entitlements(org: OrgModel, target: Target, kind: str) -> list[CatalogEntry]:
    """Catalog entries of ``kind`` the pipeline manages in ``target``."""
    return [c for c in org.catalog.values() if c.kind == kind and target.manages(kind, c.entitlement)]


def catalog_entries(org: OrgModel, grants: list[Grant]) -> list[CatalogEntry]:
    return [org.catalog[(g.kind, g.entitlement)] for g in grants if (g.kind, g.entitlement) in org.catalog]


def max_hours(org: OrgModel, grants: list[Grant], break_glass: bool = False) -> int:
    """The longest expiry validation accepts for these grants together."""
    entries = catalog_entries(org, grants)
    hours = min((e.max_hours for e in entries), default=int(org.raw["tiers"]["standard"]["max_hours"]))
    if break_glass:
        hours = min(hours, int(org.setting("break_glass", "max_hours", default=4)))
    return hours


def default_expiry(now: datetime, hours: int) -> str:
    """The latest expiry within ``hours``, as a reviewer would write it:
    a date for long grants, a whole-hour timestamp for short ones."""
    latest = now + timedelta(hours=hours)
    if hours >= 48:
        return latest.strftime("%Y-%m-%d")  # 00:00Z of that day, never past the limit
    return format_expiry(latest.replace(minute=0, second=0, microsecond=0))


def needs_ticket(org: OrgModel, target: Target, grants: list[Grant]) -> bool:
    """Prod targets and tiers that require one (tiers.yaml) ask for a ticket."""
    if target.environment == "prod":
        return True
    return any(org.raw["tiers"][e.tier.value].get("ticket_required", False)
               for e in catalog_entries(org, grants))


def tier_label(entry: CatalogEntry) -> str:
    span = f"{entry.max_hours // 24} days" if entry.max_hours >= 48 else f"{entry.max_hours} h"
    return f"{entry.tier.value}, up to {span}"


def principal_choices(org: OrgModel, target: Target, kind: str, requester_email: str | None,
                      service_accounts: list[str]) -> list[str]:
    """Principals offered for a kind: you, the teams, this target's service accounts."""
    allowed = KINDS[kind].principal_types
    out: list[str] = []
    if "user" in allowed and requester_email:
        out.append(f"user:{requester_email}")
    if "group" in allowed:
        out += [f"group:{t}" for t in org.teams]
    if "serviceAccount" in allowed:
        out += [s for s in service_accounts if s.startswith(f"serviceAccount:{target.name}/")]
    return out


def slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")


def default_name(principal: str, grants: list[Grant]) -> str:
    """``bob-readonly``, ``sre-poweruser``, ``etl-runner-bigquery-dataeditor``."""
    who = principal.partition(":")[2]
    who = who.partition("@")[0] if principal.startswith("user:") else who.rpartition("/")[2]
    what = grants[0].entitlement.rpartition("/")[2].rpartition(".")[2] if grants else "access"
    if len(grants) > 1:
        what += f"-and-{len(grants) - 1}-more"
    return slug(f"{who}-{what}") or "request"


def request_path(provider: str, target: str, name: str) -> str:
    return f"{REQUESTS_DIR}/{provider}/{target}/{name}.yaml"


def access_request(target: Target, principal: str, grants: list[Grant], requester: str,
                   justification: str, expires: str, ticket: str | None = None,
                   break_glass: bool = False) -> dict:
    if principal.startswith("user:"):
        principal = principal.lower()  # emails are case-insensitive; the file shows the canonical form
    doc: dict = {"apiVersion": API_VERSION, "kind": "AccessRequest", "principal": principal,
                 "requester": requester, "justification": justification}
    if ticket:
        doc["ticket"] = ticket
    doc["expires"] = expires
    if break_glass:
        doc["break_glass"] = True
    doc["grants"] = [{"kind": g.kind, KINDS[g.kind].target_field: target.name,
                      KINDS[g.kind].entitlement_field: g.entitlement} for g in grants]
    return doc


def service_account(target: Target, name: str, owner: str, purpose: str, requester: str,
                    expires: str, ticket: str | None = None, oidc_repository: str | None = None,
                    oidc_ref: str | None = None, use: str | None = None, extra: dict | None = None) -> dict:
    """A ServiceAccount file; ``use`` is written only when given (ci and
    workload are inferred), ``extra`` holds the agent's or integration's fields."""
    doc: dict = {"apiVersion": API_VERSION, "kind": "ServiceAccount", "provider": target.provider,
                 "name": name}
    doc["account" if target.provider == "aws" else "project"] = target.name
    doc["owner"] = owner
    if use:
        doc["use"] = use
    doc.update({"purpose": purpose, "requester": requester})
    if ticket:
        doc["ticket"] = ticket
    doc["expires"] = expires
    if oidc_repository or oidc_ref:
        doc["oidc"] = {"repository": oidc_repository, "ref": oidc_ref}
    doc.update(extra or {})
    return doc


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, as the samples and most editors do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def render(path: str, doc: dict) -> str:
    """The file text: schema line (relative to the file) then the document.

    Every value that YAML 1.1 could retype (dates, digits, yes/no) comes out
    quoted, so the file reads back exactly as written under any YAML parser.
    """
    depth = len(PurePosixPath(path).parts) - 1
    schema = "../" * depth + SCHEMA_PATH
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=False, width=100)
    text = f"# yaml-language-server: $schema={schema}\n" + body
    if yamlsafe.loads(text).data != doc:  # guard: what we write is what validation reads
        raise ValueError(f"cannot write {path} so that it reads back unchanged")
    return text


def tiers_in(org: OrgModel, grants: list[Grant]) -> set[Tier]:
    return {e.tier for e in catalog_entries(org, grants)}
