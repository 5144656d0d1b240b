"""Seed the loopback emulators for the scale benchmark, fast.

Seeding 10,000 grants through moto's HTTP API would take minutes (about
8 ms a call here) and is not what the benchmark measures. So *seeding*
writes moto's backend objects directly (moto's server runs in this process:
``moto.iam.models.iam_backends`` etc. are the very objects the server
answers from) and FakeGcp's own seeding switches. The code under
measurement never comes here: it talks to the emulators over loopback HTTP
and gRPC through the real SDKs.

Only what the grants need is created: IAM users that appear in IAM group
grants (in their account), identity-store users and groups that appear in
Identity Center grants, the managed groups and permission sets.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

from connectors import gcp_accounts
from connectors.aws_iam import role_name_of, role_tags, trust_policy
from connectors.gcp_policy import Binding, Ensure, Members, edit, expiry_condition
from tools.core.model import Grant, Target
from tools.core.orgmodel import OrgModel
from tools.sandbox.aws import MANAGEMENT_ACCOUNT, REGION, FakeAws
from tools.sandbox.gcp import FakeGcp
from tools.sandbox.gcp_rules import policy_error
from tools.sandbox.sandbox import UNMANAGED_GCP

INTRUDER = "intruder@acme.example"  # extra access nobody requested (drift)


def _iam(account: str):
    from moto.iam.models import iam_backends
    return iam_backends[account]["global"]


def _sso():
    from moto.ssoadmin.models import ssoadmin_backends
    return ssoadmin_backends[MANAGEMENT_ACCOUNT][REGION]


def _ids():
    from moto.identitystore.models import identitystore_backends
    return identitystore_backends[MANAGEMENT_ACCOUNT][REGION]


@dataclass
class Emulators:
    """Both fakes, started, with the ids seeding created."""

    org: OrgModel
    aws: FakeAws = field(default_factory=FakeAws)
    gcp: FakeGcp = field(default_factory=FakeGcp)
    instance_arn: str = ""
    store_id: str = ""
    permission_sets: dict[str, str] = field(default_factory=dict)  # name -> arn
    principal_ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # principal -> (USER|GROUP, id)

    def env(self) -> dict[str, str]:
        return {**self.aws.env(), **self.gcp.env()}

    def stop(self) -> None:
        self.gcp.stop()
        self.aws.stop()


def start(org: OrgModel, grants: Iterable[Grant]) -> Emulators:
    """Start both fakes and create the identities and scopes ``grants`` need (no grants yet)."""
    grants = list(grants)
    emu = Emulators(org)
    emu.aws.start()
    emu.gcp.start()
    instance = emu.aws.client("sso-admin").list_instances()["Instances"][0]
    emu.instance_arn, emu.store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    accounts = [t for t in org.targets.values() if t.provider == "aws"]
    users_in: dict[str, set[str]] = {}
    for g in grants:
        if g.kind == "aws-iam-group":
            users_in.setdefault(g.target, set()).add(g.principal.partition(":")[2])
    for t in accounts:
        iam = _iam(t.id)
        for group in t.managed.get("aws-iam-group", ()):
            iam.create_group(group)
        for user in sorted(users_in.get(t.id, ())) + [INTRUDER]:
            iam.create_user(region_name=REGION, user_name=user)
    ids = _ids()
    sso_principals = sorted({g.principal for g in grants if g.kind == "aws-sso-assignment"} | {f"user:{INTRUDER}"})
    for p in sso_principals:
        kind, _, name = p.partition(":")
        if kind == "user":
            uid, _ = ids.create_user(emu.store_id, name, {"GivenName": name, "FamilyName": "Bench"}, name, None,
                                     None, [{"Value": name, "Type": "work", "Primary": True}], [], [], None,
                                     None, None, None, None)
            emu.principal_ids[p] = ("USER", uid)
        else:
            gid, _ = ids.create_group(emu.store_id, name, "")
            emu.principal_ids[p] = ("GROUP", gid)
    sso = emu.aws.client("sso-admin")  # few calls: the real API shapes the permission sets
    for name in sorted({n for t in accounts for n in t.managed.get("aws-sso-assignment", ())}):
        emu.permission_sets[name] = sso.create_permission_set(
            InstanceArn=emu.instance_arn, Name=name)["PermissionSet"]["PermissionSetArn"]
    for t in org.targets.values():
        if t.provider == "gcp":
            emu.gcp.add_project(t.id, unmanaged(t))
    return emu


def unmanaged(target: Target) -> list[dict]:
    """The sandbox's pre-existing bindings whose roles the pipeline does not
    manage in ``target`` (a managed one would be drift, not background)."""
    return [dict(b) for b in UNMANAGED_GCP if b["role"] not in target.managed.get("gcp-project-role", ())]


def seed_live(emu: Emulators, grants: Iterable[Grant]) -> int:
    """Make ``grants`` live exactly as the connectors would have written them."""
    from moto.ssoadmin.models import AccountAssignment
    members = Members(emu.org)
    sso, n = _sso(), 0
    ensure: dict[str, list[Ensure]] = {}
    grants = list(grants)
    roles = [g for g in grants if g.kind == "aws-ci-role"]
    for g in roles:  # identities before the policies attached to them
        _iam(g.target).create_role(
            g.entitlement, json.dumps(trust_policy(g.target, g.attr("oidc_repository") or "",
                                                   g.attr("oidc_ref") or "", g.expires)),
            "/accessctl/", None, g.attr("purpose") or "", role_tags(g), None)
    for g in grants:
        n += 1
        if g.kind == "aws-iam-group":
            _iam(g.target).add_user_to_group(g.entitlement, g.principal.partition(":")[2])
        elif g.kind == "aws-sso-assignment":
            ptype, pid = emu.principal_ids[g.principal]
            sso.account_assignments.append(AccountAssignment(
                emu.instance_arn, g.target, "AWS_ACCOUNT", emu.permission_sets[g.entitlement], ptype, pid))
        elif g.kind == "aws-role-policy":
            _iam(g.target).attach_role_policy(g.entitlement, role_name_of(g.principal))
        elif g.kind == "gcp-project-role":
            ensure.setdefault(g.target, []).append(
                Ensure(members.to_member(g.principal), g.entitlement, expiry_condition(g.request, g.expires)))
        elif g.kind == "gcp-service-account":
            emu.gcp.seed_service_account(g.target, g.entitlement, gcp_accounts.describe(g))
        elif g.kind != "aws-ci-role":
            raise ValueError(f"cannot seed {g.kind}")
    for project, ops in ensure.items():
        target = emu.org.target_by_id("gcp", project)
        bindings = _policy_json(edit(_unconditional(target), ops, []), target)
        # Seeding writes past setIamPolicy, so ask its rules here: a benchmark
        # must never measure a project policy GCP would refuse to hold.
        refused = policy_error(bindings, 3, [], lambda email: "ok", emu.gcp.max_policy_bytes)
        if refused:
            raise ValueError(f"the synthetic org cannot exist: GCP would refuse project {project}'s policy "
                             f"({len(ops)} grants): {refused} Spread the requests over more projects.")
        emu.gcp.seed_policy(project, bindings)
    return n


def wipe(emu: Emulators, targets: Iterable[Target]) -> None:
    """Remove every managed grant and identity from ``targets`` (back to before the first apply)."""
    targets = list(targets)
    ids = {t.id for t in targets if t.provider == "aws"}
    sso = _sso()
    sso.account_assignments[:] = [a for a in sso.account_assignments if a.target_id not in ids]
    for t in targets:
        if t.provider == "aws":
            iam = _iam(t.id)
            for group in t.managed.get("aws-iam-group", ()):
                iam.get_group(group).users[:] = []
            for role in [r for r in iam.get_roles() if r.path == "/accessctl/"]:
                for arn in list(role.managed_policies):
                    iam.detach_role_policy(arn, role.name)
                iam.delete_role(role.name)
        else:
            emu.gcp.seed_policy(t.id, unmanaged(t))
            with emu.gcp._lock:  # seeding switch: forget the project's accounts
                emu.gcp.accounts[t.id] = {}


def inject_drift(emu: Emulators, grants: list[Grant], every: int = 100) -> dict[str, int]:
    """Out-of-band changes a reconcile must find: every ``every``-th IAM group
    membership and Identity Center assignment removed, every ``every``-th GCP
    binding stripped of its expiry condition, and one unrequested member in
    the first managed group of every tenth account. Returns counts per kind."""
    sso, members = _sso(), Members(emu.org)
    out = {"missing": 0, "changed": 0, "extra": 0}
    stripped: dict[str, set[tuple[str, str]]] = {}
    for i, g in enumerate(grants):
        if i % every:
            continue
        if g.kind == "aws-iam-group":
            _iam(g.target).remove_user_from_group(g.entitlement, g.principal.partition(":")[2])
            out["missing"] += 1
        elif g.kind == "aws-sso-assignment":
            ptype, pid = emu.principal_ids[g.principal]
            arn = emu.permission_sets[g.entitlement]
            sso.account_assignments[:] = [a for a in sso.account_assignments if not (
                a.target_id == g.target and a.permission_set_arn == arn and a.principal_id == pid)]
            out["missing"] += 1
        elif g.kind == "gcp-project-role":
            stripped.setdefault(g.target, set()).add((members.to_member(g.principal).lower(), g.entitlement))
    for project, keys in stripped.items():
        policy = emu.gcp.policy(project)
        kept, loose = [], []
        for b in policy["bindings"]:
            ms = [m for m in b["members"] if (m.lower(), b["role"]) not in keys]
            loose += [{"role": b["role"], "members": [m]} for m in b["members"] if (m.lower(), b["role"]) in keys]
            if ms:
                kept.append({**b, "members": ms})
        emu.gcp.seed_policy(project, kept + loose)
        out["changed"] += len(loose)
    accounts = sorted((t for t in emu.org.targets.values() if t.provider == "aws" and t.managed.get("aws-iam-group")),
                      key=lambda t: t.id)
    for t in accounts[::10]:
        _iam(t.id).add_user_to_group(t.managed["aws-iam-group"][0], INTRUDER)
        out["extra"] += 1
    return out


def _unconditional(target: Target) -> list[Binding]:
    return [Binding(b["role"], tuple(b["members"]), None) for b in unmanaged(target) if "condition" not in b]


def _policy_json(bindings: list[Binding], target: Target) -> list[dict]:
    out = [b for b in unmanaged(target) if "condition" in b]
    for b in bindings:
        item: dict = {"role": b.role, "members": list(b.members)}
        if b.condition is not None:
            item["condition"] = {"expression": b.condition.expression, "title": b.condition.title,
                                 "description": b.condition.description}
        out.append(item)
    return out
