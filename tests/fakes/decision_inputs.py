"""Seeded decision inputs for the engine differential test (and its bench).

Starts from real shapes only: the sample repository's request files (built
into inputs by ``tools.policy.input``, exactly as the pipeline builds them)
and the Rego test fixtures (``policies/access/fixtures``), with the sample
org model and the fixtures' small one. Each case is one mutation step away
from a real input, and every mutation keeps to what the request schema and
the org-model schema allow: a real kind, a string where a string goes, an
RFC 3339 UTC timestamp for every time, a positive integer for every limit.
What varies is what the policy branches on: tiers, roles, unknown targets,
principals (cases, inactive people, outside domains, public ids, non-ASCII
letters), expiry at every boundary of every limit, reviews (states, commits,
teams, letter case), changed paths, service-account fields, waivers, removals
and org-model variants (limits, counts, ticket_required, owners, SoD pairs).

``generate(seed, n)`` is deterministic: the same seed gives the same cases.
"""
from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from pathlib import Path
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
RULES = ["catalog-unknown-target", "catalog-not-requestable", "expiry-past", "expiry-too-long", "expiry-missing",
         "privileged-ticket-required", "break-glass-too-long", "principal-external", "principal-unknown",
         "identity-owner-unknown", "identity-expiry-too-long", "identity-oidc-trust", "identity-user-managed-keys",
         "sod-conflict", "production-ticket-required", "approval-owner-missing", "principal-public"]
PATHS = ["requests/aws/acme-dev/x.yaml", "requests/gcp/acme-data-prod/y.yaml", "policies/data/tiers.yaml",
         "policies/access/lib/lib.rego", ".github/workflows/pr-check.yml", ".github/CODEOWNERS", "CODEOWNERS",
         "tools/policy/engines.py", "connectors/aws.py", "docs/README.md", "README.md", "requests/README.md"]
