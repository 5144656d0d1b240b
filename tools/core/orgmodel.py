"""The organisation model (``policies/data/*.yaml``) as typed objects.

The same files are handed to the Rego engine as ``data.org``; this module
gives the Python stages (validate, plan, codeowners) typed access to them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tools.core import orgschema, yamlsafe
from tools.core.errors import Finding, FindingError
from tools.core.limits import gcp_basic_role
from tools.core.model import KINDS, Target, Tier
from tools.core.repo import Tree

DATA_DIR = "policies/data"


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    github: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class Team:
    """One team of ``teams.yaml``: the one place its membership is written.

    The same members are synced to each system the team names (``accessctl
    teams apply``): ``github_team`` (org/slug), ``identity_center_group``
    (the group's DisplayName) and ``group_email`` (its Google Group)."""
    key: str
    github_team: str
    group_email: str
    members: tuple[str, ...]
    leads: tuple[str, ...]
    identity_center_group: str = ""
    mode: str = ""  # "" = organization.teams_mode


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    kind: str
    entitlement: str
    tier: Tier
    max_hours: int
    owner: str | None  # approving team; None means the target's owner


@dataclass
class OrgModel:
    raw: dict[str, Any]
    people: dict[str, Person] = field(default_factory=dict)  # by email
    teams: dict[str, Team] = field(default_factory=dict)
    targets: dict[tuple[str, str], Target] = field(default_factory=dict)  # (provider, name)
    catalog: dict[tuple[str, str], CatalogEntry] = field(default_factory=dict)  # (kind, entitlement)

    @cached_property
    def people_by_login(self) -> dict[str, Person]:
        return {p.github.lower(): p for p in self.people.values()}

    @cached_property
    def teams_by_login(self) -> dict[str, tuple[str, ...]]:
        """GitHub login (lower-case) -> keys of the teams it is a member of."""
        out: dict[str, list[str]] = {}
        for team in self.teams.values():
            for login in team.members:
                out.setdefault(login.lower(), []).append(team.key)
        return {login: tuple(sorted(keys)) for login, keys in out.items()}

    @cached_property
    def github_teams_by_login(self) -> dict[str, tuple[str, ...]]:
        """GitHub login (lower-case) -> the GitHub teams ("org/slug") the org
        model says it belongs to: what approvals are judged by."""
        return {login: tuple(sorted(self.teams[k].github_team for k in keys))
                for login, keys in self.teams_by_login.items()}

    @cached_property
    def member_principals(self) -> dict[str, list[str]]:
        """Team key -> ``user:<email>`` of each member the org model knows, sorted."""
        people = self.people_by_login
        return {key: sorted(f"user:{people[m.lower()].email}" for m in team.members if m.lower() in people)
                for key, team in self.teams.items()}

    @cached_property
    def separation_sides(self) -> frozenset[tuple[str, str]]:
        """(kind, entitlement) of every side of every separation-of-duties pair."""
        return frozenset((side["kind"], side["entitlement"]) for pair in self.raw.get("separation_of_duties", [])
                         for side in (pair["a"], pair["b"]))

    @property
    def domains(self) -> list[str]:
        return list(self.raw["organization"]["domains"])

    @property
    def security_team(self) -> str:
        return self.raw["organization"]["security_team"]

    def setting(self, *path: str, default: Any = None) -> Any:
        node: Any = self.raw
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def target(self, provider: str, name: str) -> Target | None:
        return self.targets.get((provider, name))

    def target_by_id(self, provider: str, ident: str) -> Target | None:
        for t in self.targets.values():
            if t.provider == provider and t.id == ident:
                return t
        return None


def read(tree: Tree) -> tuple[dict[str, Any], list[Finding]]:
    """The merged org model and every problem with it (schema, unique ids),
    each finding at its file and line. Unparsable files stop here."""
    raw: dict[str, Any] = {}
    sources = orgschema.Sources()
    for path in tree.list(DATA_DIR, (".yaml", ".yml")):
        try:
            doc = yamlsafe.loads(tree.read_text(path))
        except yamlsafe.YamlError as exc:
            raise FindingError(f"{path}:{exc.line or 1}: {exc.message}") from None
        if not isinstance(doc.data, dict):
            raise FindingError(f"{path}:1: the org model file must be a mapping")
        for key, value in doc.data.items():
            if key in raw:
                raise FindingError(f"{path}:{doc.line_of((key,))}: {key!r} is also defined in another file of {DATA_DIR}")
            raw[key] = value
        sources.add(path, doc)
    return raw, orgschema.check(raw, sources)


def findings(tree: Tree) -> list[Finding]:
    """What `validate` reports about policies/data (empty when all is well)."""
    try:
        return read(tree)[1]
    except FindingError as exc:
        file, _, rest = str(exc).partition(":")
        line, _, message = rest.partition(":")
        return [Finding(file, message.strip() or str(exc), "", int(line) if line.isdigit() else None, orgschema.RULE)]


def load(tree: Tree) -> OrgModel:
    """The org model, refused (exit 1, file and line) when it breaks its
    schema: every stage, the PR check included, reads only a valid model."""
    raw, problems = read(tree)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s); run `accessctl validate`)" if len(problems) > 1 else ""
        raise FindingError(f"{problems[0]}{more}")
    try:
        return _build(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise FindingError(f"{DATA_DIR}: the org model is incomplete or malformed ({exc!r}); "
                           f"compare with the sample files in {DATA_DIR}") from None


def agent_boundary(raw: dict[str, Any], account_id: str) -> str:
    """The permissions boundary of agent roles in one account: the managed
    policy the org model names (aws.agent_permissions_boundary), as an ARN."""
    name = raw.get("aws", {}).get("agent_permissions_boundary")
    return f"arn:aws:iam::{account_id}:policy/{name}" if name else ""


def _build(raw: dict[str, Any]) -> OrgModel:
    org = OrgModel(raw)
    for p in raw.get("people", []):
        person = Person(p["email"].lower(), p["github"], p.get("name", ""), bool(p.get("active", True)))
        org.people[person.email] = person
    for key, t in raw.get("teams", {}).items():
        org.teams[key] = Team(key, t["github_team"], t.get("group_email", ""),
                              tuple(t.get("members", [])), tuple(t.get("leads", [])),
                              t.get("identity_center_group", ""), t.get("mode", ""))
    for a in raw.get("aws", {}).get("accounts", []):
        ident = str(a["id"])
        if not (len(ident) == 12 and ident.isdigit()):
            raise ValueError(f"AWS account {a['name']} id must be a quoted 12-digit string")
        org.targets[("aws", a["name"])] = Target(
            "aws", ident, a["name"], a["environment"], a["owner"], a.get("mode", "report-only"),
            {k: tuple(v) for k, v in a.get("managed", {}).items()},
            agent_boundary(raw, ident))
    for p in raw.get("gcp", {}).get("projects", []):
        org.targets[("gcp", p["id"])] = Target(
            "gcp", p["id"], p["id"], p["environment"], p["owner"], p.get("mode", "report-only"),
            {k: tuple(v) for k, v in p.get("managed", {}).items()})
    tiers = raw["tiers"]
    for c in raw.get("catalog", []):
        if c["kind"] not in KINDS:
            raise ValueError(f"catalog kind {c['kind']} is not one of {sorted(KINDS)}")
        if c["kind"] == "gcp-project-role" and gcp_basic_role(c["entitlement"]):
            raise ValueError(f"catalog offers {c['entitlement']}, a GCP basic role: GCP refuses IAM conditions on "
                             "basic roles, so its expiry could not be enforced; offer a predefined role instead "
                             "(https://cloud.google.com/iam/docs/conditions-overview)")
        tier = Tier(c["tier"])
        hours = min(int(c.get("max_hours", tiers[tier.value]["max_hours"])), int(tiers[tier.value]["max_hours"]))
        org.catalog[(c["kind"], c["entitlement"])] = CatalogEntry(c["kind"], c["entitlement"], tier, hours, c.get("owner"))
    return org
