"""Invariant: a CI role the pipeline created is owned whole. A trust
statement for another account, an attached AdministratorAccess and an
inline ``*`` policy are drift (``extra``), shown by ``audit who-has
--live``, and removed by ``reconcile --mode fix``; what was requested stays."""
from __future__ import annotations

import json

from jobs_world import run_json, world  # noqa: F401

DEV = "111111111111"
ROLE = "billing-deployer"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
FOREIGN = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}


def _plant_backdoors(iam):
    doc = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    doc["Statement"].append(FOREIGN)
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(doc))
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=ADMIN)
    iam.put_role_policy(RoleName=ROLE, PolicyName="everything", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))


def test_backdoors_on_a_ci_role_are_extra_drift_and_fixed(world, capsys):
    repo, sb = world
    iam = sb.aws.client("iam", DEV)
    _plant_backdoors(iam)

    code, doc = run_json(repo, capsys, "reconcile", "--no-issue")
    assert code == 1
    extra = sorted((d["grant_kind"], d["target"]) for d in doc["drift"] if d["kind"] == "extra")
    assert extra == sorted([("aws-role-policy", ADMIN), ("aws-role-inline-policy", "everything"),
                            ("aws-role-trust", json.dumps(FOREIGN, sort_keys=True, separators=(",", ":")))])

    code, who = run_json(repo, capsys, "audit", "who-has", "acme-dev", "--live")
    assert code == 1, "live access the repository cannot explain"
    text = json.dumps(who)
    assert "AdministratorAccess" in text and "everything" in text and "999999999999" in text

    code, doc = run_json(repo, capsys, "reconcile", "--mode", "fix", "--no-issue")
    assert code == 0, doc
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]
    assert attached == [READONLY], "the requested policy stays, the backdoor goes"
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert [st["Principal"] for st in trust["Statement"]] == [
        {"Federated": f"arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com"}]
    code, doc = run_json(repo, capsys, "reconcile", "--no-issue")
    assert code == 0 and doc["drift"] == []


def test_import_never_adopts_a_backdoor(world, capsys):
    repo, sb = world
    _plant_backdoors(sb.aws.client("iam", DEV))
    code, doc = run_json(repo, capsys, "import", "--provider", "aws")
    assert doc.get("written", []) == [], doc
