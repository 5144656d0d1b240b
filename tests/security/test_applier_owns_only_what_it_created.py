"""Invariant: the applier owns only what it created (issue 11).

The attacker can create cloud identities by hand (or already has one) and
opens or merges request files. They try to make the pipeline adopt, re-trust
or grant to an identity it did not create, to reach the pipeline's own
identities, or to have a CI role trust a repository they control. Each test
plays the attack through `apply` (or `validate`, the gate's first step) on
the loopback clouds and asserts the access did NOT appear.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from conftest import PROJECT, make_repo

from connectors.aws import AwsConnector
from tools.core.model import Action, Change, Grant
from tools.core.orgmodel import load
from tools.core.repo import Tree

DEV = "111111111111"
GCP_PROJECT = "acme-data-prod"
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
EVIL_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
    "Principal": {"Federated": f"arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com"},
    "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:evil/*"}}}]})


@pytest.fixture
def world(sandbox, tmp_path, monkeypatch):
    sandbox.reseed()
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    return make_repo(tmp_path / "access"), sandbox


def _role(iam, name):
    role = iam.get_role(RoleName=name)["Role"]
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    return role["Path"], role.get("Description"), role["AssumeRolePolicyDocument"], attached


@pytest.mark.parametrize("path,tags", [("/", []), ("/accessctl/", []),
                                       ("/accessctl/", [{"Key": "owner", "Value": "platform"}])])
def test_a_role_with_the_same_name_is_never_adopted_re_trusted_or_granted(world, capsys, path, tags):
    repo, sb = world
    iam = sb.aws.client("iam", DEV)
    iam.create_role(RoleName="billing-deployer", Path=path, AssumeRolePolicyDocument=EVIL_TRUST,
                    Description="made by hand", Tags=tags)
    before = _role(iam, "billing-deployer")

    res = repo.run("apply", capsys=capsys)
    assert res.code == 1, res.out
    assert "billing-deployer exists but was not created by accessctl" in res.out
    assert _role(iam, "billing-deployer") == before  # same trust, same description, no policy attached
    assert READONLY not in before[3]
    assert "Traceback" not in res.out + res.err


def test_a_service_account_with_the_same_name_is_never_adopted_or_granted(world, capsys):
    repo, sb = world
    sb.gcp.seed_service_account(GCP_PROJECT, "etl-runner", description="made by hand")
    res = repo.run("apply", capsys=capsys)
    assert res.code == 1, res.out
    assert "was not created by accessctl" in res.out
    assert sb.gcp.service_account(GCP_PROJECT, "etl-runner").description == "made by hand"
    members = {m for b in sb.gcp.policy(GCP_PROJECT)["bindings"] for m in b["members"]}
    assert f"serviceAccount:etl-runner@{GCP_PROJECT}.iam.gserviceaccount.com" not in members


SA_FILE = """\
apiVersion: accessctl/v1
kind: ServiceAccount
provider: aws
name: {name}
account: acme-dev
owner: platform
purpose: Deploys the billing service to dev from its main branch.
requester: alice-acme
expires: "2027-05-01"
oidc:
  repository: {repository}
  ref: refs/heads/main
"""
GRANT_FILE = """\
apiVersion: accessctl/v1
kind: AccessRequest
principal: serviceAccount:acme-dev/{name}
requester: alice-acme
justification: The deploy job needs to write the release bucket.
expires: "2027-02-01"
grants:
  - kind: aws-role-policy
    account: acme-dev
    policy: arn:aws:iam::aws:policy/AmazonS3FullAccess
"""


def test_the_applier_role_cannot_be_defined_re_trusted_or_granted_by_a_request(world, capsys):
    repo, sb = world
    iam = sb.aws.client("iam", DEV)
    before = _role(iam, "accessctl-applier")
    repo.write("requests/aws/acme-dev/accessctl-applier.yaml",
               SA_FILE.format(name="accessctl-applier", repository="acme/billing-service"))
    repo.write("requests/aws/acme-dev/applier-s3.yaml", GRANT_FILE.format(name="accessctl-applier"))
    repo.commit("attack")
    res = repo.run("validate", capsys=capsys)
    assert res.code == 1 and "the pipeline's own identity" in res.out
    repo.run("apply", capsys=capsys)  # apply leaves invalid files out and applies the rest
    assert _role(iam, "accessctl-applier") == before  # same trust and description, no policy attached


def test_a_ci_role_trusting_a_repository_outside_the_org_is_never_created(world, capsys):
    repo, sb = world
    repo.write("requests/aws/acme-dev/evil-deployer.yaml",
               SA_FILE.format(name="evil-deployer", repository="evil-corp/payload"))
    repo.commit("attack")
    res = repo.run("validate", capsys=capsys)
    assert res.code == 1 and "allowed: acme/<repository>" in res.out
    repo.run("apply", capsys=capsys)
    roles = [r["RoleName"] for r in sb.aws.client("iam", DEV).list_roles()["Roles"]]
    assert "evil-deployer" not in roles


def test_the_connector_refuses_a_foreign_trust_even_without_validation(world):
    """Defence in depth: a grant that reached the connector without validation."""
    _, sb = world
    org = load(Tree(PROJECT))
    attrs = {"owner": "platform", "purpose": "x", "oidc_repository": "evil-corp/payload", "oidc_ref": "refs/heads/main"}
    role = Grant("aws", DEV, "serviceAccount:acme-dev/evil-deployer", "aws-ci-role", "evil-deployer",
                 datetime(2027, 1, 1, tzinfo=timezone.utc), "requests/aws/acme-dev/evil-deployer.yaml",
                 tuple(sorted(attrs.items())))
    [result] = AwsConnector(org).apply(org.target("aws", "acme-dev"), [Change(Action.ADD, role)])
    assert not result.ok and "outside the organisation" in result.error
    assert "evil-deployer" not in [r["RoleName"] for r in sb.aws.client("iam", DEV).list_roles()["Roles"]]
