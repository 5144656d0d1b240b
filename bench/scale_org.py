"""A synthetic organisation for the plan/apply/reconcile benchmark.

Used when ``bench/synth.py`` is absent, and always by the CI smoke test,
which needs a tiny org (3 accounts, 3 projects) that ``synth.generate`` has
no parameter for. Every request file is valid on 2026-11-22 (standard-tier
entitlements, expiry within 90 days), so desired state = every file: the
benchmark asserts that, so a generator bug cannot shrink the workload
silently.

Mix per 100 requests: 30 IAM group memberships, 15 + 5 Identity Center
assignments (users + teams), 40 + 5 GCP role bindings (users + teams) and
5 non-human identities (AWS CI role with a managed policy, or a GCP
service account with a role binding), each identity being two files.
"""
from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPIRES = "2027-01-15"  # 54 days after the frozen clock: inside every standard-tier limit
COPIED_DATA = ("tiers.yaml", "catalog.yaml", "organization.yaml", "waivers.yaml")
AWS_GROUPS = ("developers", "readonly")
SSO_SETS = ("ReadOnly",)
ROLE_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
GCP_ROLES = ("roles/bigquery.dataViewer", "roles/storage.objectViewer", "roles/viewer")


@dataclass(frozen=True)
class ScaleOrg:
    root: Path
    requests: int  # request files written
    accounts: int
    projects: int
    people: int
    teams: int


def _account_id(i: int) -> str:
    return f"{500000000000 + i:012d}"


def _org_files(people: int, teams: int, accounts: int, projects: int) -> dict[str, str]:
    rows = [f"  - {{email: p{i:05d}@acme.example, github: p{i:05d}-acme, name: Person {i}, active: true}}"
            for i in range(people)]
    team_rows = []
    for t in range(teams):
        members = ", ".join(f"p{i:05d}-acme" for i in range(t, people, teams)) or "p00000-acme"
        team_rows.append(f"  team{t:02d}:\n    github_team: acme/team{t:02d}\n"
                         f"    group_email: team{t:02d}@acme.example\n    leads: [p{t % people:05d}-acme]\n"
                         f"    members: [{members}]")
    team_rows.append("  security:\n    github_team: acme/security\n    group_email: security@acme.example\n"
                     "    leads: [p00000-acme]\n    members: [p00000-acme]")
    acc = [f"    - name: acct-{a:02d}\n      id: \"{_account_id(a)}\"\n      environment: dev\n"
           f"      owner: team{a % teams:02d}\n      mode: enforced\n      managed:\n"
           f"        aws-iam-group: [{', '.join(AWS_GROUPS)}]\n"
           f"        aws-sso-assignment: [{', '.join(SSO_SETS)}]\n"
           f"        aws-role-policy: [\"{ROLE_POLICY}\"]" for a in range(accounts)]
    proj = [f"    - id: proj-{p:02d}\n      environment: dev\n      owner: team{p % teams:02d}\n"
            f"      mode: enforced\n      managed:\n        gcp-project-role: [{', '.join(GCP_ROLES)}]"
            for p in range(projects)]
    targets = ("aws:\n  sso_instance_region: us-east-1\n  applier_role: accessctl-applier\n"
               "  ci_role_path: /accessctl/\n  accounts:\n" + "\n".join(acc) + "\ngcp:\n  projects:\n"
               + "\n".join(proj) + "\n")
    return {"people.yaml": "people:\n" + "\n".join(rows) + "\n",
            "teams.yaml": "teams:\n" + "\n".join(team_rows) + "\n", "targets.yaml": targets}


def _access(principal: str, requester: str, kind: str, where: str, target: str, field: str, value: str) -> str:
    return (f"apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: {principal}\nrequester: {requester}\n"
            f"justification: Synthetic access for the scale benchmark run.\nexpires: \"{EXPIRES}\"\n"
            f"grants:\n  - kind: {kind}\n    {where}: {target}\n    {field}: \"{value}\"\n")


def _identity(provider: str, name: str, target: str, owner: str, requester: str) -> str:
    where = "account" if provider == "aws" else "project"
    oidc = (f"oidc:\n  repository: acme/{name}\n  ref: refs/heads/main\n" if provider == "aws" else "")
    return (f"apiVersion: accessctl/v1\nkind: ServiceAccount\nprovider: {provider}\nname: {name}\n"
            f"{where}: {target}\nowner: {owner}\npurpose: Synthetic deploy identity for the scale benchmark.\n"
            f"requester: {requester}\nexpires: \"{EXPIRES}\"\n{oidc}")


