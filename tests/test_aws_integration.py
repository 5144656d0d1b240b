"""Third-party integrations on AWS, against moto through boto3: one IAM user,
one access key that lives only in Secrets Manager, rotated within
rotate_days with a grace period for the old key, foreign keys removed as
drift, and everything (keys, user, secret) deleted at expiry or removal."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from test_aws_connector import EXPIRES, PROD, aws, connector, org, server  # noqa: F401 (fixtures)

from tools.core.model import Action, Grant
from tools.provision.plan import diff

NAME = "pagerduty-sync"
SECRET = f"accessctl/acme-prod/{NAME}"
PRINCIPAL = f"serviceAccount:acme-prod/{NAME}"
START = datetime.now(timezone.utc).replace(microsecond=0)  # IAM stamps CreateDate with the real clock


def integration(key: str = "current", vendor: str = "PagerDuty") -> Grant:
    attrs = {"owner": "sre", "use": "integration", "vendor": vendor, "rotate_days": "30", "key": key}
    return Grant("aws", PROD, PRINCIPAL, "aws-integration-user", NAME, EXPIRES,
                 f"requests/aws/acme-prod/{NAME}.yaml", tuple(sorted(attrs.items())))


def at(monkeypatch, when: datetime) -> None:
    monkeypatch.setenv("ACCESSCTL_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))


def converge(org, desired):  # noqa: F811
    conn = connector(org)
    target = org.target("aws", "acme-prod")
    changes = diff(desired, conn.read(target))
    results = conn.apply(target, changes)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return changes


def secret(aws):  # noqa: F811
    return json.loads(aws.client("secretsmanager", PROD).get_secret_value(SecretId=SECRET)["SecretString"])


def keys(aws):  # noqa: F811
    return {k["AccessKeyId"] for k in aws.client("iam", PROD).list_access_keys(UserName=NAME)["AccessKeyMetadata"]}


def test_apply_creates_the_user_and_one_key_that_lives_only_in_the_secret(aws, org, monkeypatch):  # noqa: F811
    at(monkeypatch, START)
    converge(org, [integration()])
    stored = secret(aws)
    assert keys(aws) == {stored["AccessKeyId"]} and stored["SecretAccessKey"]
    described = aws.client("secretsmanager", PROD).describe_secret(SecretId=SECRET)
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {
        "managed-by": "accessctl", "owner": "sre", "vendor": "PagerDuty",
        "request": f"requests/aws/acme-prod/{NAME}.yaml", "expires": "2027-05-01T00:00:00Z"}
    assert diff([integration()], connector(org).read(org.target("aws", "acme-prod"))) == []
    assert converge(org, [integration()]) == []  # idempotent


def test_a_key_older_than_rotate_days_is_drift_and_applying_rotates_with_a_grace_period(aws, org, monkeypatch):  # noqa: F811
    at(monkeypatch, START)
    converge(org, [integration()])
    first = secret(aws)["AccessKeyId"]
    at(monkeypatch, START + timedelta(days=31))
    changes = converge(org, [integration()])
    assert [(c.action, c.reason) for c in changes] == [(Action.UPDATE, "key 'due' → 'current'")]
    second = secret(aws)["AccessKeyId"]
    assert second != first and keys(aws) == {first, second}  # the old key works through the grace period
    at(monkeypatch, START + timedelta(days=31, hours=23))
    assert converge(org, [integration()]) == []
    at(monkeypatch, START + timedelta(days=32, hours=1))  # org model: key_rotation_grace_hours 24
    changes = converge(org, [integration()])
    assert [(c.action, c.grant.kind, c.grant.entitlement) for c in changes] == \
        [(Action.REMOVE, "aws-access-key", first)]
    assert keys(aws) == {second} and secret(aws)["AccessKeyId"] == second


def test_a_key_the_pipeline_did_not_create_is_drift_and_fix_deletes_it(aws, org, monkeypatch):  # noqa: F811
    at(monkeypatch, START)
    converge(org, [integration()])
    foreign = aws.client("iam", PROD).create_access_key(UserName=NAME)["AccessKey"]["AccessKeyId"]
    changes = converge(org, [integration()])
    assert [(c.action, c.grant.kind, c.grant.entitlement) for c in changes] == \
        [(Action.REMOVE, "aws-access-key", foreign)]
    assert foreign not in keys(aws) and keys(aws) == {secret(aws)["AccessKeyId"]}


def test_removal_deletes_keys_user_and_secret(aws, org, monkeypatch):  # noqa: F811
    at(monkeypatch, START)
    converge(org, [integration()])
    changes = converge(org, [])
    assert [(c.action, c.grant.kind) for c in changes] == [(Action.REMOVE, "aws-integration-user")]
    iam = aws.client("iam", PROD)
    assert NAME not in {u["UserName"] for u in iam.list_users()["Users"]}
    assert not aws.client("secretsmanager", PROD).list_secrets()["SecretList"]


def test_a_user_of_that_name_not_created_by_the_pipeline_gets_no_key(aws, org, monkeypatch):  # noqa: F811
    at(monkeypatch, START)
    aws.client("iam", PROD).create_user(UserName=NAME, Path="/accessctl/")
    target = org.target("aws", "acme-prod")
    results = connector(org).apply(target, diff([integration()], connector(org).read(target)))
    assert not results[0].ok and "not created by accessctl" in results[0].error
    assert keys(aws) == set() and not aws.client("secretsmanager", PROD).list_secrets()["SecretList"]


@pytest.mark.parametrize("crash_after", ["CreateAccessKey", "CreateSecret"])
def test_a_crash_mid_issue_converges_to_one_key_in_the_secret(aws, org, monkeypatch, crash_after):  # noqa: F811
    from tools.sandbox.aws import SimulatedCrash
    at(monkeypatch, START)
    target = org.target("aws", "acme-prod")
    conn = connector(org)
    crashed = {"done": False}

    def crash(**kwargs):
        if not crashed["done"]:
            crashed["done"] = True
            raise SimulatedCrash(crash_after)
    conn.secrets(PROD)  # create the clients, then hook the one that the operation goes through
    client = conn.secrets(PROD) if crash_after == "CreateSecret" else conn.iam(PROD)
    client.meta.events.register(f"after-call.*.{crash_after}", crash)
    with pytest.raises(SimulatedCrash):
        conn.apply(target, diff([integration()], conn.read(target)))
    converge(org, [integration()])
    converge(org, [integration()])
    assert keys(aws) == {secret(aws)["AccessKeyId"]}
    assert diff([integration()], connector(org).read(target)) == []


def test_a_managed_policy_granted_to_an_integration_is_attached_to_its_user(aws, org, monkeypatch):  # noqa: F811
    at(monkeypatch, START)
    readonly = Grant("aws", PROD, PRINCIPAL, "aws-role-policy", "arn:aws:iam::aws:policy/ReadOnlyAccess", EXPIRES,
                     f"requests/aws/acme-prod/{NAME}-readonly.yaml")
    converge(org, [integration(), readonly])
    iam = aws.client("iam", PROD)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=NAME)["AttachedPolicies"]] == \
        [readonly.entitlement]
    assert converge(org, [integration(), readonly]) == []
    changes = converge(org, [integration()])
    assert [(c.action, c.grant.kind) for c in changes] == [(Action.REMOVE, "aws-role-policy")]
    assert iam.list_attached_user_policies(UserName=NAME)["AttachedPolicies"] == []
