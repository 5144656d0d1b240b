"""A synthetic organisation at scale, written into a temporary git repository.

Benchmarks (validate, evaluate, plan, apply, reconcile, audit) need the same
realistic workload: thousands of people, dozens of teams, 50 AWS accounts,
50 GCP projects and 10,000 request files. ``generate`` writes it, fast and
deterministically from a seed, so figures from different runs and different
stages are comparable.

Every file is valid at the frozen clock (2026-11-22T12:00:00Z) and passes the
policy's static rules too: expiry within the tier's maximum, tickets on prod
targets and privileged tiers, no separation-of-duties pair held by one
principal in one target, no grant asked twice, only active people. The tier
mix of access requests is about 75% standard, 20% sensitive, 5% privileged;
principals are about 70% users, 20% teams, 10% service accounts.
"""
from __future__ import annotations

import random
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
DOMAIN = "acme.example"
SCHEMA_LINE = "# yaml-language-server: $schema=../../../tools/request/schemas/request.v1.schema.json\n"
TIER_WEIGHTS = {"standard": 75, "sensitive": 20, "privileged": 5}
PRINCIPAL_WEIGHTS = {"user": 70, "group": 20, "serviceAccount": 10}
ENVIRONMENTS = ("dev", "staging", "prod")

# (kind, entitlement, tier, max_hours or None = the tier's maximum)
CATALOG: tuple[tuple[str, str, str, int | None], ...] = (
    ("aws-iam-group", "developers", "standard", None),
    ("aws-iam-group", "readonly", "standard", None),
    ("aws-iam-group", "billing", "sensitive", None),
    ("aws-sso-assignment", "ReadOnly", "standard", None),
    ("aws-sso-assignment", "ViewBilling", "standard", None),
    ("aws-sso-assignment", "PowerUser", "sensitive", None),
    ("aws-sso-assignment", "DeployProd", "sensitive", None),
    ("aws-sso-assignment", "ApproveDeploys", "sensitive", None),
    ("aws-sso-assignment", "AdministratorAccess", "privileged", None),
    ("aws-sso-assignment", "PaymentsOperator", "privileged", 8),
    ("aws-role-policy", "arn:aws:iam::aws:policy/ReadOnlyAccess", "standard", None),
    ("aws-role-policy", "arn:aws:iam::aws:policy/AmazonS3FullAccess", "sensitive", None),
    ("gcp-project-role", "roles/bigquery.dataViewer", "standard", None),
    ("gcp-project-role", "roles/storage.objectViewer", "standard", None),
    ("gcp-project-role", "roles/browser", "standard", None),
    ("gcp-project-role", "roles/logging.viewer", "standard", None),
    ("gcp-project-role", "roles/bigquery.dataEditor", "sensitive", None),
    ("gcp-project-role", "roles/run.developer", "sensitive", None),
    ("gcp-project-role", "roles/bigquery.admin", "privileged", None),
    ("gcp-project-role", "roles/run.admin", "privileged", None),
)
TIER_HOURS = {"standard": 2160, "sensitive": 720, "privileged": 12}
SOD = (("aws-sso-assignment", "DeployProd", "ApproveDeploys"),
       ("gcp-project-role", "roles/bigquery.dataEditor", "roles/bigquery.admin"))
PRINCIPALS_OF = {"aws-iam-group": ("user",), "aws-sso-assignment": ("user", "group"),
                 "aws-role-policy": ("serviceAccount",),
                 "gcp-project-role": ("user", "group", "serviceAccount")}
FIELDS = {"aws-iam-group": ("account", "group"), "aws-sso-assignment": ("account", "permission_set"),
          "aws-role-policy": ("account", "policy"), "gcp-project-role": ("project", "role")}