def request_files(n: int, people: int, teams: int, accounts: int, projects: int, seed: int = 1
                  ) -> dict[str, str]:
    """``n`` valid request files (path -> text), no grant asked twice."""
    rng = random.Random(seed)
    files: dict[str, str] = {}
    seen: set[tuple] = set()
    i = 0
    while len(files) < n:
        i += 1
        slot = i % 100
        person = rng.randrange(people)
        who, login = f"user:p{person:05d}@acme.example", f"p{person:05d}-acme"
        if slot < 30:
            a = rng.randrange(accounts)
            key = ("g", a, person, AWS_GROUPS[i % 2])
            path = f"requests/aws/acct-{a:02d}/p{person:05d}-{key[3]}.yaml"
            text = _access(who, login, "aws-iam-group", "account", f"acct-{a:02d}", "group", key[3])
        elif slot < 50:
            a = rng.randrange(accounts)
            team = rng.randrange(teams) if slot >= 45 else None
            principal = f"group:team{team:02d}" if team is not None else who
            key = ("s", a, principal)
            stem = f"team{team:02d}" if team is not None else f"p{person:05d}"
            path = f"requests/aws/acct-{a:02d}/{stem}-sso-readonly.yaml"
            text = _access(principal, login, "aws-sso-assignment", "account", f"acct-{a:02d}",
                           "permission_set", SSO_SETS[0])
        elif slot < 95:
            p = rng.randrange(projects)
            role = GCP_ROLES[i % len(GCP_ROLES)]
            team = rng.randrange(teams) if slot >= 90 else None
            principal = f"group:team{team:02d}" if team is not None else who
            stem = f"team{team:02d}" if team is not None else f"p{person:05d}"
            key = ("r", p, principal, role)
            path = f"requests/gcp/proj-{p:02d}/{stem}-{role.rsplit('/', 1)[1].replace('.', '-')}.yaml"
            text = _access(principal, login, "gcp-project-role", "project", f"proj-{p:02d}", "role", role)
        else:
            if len(files) + 2 > n:
                continue
            name = f"deployer-{i:05d}"
            owner = f"team{i % teams:02d}"
            if i % 2:
                a = rng.randrange(accounts)
                key = ("i", i)
                base = f"requests/aws/acct-{a:02d}/{name}"
                files[base + ".yaml"] = _identity("aws", name, f"acct-{a:02d}", owner, login)
                path = base + "-readonly.yaml"
                text = _access(f"serviceAccount:acct-{a:02d}/{name}", login, "aws-role-policy", "account",
                               f"acct-{a:02d}", "policy", ROLE_POLICY)
            else:
                p = rng.randrange(projects)
                key = ("i", i)
                base = f"requests/gcp/proj-{p:02d}/{name}"
                files[base + ".yaml"] = _identity("gcp", name, f"proj-{p:02d}", owner, login)
                path = base + "-viewer.yaml"
                text = _access(f"serviceAccount:proj-{p:02d}/{name}", login, "gcp-project-role", "project",
                               f"proj-{p:02d}", "role", "roles/viewer")
        if key in seen or path in files:
            continue
        seen.add(key)
        files[path] = text
    return files


def generate(dest: Path, requests: int = 10_000, accounts: int = 50, projects: int = 50, people: int = 5_000,
             teams: int = 40, seed: int = 1) -> ScaleOrg:
    """Write the org model and ``requests`` request files into a new git repository at ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    data = dest / "policies" / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name in COPIED_DATA:
        shutil.copy(ROOT / "policies" / "data" / name, data / name)
    for name, text in _org_files(people, teams, accounts, projects).items():
        (data / name).write_text(text)
    for path, text in request_files(requests, people, teams, accounts, projects, seed).items():
        full = dest / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
    git = ["git", "-C", str(dest), "-c", "user.name=bench", "-c", "user.email=bench@acme.example"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(dest)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "synthetic organisation"], check=True)
    return ScaleOrg(dest, requests, accounts, projects, people, teams)