STATUSES = ["added", "modified", "removed", "renamed"]
REVIEW_STATES = ["APPROVED", "APPROVED", "APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]


@dataclass(frozen=True)
class Case:
    """One decision to compare: an org model (by variant name) and an input."""

    org: str
    input: dict[str, Any]
    how: str  # the mutations applied, for the failure message


def ts(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _limits(org: dict[str, Any]) -> list[int]:
    hours = [t["max_hours"] for t in org["tiers"].values()]
    hours += [c["max_hours"] for c in org["catalog"] if "max_hours" in c]
    hours += [org["break_glass"]["max_hours"], org["service_accounts"]["max_hours"]]
    return sorted(set(hours))


def expiries(org: dict[str, Any]) -> list[str]:
    """Every boundary: before, at and just after now and each hour limit."""
    out = {ts(NOW - timedelta(hours=1)), ts(NOW), ts(NOW + timedelta(seconds=1)), "2261-12-31T23:59:59Z"}
    for h in _limits(org):
        for delta in (timedelta(seconds=-1), timedelta(0), timedelta(seconds=1), timedelta(hours=1)):
            out.add(ts(NOW + timedelta(hours=h) + delta))
    return sorted(out)


class Generator:
    def __init__(self, seed: int, orgs: dict[str, dict[str, Any]], bases: list[dict[str, Any]]):
        self.rng = random.Random(seed)
        self.orgs = orgs
        self.bases = bases

    # -- vocabulary drawn from an org model -----------------------------------
    def _logins(self, org: dict[str, Any]) -> list[str]:
        logins = [p["github"] for p in org["people"]]
        for t in org["teams"].values():
            logins += t.get("members", [])
        return sorted(set(logins))

    def _team_names(self, org: dict[str, Any]) -> list[str]:
        names = []
        for key, t in sorted(org["teams"].items()):
            names += [key, t["github_team"], t["github_team"].rsplit("/", 1)[-1]]
        return names + ["acme/outsiders"]

    def _targets(self, org: dict[str, Any]) -> list[tuple[str, str]]:
        out = [("aws", a["name"]) for a in org["aws"]["accounts"]]
        out += [("gcp", p["id"]) for p in org["gcp"]["projects"]]
        return out + [("aws", "acme-moon"), ("gcp", "acme-nowhere")]

    def _kinds(self, provider: str) -> list[str]:
        return (["aws-iam-group", "aws-sso-assignment", "aws-role-policy"] if provider == "aws"
                else ["gcp-project-role"])

    def grant(self, org: dict[str, Any]) -> dict[str, str]:
        r = self.rng
        provider, target = r.choice(self._targets(org))
        kind = r.choice(self._kinds(provider))
        listed = [c["entitlement"] for c in org["catalog"] if c["kind"] == kind]
        entitlement = r.choice(listed + ["NotInCatalog", "roles/owner"]) if r.random() < 0.85 else "Power-User"
        return {"kind": kind, "target": target, "entitlement": entitlement}

    def principal(self, org: dict[str, Any]) -> dict[str, str]:
        r = self.rng
        kind = r.choice(["user", "user", "user", "group", "serviceAccount"])
        if kind == "user":
            emails = [p["email"] for p in org["people"]]
            ident = r.choice(emails + ["eve@gmail.example", "ALLUSERS", "allAuthenticatedUsers", "ghost@acme.example",
                                       "İvan@acme.example", "*@acme.example", "Bob@ACME.example"])
            if r.random() < 0.2 and "@" in ident:
                ident = ident.upper() if r.random() < 0.5 else ident.capitalize()
        elif kind == "group":
            ident = r.choice(sorted(org["teams"]) + ["outsiders", "public", "*", "Security"])
        else:
            provider, target = r.choice(self._targets(org))
            ident = f"{target}/{r.choice(['billing-deployer', 'etl-runner', 'unknown-sa'])}"
        return {"type": kind, "id": ident, "ref": f"{kind}:{ident}"}

    def pr(self, org: dict[str, Any], file: str) -> dict[str, Any]:
        r = self.rng
        head = "".join(r.choice("0123456789abcdef") for _ in range(40))
        logins = self._logins(org) + ["outsider", "dependabot[bot]"]
        files = [{"path": file, "status": r.choice(["added", "modified"])}]
        for _ in range(r.choice([0, 0, 1, 2, 3])):
            files.append({"path": r.choice(PATHS), "status": r.choice(STATUSES)})
        reviews = []
        for _ in range(r.choice([0, 1, 2, 3, 4])):
            user = r.choice(logins)
            user = user.upper() if r.random() < 0.1 else user
            teams = r.sample(self._team_names(org), r.choice([0, 1, 1, 2]))
            reviews.append({"user": user, "state": r.choice(REVIEW_STATES),
                            "commit_id": head if r.random() < 0.8 else "0" * 40, "teams": teams})
        return {"number": r.randint(1, 5000), "author": r.choice(logins), "head_sha": head,
                "base_sha": "b" * 40, "files": files, "reviews": reviews}

    # -- mutations of one input ------------------------------------------------
    def mutate(self, org: dict[str, Any], doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        r = self.rng
        doc = copy.deepcopy(doc)
        req = doc["request"]
        steps = []
        for _ in range(r.choice([1, 1, 2, 3])):
            name, fn = r.choice(self._mutations(req["kind"]))
            fn(org, doc, req)
            steps.append(name)
        return doc, steps

    def _mutations(self, kind: str) -> list[tuple[str, Callable]]:
        r = self.rng
        common: list[tuple[str, Callable]] = [
            ("expires", lambda o, d, q: q.__setitem__("expires", r.choice(expiries(o)))),
            ("expires-null", lambda o, d, q: (q.__setitem__("expires", None), q.__setitem__("imported", True))),
            ("ticket", lambda o, d, q: q.__setitem__("ticket", r.choice([None, "", "OPS-1", "INC-42"]))),
            ("requester", lambda o, d, q: q.__setitem__("requester", r.choice(self._logins(o) + [None, "Ghost"]))),
            ("pr", lambda o, d, q: d.__setitem__("pr", self.pr(o, d["file"]))),
            ("no-pr", lambda o, d, q: d.pop("pr", None)),
            ("now", lambda o, d, q: d.__setitem__("now", r.choice([ts(NOW), ts(NOW + timedelta(hours=12)),
                                                                   ts(NOW - timedelta(days=30))]))),
        ]
        if kind == "ServiceAccount":
            return common + [
                ("sa-owner", lambda o, d, q: q.__setitem__("owner", r.choice(sorted(o["teams"]) + ["nobody", None]))),
                ("sa-oidc", lambda o, d, q: q.__setitem__("oidc", r.choice([
                    None, {"repository": "acme/app", "ref": "refs/heads/main"},
                    {"repository": "acme/*", "ref": "refs/heads/main"}, {"repository": "acme/app", "ref": "*"},
                    {"repository": None, "ref": "refs/tags/v*"}, {"repository": "acme/app", "ref": None},
                    {"repository": "acme/app", "ref": "environment:prod"}, {"repository": "a/b/c", "ref": "refs/heads/x"}]))),
                ("sa-provider", lambda o, d, q: q.__setitem__("provider", r.choice(["aws", "gcp"]))),
                ("sa-keys", lambda o, d, q: q.__setitem__("user_managed_keys", r.random() < 0.5)),
                ("sa-target", lambda o, d, q: q["target"].__setitem__("name", r.choice(
                    [t for _, t in self._targets(o)]))),
            ]
        return common + [
            ("grants", lambda o, d, q: q.__setitem__("grants", [self.grant(o) for _ in range(r.choice([1, 1, 2, 3, 4]))])),
            ("add-grant", lambda o, d, q: q["grants"].insert(r.randint(0, len(q["grants"])), self.grant(o))),
            ("principal", lambda o, d, q: q.__setitem__("principal", self.principal(o))),
            ("break-glass", lambda o, d, q: q.__setitem__("break_glass", r.random() < 0.6)),
            ("state", lambda o, d, q: d.__setitem__("state", self.state(o, q))),
            ("sod", lambda o, d, q: self.sod(o, d, q)),
        ]

    def state(self, org: dict[str, Any], req: dict[str, Any]) -> dict[str, Any]:
        r = self.rng
        holder = req["principal"]["ref"]
        related = [f"group:{k}" for k in r.sample(sorted(org["teams"]), r.choice([0, 1, 2]))]
        grants = []
        for _ in range(r.choice([0, 1, 2, 3])):
            g = self.grant(org)
            grants.append({"provider": g["kind"].split("-")[0], "target": self._target_id(org, g),
                           "principal": r.choice([holder] + related) if related else holder,
                           "kind": g["kind"], "entitlement": g["entitlement"], "expires": ts(NOW + timedelta(days=9)),
                           "request": f"requests/{g['kind'].split('-')[0]}/{g['target']}/held-{len(grants)}.yaml",
                           "attributes": {}})
        return {"grants": grants, "related": related}

    def sod(self, org: dict[str, Any], doc: dict[str, Any], req: dict[str, Any]) -> None:
        """A conflicting pair, one side asked for and the other held (or both asked)."""
        r = self.rng
        if not org.get("separation_of_duties"):
            return
        pair = r.choice(org["separation_of_duties"])
        provider = pair["a"]["kind"].split("-")[0]
        targets = [t for p, t in self._targets(org) if p == provider]
        target = r.choice(targets)
        mine = {"kind": pair["a"]["kind"], "target": target, "entitlement": pair["a"]["entitlement"]}
        other = {"kind": pair["b"]["kind"], "target": r.choice(targets), "entitlement": pair["b"]["entitlement"]}
        if r.random() < 0.5:
            req["grants"] = [mine, other] if r.random() < 0.5 else [other, self.grant(org), mine]
        else:
            req["grants"] = [mine]
            related = doc.get("state", {}).get("related", [])
            holder = r.choice([req["principal"]["ref"]] + related)
            doc["state"] = {"related": related, "grants": [{
                "provider": provider, "target": self._target_id(org, other), "principal": holder,
                "kind": other["kind"], "entitlement": other["entitlement"], "expires": ts(NOW + timedelta(days=9)),
                "request": "requests/held.yaml", "attributes": {}}]}

    def _target_id(self, org: dict[str, Any], g: dict[str, str]) -> str:
        for a in org["aws"]["accounts"]:
            if g["kind"].startswith("aws") and a["name"] == g["target"]:
                return a["id"]
        return g["target"]

    def removal(self, org: dict[str, Any]) -> dict[str, Any]:
        path = self.rng.choice(PATHS[:2])
        pr = self.pr(org, path)
        pr["files"][0]["status"] = "removed"
        return {"version": 1, "file": path, "now": ts(NOW), "request": {"kind": "RequestRemoval"},
                "state": {"grants": [], "related": []}, "pr": pr}

    def cases(self, n: int) -> list[Case]:
        out: list[Case] = []
        names = sorted(self.orgs)
        while len(out) < n:
            org_name = self.rng.choice(names)
            org = self.orgs[org_name]
            if self.rng.random() < 0.04:
                out.append(Case(org_name, self.removal(org), "removal"))
                continue
            base = self.rng.choice(self.bases)
            doc, steps = self.mutate(org, base)
            out.append(Case(org_name, doc, "+".join(steps)))
        return out


# ---- org-model variants --------------------------------------------------------
def org_variants(base: dict[str, Any], seed: int, count: int) -> dict[str, dict[str, Any]]:
    """The base model and ``count`` schema-valid variants of it."""
    from tools.policy.engines import org_index
    rng = random.Random(seed)
    out = {"base": base}
    rules_files = [None, "requests/aws/acme-dev/bob-developer.yaml", "requests/aws/acme-dev/req.yaml"]
    for i in range(count):
        org = copy.deepcopy(base)
        org.pop("_index", None) if rng.random() < 0.3 else None
        steps = []
        for _ in range(rng.choice([1, 2, 3])):
            what = rng.choice(["tier-hours", "tier-approvals", "ticket", "security", "owner", "catalog-hours",
                               "waiver", "waiver", "waiver", "sod", "inactive", "break-glass"])
            steps.append(what)
            tier = rng.choice(sorted(org["tiers"]))
            if what == "tier-hours":
                org["tiers"][tier]["max_hours"] = rng.choice([1, 4, 12, 48, 720, 2160, 9000])
            elif what == "tier-approvals":
                org["tiers"][tier]["approvals"] = rng.choice([1, 2, 3])
            elif what == "ticket":
                org["tiers"][tier]["ticket_required"] = rng.random() < 0.5
            elif what == "security":
                org["tiers"][tier]["security_approval"] = rng.random() < 0.5
            elif what == "owner":
                entry = rng.choice(org["catalog"])
                if rng.random() < 0.5:
                    entry.pop("owner", None)
                else:
                    entry["owner"] = rng.choice(sorted(org["teams"]))
            elif what == "catalog-hours":
                rng.choice(org["catalog"])["max_hours"] = rng.choice([1, 8, 24, 100000])
            elif what == "waiver":
                files = [f for f in rules_files if f] + ["requests/gcp/acme-data-prod/etl-runner.yaml"]
                org.setdefault("waivers", []).append({
                    "rule": rng.choice(RULES), "file": rng.choice(files),
                    "owner": rng.choice(sorted(org["teams"]) + ["nobody"]),
                    "expires": rng.choice([ts(NOW - timedelta(hours=1)), ts(NOW), ts(NOW + timedelta(seconds=1)),
                                           "2027-01-01T00:00:00Z", "2026-12-01T00:00:00+02:00",
                                           "2026-12-01T00:00:00.5Z"]),
                    "reason": "Generated waiver for the differential test."})
            elif what == "sod":
                kinds = [c for c in org["catalog"]]
                a, b = rng.sample(kinds, 2)
                if a["kind"].split("-")[0] == b["kind"].split("-")[0]:
                    org.setdefault("separation_of_duties", []).append({
                        "name": f"pair-{i}", "description": "Generated pair.",
                        "a": {"kind": a["kind"], "entitlement": a["entitlement"]},
                        "b": {"kind": b["kind"], "entitlement": b["entitlement"]}})
            elif what == "inactive" and org["people"]:
                person = rng.choice(org["people"])
                person["active"] = not person.get("active", True)
            elif what == "break-glass":
                org["break_glass"]["max_hours"] = rng.choice([1, 4, 8])
                org["break_glass"]["approvals"] = rng.choice([1, 2])
        if "_index" in org or ("_index" not in base and i % 2 == 0):
            # The loader's index of the variant, as `accessctl` would build it
            # (half the fixture model's variants get one too).
            org["_index"] = org_index({k: v for k, v in org.items() if k != "_index"})
        out[f"v{i}:{'+'.join(steps)}"] = org
    return out


def rego_fixtures(project: Path) -> dict[str, Any]:
    """The Rego test fixtures (policies/access/fixtures), read through the engine."""
    from tools.policy import testing as pt
    modules = {p.relative_to(project).as_posix(): p.read_text() for p in sorted((project / "policies").rglob("*.rego"))}
    engine = pt.regorus_engine(modules)
    return {name: json.loads(engine.eval_rule_as_json(f"data.access.fixtures.{name}"))
            for name in ("org", "user_request", "ci_role", "ci_role_grant", "file", "now")}


def real_bases(project: Path, seed: int, variants: tuple[int, int] = (30, 14)
               ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(org models by name, base inputs): the sample repository's requests as
    the pipeline builds their inputs, the fixtures' requests, and variants of
    both org models."""
    from tools.policy.evaluate import evaluate_files
    ev = evaluate_files(project, now=NOW, keep_input=True)
    sample_inputs = [d.input for d in ev.decisions if d.input is not None]
    fx = rego_fixtures(project)
    fixture_inputs = [
        {"version": 1, "file": fx["file"], "now": fx["now"], "request": fx["user_request"],
         "state": {"grants": [fx["ci_role_grant"]], "related": []}},
        {"version": 1, "file": fx["file"], "now": fx["now"], "request": fx["ci_role"],
         "state": {"grants": [], "related": []}},
    ]
    orgs = {f"sample/{k}": v for k, v in org_variants(ev.bundle.data["org"], seed, variants[0]).items()}
    orgs |= {f"fixtures/{k}": v for k, v in org_variants(fx["org"], seed + 1, variants[1]).items()}
    return orgs, sample_inputs + fixture_inputs


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