@dataclass
class SynthOrg:
    """What ``generate`` wrote, for benchmarks to size and check their work."""

    root: Path
    seed: int
    requests: list[str] = field(default_factory=list)  # every request file (repository paths)
    access_requests: list[str] = field(default_factory=list)
    service_accounts: list[str] = field(default_factory=list)
    grants: int = 0  # grants in access requests (identities not counted)
    tiers: Counter = field(default_factory=Counter)  # access requests by highest tier
    principals: Counter = field(default_factory=Counter)  # access requests by principal type
    people: int = 0
    inactive: int = 0
    teams: int = 0
    accounts: dict[str, str] = field(default_factory=dict)  # name -> 12-digit id
    projects: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.requests)


def _login(i: int) -> str:
    return f"user{i:04d}-acme"


def _email(i: int) -> str:
    return f"user{i:04d}@{DOMAIN}"


def _expiry(rng: random.Random, tier: str, hours: int) -> str:
    """A date (or, for short tiers, a timestamp) safely inside ``hours``."""
    if hours >= 48:
        days = rng.randint(1, hours // 24 - 1)
        return (NOW + timedelta(days=days)).strftime("%Y-%m-%d")
    return (NOW + timedelta(hours=rng.randint(1, hours))).strftime("%Y-%m-%dT%H:00:00Z")


class _Writer:
    """Builds the repository's text files in memory; one write pass at the end."""

    def __init__(self, rng: random.Random, people: int, teams: int, accounts: int, projects: int,
                 org: SynthOrg):
        self.rng, self.org, self.files = rng, org, {}
        self.n_people = people
        self.active = [i for i in range(people) if i % 50 != 49]  # 2% inactive, never principals
        self.team_keys = [f"team-{t:02d}" for t in range(teams)]
        self.members = {k: [i for i in range(t, people, teams)] for t, k in enumerate(self.team_keys)}
        self.targets: list[tuple[str, str, str, str]] = []  # (provider, name, environment, owner)
        for a in range(accounts):
            name = f"acme-aws-{a:02d}"
            org.accounts[name] = f"{400000000000 + a * 1001:012d}"
            self.targets.append(("aws", name, ENVIRONMENTS[a % 3], self.team_keys[a % teams]))
        for p in range(projects):
            name = f"acme-gcp-{p:02d}"
            org.projects.append(name)
            self.targets.append(("gcp", name, ENVIRONMENTS[p % 3], self.team_keys[p % teams]))
        self.seen: set[tuple] = set()
        self.held: dict[tuple[str, str], set[str]] = {}
        self.sa_by_target: dict[str, list[str]] = {}

    # -- org model -------------------------------------------------------------
    def org_model(self) -> None:
        people = ["people:"] + [
            f"  - {{email: {_email(i)}, github: {_login(i)}, name: Person {i:04d}, "
            f"active: {'false' if i % 50 == 49 else 'true'}}}" for i in range(self.n_people)]
        teams = ["teams:"]
        for key in [*self.team_keys, "security"]:
            members = self.members.get(key) or [0, 1]
            teams += [f"  {key}:", f"    github_team: acme/{key}", f"    group_email: {key}@{DOMAIN}",
                      f"    leads: [{', '.join(_login(m) for m in members[:2])}]",
                      f"    members: [{', '.join(_login(m) for m in members)}]"]
        aws = ["aws:", "  sso_instance_region: us-east-1", "  applier_role: accessctl-applier",
               "  ci_role_path: /accessctl/", "  accounts:"]
        gcp = ["gcp:", "  projects:"]
        for provider, name, env, owner in self.targets:
            managed = {}
            for kind, ent, _, _ in CATALOG:
                if kind.startswith(provider):
                    managed.setdefault(kind, []).append(f'"{ent}"')
            block = [f"      environment: {env}", f"      owner: {owner}", "      mode: enforced", "      managed:"]
            block += [f"        {k}: [{', '.join(v)}]" for k, v in managed.items()]
            if provider == "aws":
                aws += [f"    - name: {name}", f'      id: "{self.org.accounts[name]}"', *block]
            else:
                gcp += [f"    - id: {name}", *block]
        catalog = ["catalog:"] + [
            f'  - {{kind: {k}, entitlement: "{e}", tier: {t}' + (f", max_hours: {h}" if h else "") + "}"
            for k, e, t, h in CATALOG]
        catalog += ["separation_of_duties:"] + [
            f"  - name: sod-{i}\n    description: Nobody holds both {a} and {b}.\n"
            f"    a: {{kind: {k}, entitlement: {a}}}\n    b: {{kind: {k}, entitlement: {b}}}"
            for i, (k, a, b) in enumerate(SOD)]
        d = "policies/data/"
        self.files[d + "people.yaml"] = "\n".join(people) + "\n"
        self.files[d + "teams.yaml"] = "\n".join(teams) + "\n"
        self.files[d + "targets.yaml"] = "\n".join(aws + gcp) + "\n"
        self.files[d + "catalog.yaml"] = "\n".join(catalog) + "\n"
        self.org.people, self.org.inactive = self.n_people, self.n_people - len(self.active)
        self.org.teams = len(self.team_keys) + 1

    # -- requests --------------------------------------------------------------
    def service_account(self, provider: str, target: str, env: str, owner: str) -> str:
        name = f"svc-{len(self.org.service_accounts):05d}"
        where = "account" if provider == "aws" else "project"
        lead = _login(self.members[owner][0])
        text = (f"{SCHEMA_LINE}apiVersion: accessctl/v1\nkind: ServiceAccount\nprovider: {provider}\n"
                f"name: {name}\n{where}: {target}\nowner: {owner}\n"
                f"purpose: Runs the {name} deployment pipeline for team {owner}.\nrequester: {lead}\n"
                + (f"ticket: OPS-{len(self.org.requests) + 1}\n" if env == "prod" else "")
                + f"expires: \"{_expiry(self.rng, 'sa', 8000)}\"\n")
        if provider == "aws":
            text += f"oidc:\n  repository: acme/{name}\n  ref: refs/heads/main\n"
        path = f"requests/{provider}/{target}/{name}.yaml"
        self.files[path] = text
        self.org.requests.append(path)
        self.org.service_accounts.append(path)
        ref = f"serviceAccount:{target}/{name}"
        self.sa_by_target.setdefault(target, []).append(ref)
        return ref

    def access_request(self, budget: int) -> int:
        """Write one access request (and maybe the identity it needs); files written."""
        rng = self.rng
        provider, target, env, owner = rng.choice(self.targets)
        tier = rng.choices(list(TIER_WEIGHTS), weights=list(TIER_WEIGHTS.values()))[0]
        offers = [c for c in CATALOG if c[0].startswith(provider) and c[2] == tier]
        kind = rng.choice(sorted({c[0] for c in offers}))
        types = [t for t in PRINCIPALS_OF[kind]]
        ptype = rng.choices(types, weights=[PRINCIPAL_WEIGHTS[t] for t in types])[0]
        written = 0
        if ptype == "user":
            person = rng.choice(self.active)
            principal, requester = f"user:{_email(person)}", _login(person)
        elif ptype == "group":
            team = rng.choice(self.team_keys)
            principal, requester = f"group:{team}", _login(self.members[team][0])
        else:
            existing = self.sa_by_target.get(target, [])
            if existing and rng.random() < 0.7:
                principal = rng.choice(existing)
            elif budget >= 2:
                principal = self.service_account(provider, target, env, owner)
                written += 1
            else:
                return 0
            requester = _login(self.members[owner][0])
        picks = [c for c in offers if c[0] == kind]
        grants = rng.sample(picks, k=min(len(picks), 2 if rng.random() < 0.15 else 1))
        kept = []
        for g in grants:  # one at a time: two grants of one request may conflict with each other
            if self._free(target, principal, g):
                kept.append(g)
                self.seen.add((target, principal, g[0], g[1]))
                self.held.setdefault((target, principal), set()).add(g[1])
        grants = kept
        if not grants:
            return written
        hours = min(g[3] or TIER_HOURS[tier] for g in grants)
        who = principal.partition(":")[2].partition("@")[0].rpartition("/")[2]
        what = grants[0][1].rpartition("/")[2].rpartition(".")[2].lower()
        path = f"requests/{provider}/{target}/{who}-{what}-{len(self.org.requests):05d}.yaml"
        body = "".join(f"  - kind: {k}\n    {FIELDS[k][0]}: {target}\n    {FIELDS[k][1]}: \"{e}\"\n"
                       for k, e, _, _ in grants)
        needs_ticket = env == "prod" or tier == "privileged"
        self.files[path] = (
            f"{SCHEMA_LINE}apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: {principal}\n"
            f"requester: {requester}\njustification: Needs {grants[0][1]} in {target} for the "
            f"quarterly platform migration work.\n"
            + (f"ticket: OPS-{len(self.org.requests) + 1}\n" if needs_ticket else "")
            + f"expires: \"{_expiry(rng, tier, hours)}\"\ngrants:\n{body}")
        self.org.requests.append(path)
        self.org.access_requests.append(path)
        self.org.grants += len(grants)
        self.org.tiers[tier] += 1
        self.org.principals[ptype] += 1
        return written + 1

    def _related(self, principal: str) -> list[str]:
        """A person's teams and a team's members: separation of duties counts
        access held through a team, so the generated org must respect it too."""
        kind, _, ident = principal.partition(":")
        if kind == "user":
            i = int(ident.partition("@")[0].removeprefix("user"))
            return [f"group:{self.team_keys[i % len(self.team_keys)]}"] + (["group:security"] if i in (0, 1) else [])
        if kind == "group":
            return [f"user:{_email(m)}" for m in (self.members.get(ident) or [0, 1])]
        return []

    def _free(self, target: str, principal: str, grant: tuple) -> bool:
        if (target, principal, grant[0], grant[1]) in self.seen:
            return False
        if not any(grant[1] in (a, b) for _, a, b in SOD):
            return True
        held = set().union(*(self.held.get((target, p), set()) for p in (principal, *self._related(principal))))
        return not any(grant[1] == a and b in held or grant[1] == b and a in held for _, a, b in SOD)


def generate(dest: Path, requests: int = 10_000, seed: int = 1, *, people: int = 5_000, teams: int = 40,
             accounts: int = 50, projects: int = 50, commit: bool = True) -> SynthOrg:
    """Write a synthetic access repository at ``dest`` (created; must be empty).

    ``requests`` counts every file under requests/ (service-account
    definitions included). Tiers, org-model policy files (tiers, organization,
    waivers) come from this project's samples so the rules are the real ones.
    With ``commit`` the tree is committed on branch main, as the pipeline
    reads policies and the org model from a commit.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    org = SynthOrg(dest, seed)
    w = _Writer(random.Random(seed), people, teams, accounts, projects, org)
    w.org_model()
    attempts = 0
    while len(org.requests) < requests:
        attempts += 1
        if attempts > requests * 20:
            raise RuntimeError(f"could only place {len(org.requests)} unique requests; grow the org")
        w.access_request(requests - len(org.requests))
    samples = Path(__file__).resolve().parent.parent / "policies"
    shutil.copytree(samples, dest / "policies", dirs_exist_ok=True)  # our org files overwrite below
    made: set[Path] = set()
    for path, text in w.files.items():
        full = dest / path
        if full.parent not in made:
            full.parent.mkdir(parents=True, exist_ok=True)
            made.add(full.parent)
        full.write_text(text, encoding="utf-8")
    if commit:
        git = ["git", "-C", str(dest), "-c", "user.name=bench", "-c", f"user.email=bench@{DOMAIN}"]
        subprocess.run(["git", "init", "-q", "-b", "main", str(dest)], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", f"synthetic organisation (seed {seed})"], check=True)
    return org


if __name__ == "__main__":  # pragma: no cover - manual use: python -m bench.synth DEST [N]
    import sys
    import time

    start = time.perf_counter()
    result = generate(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10_000)
    print(f"{result.files} files ({len(result.service_accounts)} service accounts, {result.grants} grants, "
          f"tiers {dict(result.tiers)}) in {time.perf_counter() - start:.1f}s at {result.root}")
