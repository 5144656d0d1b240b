"""The AWS connector against moto's server, through the real boto3 clients.

Each test states a property a platform team relies on: what apply writes
reads back identically, a second run writes nothing, a crash is repaired,
throttling is absorbed, the unmanaged scope is never touched, and Identity
Center never has more than 15 assignment operations in progress.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from conftest import PROJECT

from connectors.aws import PERMISSIONS, AwsConnector
from connectors.ratelimit import Limiter, Outcome, TokenBucket, drive
from tools.core.errors import UsageError
from tools.core.model import Action, Change, Grant
from tools.core.orgmodel import load
from tools.core.repo import Tree
from tools.provision.plan import diff
from tools.sandbox.aws import CallLog, FakeAws, SimulatedCrash, inject_error, inject_throttling

DEV, PROD = "111111111111", "333333333333"
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
EXPIRES = datetime(2027, 5, 1, tzinfo=timezone.utc)
SA_REQUEST = "requests/aws/acme-dev/billing-deployer.yaml"


@pytest.fixture(scope="module")
def org():
    return load(Tree(PROJECT))


@pytest.fixture(scope="module")
def server():
    with FakeAws() as fake:
        yield fake


@pytest.fixture
def aws(server, org, monkeypatch):
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    server.reset()
    server.assignments.polls = 0
    server.seeded = server.seed(org)
    return server


def connector(org, log: CallLog | None = None, **options) -> AwsConnector:
    options.setdefault("sso_rate", 1000.0)
    options.setdefault("poll_interval", 0.001)
    return AwsConnector(org, on_client=log.attach if log else None, **options)


def ci_role(name="billing-deployer", expires=EXPIRES, ref="refs/heads/main") -> Grant:
    attrs = {"owner": "platform", "purpose": "Deploys the billing service to dev.",
             "oidc_repository": "acme/billing-service", "oidc_ref": ref}
    return Grant("aws", DEV, f"serviceAccount:acme-dev/{name}", "aws-ci-role", name, expires,
                 f"requests/aws/acme-dev/{name}.yaml", tuple(sorted(attrs.items())))


def desired_dev() -> list[Grant]:
    return [
        Grant("aws", DEV, "user:bob@acme.example", "aws-iam-group", "developers", EXPIRES, "requests/aws/acme-dev/bob.yaml"),
        Grant("aws", DEV, "user:bob@acme.example", "aws-sso-assignment", "ReadOnly", EXPIRES, "requests/aws/acme-dev/bob.yaml"),
        Grant("aws", DEV, "group:platform", "aws-sso-assignment", "PowerUser", EXPIRES, "requests/aws/acme-dev/p.yaml"),
        ci_role(),
        Grant("aws", DEV, "serviceAccount:acme-dev/billing-deployer", "aws-role-policy", READONLY, EXPIRES, SA_REQUEST),
    ]


def converge(org, target, desired, log=None, **options):
    """What apply does: read, diff, apply; returns (changes, results)."""
    conn = connector(org, log, **options)
    changes = diff(desired, conn.read(target))
    return changes, conn.apply(target, changes)


def dev(org):
    return org.target("aws", "acme-dev")


def test_round_trip_of_every_kind_reads_back_as_desired(aws, org):
    target = dev(org)
    changes, results = converge(org, target, desired_dev())
    assert {c.grant.kind for c in changes} == {"aws-iam-group", "aws-sso-assignment", "aws-ci-role", "aws-role-policy"}
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]

    live = connector(org).read(target)
    assert diff(desired_dev(), live) == []
    role = next(g for g in live if g.kind == "aws-ci-role")
    assert role == ci_role()  # expiry from the trust policy, request and owner from tags, purpose, OIDC trust

    iam = aws.client("iam", DEV)
    got = iam.get_role(RoleName="billing-deployer")["Role"]
    assert got["Path"] == "/accessctl/"
    statement = got["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"]["Federated"] == \
        f"arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["DateLessThan"] == {"aws:CurrentTime": "2027-05-01T00:00:00Z"}
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/billing-service:ref:refs/heads/main"}
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName="billing-deployer")["Tags"]}
    assert tags == {"owner": "platform", "request": SA_REQUEST, "expires": "2027-05-01T00:00:00Z",
                    "managed-by": "accessctl"}


def test_expiry_read_from_the_trust_policy_not_the_tags(aws, org):
    target = dev(org)
    converge(org, target, [ci_role()])
    # Someone edits the trust policy by hand: the tag still says 2027-05-01.
    iam = aws.client("iam", DEV)
    doc = iam.get_role(RoleName="billing-deployer")["Role"]["AssumeRolePolicyDocument"]
    doc["Statement"][0]["Condition"]["DateLessThan"]["aws:CurrentTime"] = "2030-01-01T00:00:00Z"
    iam.update_assume_role_policy(RoleName="billing-deployer", PolicyDocument=json.dumps(doc))

    changes, results = converge(org, target, [ci_role()])
    assert [(c.action, c.current.expires.year) for c in changes] == [(Action.UPDATE, 2030)]
    assert all(r.ok for r in results)
    assert connector(org).read(target) == [ci_role()]


def test_changed_expiry_and_ref_update_the_trust_and_tags(aws, org):
    target = dev(org)
    converge(org, target, [ci_role()])
    later = datetime(2027, 8, 1, 12, 30, tzinfo=timezone.utc)
    changes, results = converge(org, target, [ci_role(expires=later, ref="refs/heads/release")])
    assert [c.action for c in changes] == [Action.UPDATE] and all(r.ok for r in results)
    statement = aws.client("iam", DEV).get_role(RoleName="billing-deployer")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Condition"]["DateLessThan"]["aws:CurrentTime"] == "2027-08-01T12:30:00Z"
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == \
        "repo:acme/billing-service:ref:refs/heads/release"
    assert connector(org).read(target) == [ci_role(expires=later, ref="refs/heads/release")]


def test_second_apply_from_a_fresh_read_writes_nothing(aws, org):
    target = dev(org)
    converge(org, target, desired_dev())
    log = CallLog()
    changes, results = converge(org, target, desired_dev(), log)
    assert changes == [] and results == []
    assert log.writes() == []
    assert log.calls, "the read itself was counted"


def test_a_stale_plan_never_creates_a_duplicate_assignment(aws, org):
    target = dev(org)
    add = [Change(Action.ADD, g) for g in desired_dev() if g.kind == "aws-sso-assignment"]
    assert all(r.ok for r in connector(org).apply(target, add))
    log = CallLog()
    results = connector(org, log).apply(target, add)  # same plan again, e.g. a re-run job
    assert all(r.ok for r in results)
    assert log.operations()["CreateAccountAssignment"] == 0
    sso = aws.client("sso-admin")
    listed = sso.list_account_assignments(InstanceArn=aws.seeded.instance_arn, AccountId=DEV,
                                          PermissionSetArn=aws.seeded.permission_sets["ReadOnly"])
    assert len(listed["AccountAssignments"]) == 1


@pytest.mark.parametrize("crash_after", [0, 1, 2, 3, 4])
def test_a_crash_after_any_write_is_repaired_by_the_next_run(aws, org, crash_after):
    target = dev(org)
    log = CallLog(crash_after_writes=crash_after)
    with pytest.raises(SimulatedCrash):
        converge(org, target, desired_dev(), log)
    assert len(log.writes()) == crash_after

    changes, results = converge(org, target, desired_dev())
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert diff(desired_dev(), connector(org).read(target)) == []
    for name in ("ReadOnly", "PowerUser"):  # no duplicate from the repair
        listed = aws.client("sso-admin").list_account_assignments(
            InstanceArn=aws.seeded.instance_arn, AccountId=DEV, PermissionSetArn=aws.seeded.permission_sets[name])
        assert len(listed["AccountAssignments"]) == 1


def test_throttling_is_retried_by_botocore(aws, org):
    injected = {}
    log = CallLog()

    def hook(service, account, client):
        log.attach(service, account, client)
        if service == "sso-admin":
            injected["sso"] = inject_throttling(client, "CreateAccountAssignment", 2)
        if service == "iam":
            injected["iam"] = inject_throttling(client, "AddUserToGroup", 1)

    conn = AwsConnector(org, on_client=hook, sso_rate=1000.0, poll_interval=0.001, retry_mode="standard")
    results = conn.apply(dev(org), [Change(Action.ADD, g) for g in desired_dev()
                                    if g.kind in ("aws-sso-assignment", "aws-iam-group")])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert injected["sso"]["CreateAccountAssignment"] == 2 and injected["iam"]["AddUserToGroup"] == 1
    assert log.sends["AddUserToGroup"] == 2  # one throttled attempt, one retry
    assert log.operations()["CreateAccountAssignment"] == 2  # two calls, retried inside botocore
    assert log.sends["CreateAccountAssignment"] == 4
    assert diff(desired_dev()[:3], connector(org).read(dev(org))) == []


def test_a_role_not_yet_visible_after_create_is_retried_briefly(aws, org):
    log, naps = CallLog(), []

    def hook(service, account, client):
        log.attach(service, account, client)
        if service == "iam":  # IAM eventual consistency: the new role is not found at first
            inject_error(client, "AttachRolePolicy", 2, "NoSuchEntity", "The role cannot be found.", 404)

    conn = AwsConnector(org, on_client=hook, sleep=naps.append)
    results = conn.apply(dev(org), [Change(Action.ADD, g) for g in desired_dev()[3:]])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert log.sends["AttachRolePolicy"] == 3 and len(naps) == 2
    assert diff(desired_dev()[3:], connector(org).read(dev(org))) == []


def test_unmanaged_group_and_permission_set_are_never_read_or_touched(aws, org):
    target = dev(org)
    converge(org, target, desired_dev())
    seeded = aws.seeded
    live = connector(org).read(target)
    assert all(g.entitlement not in (seeded.unmanaged_group, seeded.unmanaged_permission_set) for g in live)

    # Revoke everything the pipeline manages; then try to reach outside the scope.
    log = CallLog()
    outside = [Change(Action.REMOVE, Grant("aws", DEV, f"user:{seeded.unmanaged_member}", "aws-iam-group",
                                           seeded.unmanaged_group)),
               Change(Action.REMOVE, Grant("aws", DEV, f"user:{seeded.unmanaged_member}", "aws-sso-assignment",
                                           seeded.unmanaged_permission_set))]
    results = connector(org, log).apply(target, diff([], live) + outside)
    assert [r.ok for r in results[-2:]] == [False, False]
    assert all("outside the managed scope" in r.error for r in results[-2:])
    assert all(r.ok for r in results[:-2])
    assert connector(org).read(target) == []
    assert ("iam", DEV, "RemoveUserFromGroup") in log.calls  # the managed member was removed

    iam = aws.client("iam", DEV)
    members = [u["UserName"] for u in iam.get_group(GroupName=seeded.unmanaged_group)["Users"]]
    assert members == [seeded.unmanaged_member]
    listed = aws.client("sso-admin").list_account_assignments(
        InstanceArn=seeded.instance_arn, AccountId=DEV,
        PermissionSetArn=seeded.permission_sets[seeded.unmanaged_permission_set])["AccountAssignments"]
    assert [a["PrincipalId"] for a in listed] == [seeded.users[seeded.unmanaged_member]]
    assert iam.get_role(RoleName="accessctl-applier")["Role"]["RoleName"] == "accessctl-applier"


def test_removing_a_ci_role_detaches_its_policies_and_deletes_it(aws, org):
    target = dev(org)
    converge(org, target, desired_dev())
    conn = connector(org)
    conn.revoke_role_sessions(DEV, "billing-deployer", datetime(2026, 11, 22, 12, tzinfo=timezone.utc))
    doc = aws.client("iam", DEV).get_role_policy(RoleName="billing-deployer",
                                                  PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]
    assert doc["Statement"][0]["Effect"] == "Deny"
    assert doc["Statement"][0]["Condition"] == {"DateLessThan": {"aws:TokenIssueTime": "2026-11-22T12:00:00Z"}}

    keep = [g for g in desired_dev() if g.kind not in ("aws-ci-role", "aws-role-policy")]
    changes, results = converge(org, target, keep)
    assert sorted(c.grant.kind for c in changes) == ["aws-ci-role", "aws-role-policy"]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    roles = aws.client("iam", DEV).list_roles(PathPrefix="/accessctl/")["Roles"]
    assert roles == []
    assert diff(keep, connector(org).read(target)) == []


def test_never_more_than_15_assignment_operations_in_progress(aws, org):
    aws.assignments.polls = 2  # each operation answers IN_PROGRESS twice, as AWS does
    target = org.target("aws", "acme-prod")
    people = sorted(org.people)[:8]
    desired = [Grant("aws", PROD, f"user:{p}", "aws-sso-assignment", ps)
               for p in people for ps in target.managed["aws-sso-assignment"]]
    assert len(desired) == 40
    log = CallLog()
    changes, results = converge(org, target, desired, log, max_outstanding=50)  # clamped to 15
    assert len(changes) == 40 and all(r.ok for r in results)
    assert log.operations()["CreateAccountAssignment"] == 40
    assert log.operations()["DescribeAccountAssignmentCreationStatus"] >= 80
    assert log.peak_outstanding() == 15  # the window is used, and never exceeded
    assert aws.assignments.peak_outstanding == 15  # the server saw the same
    assert diff(desired, connector(org).read(target)) == []


def test_list_roles_is_paginated(aws, org):
    target = dev(org)
    roles = [ci_role(f"ci-{i}") for i in range(7)]
    converge(org, target, roles)
    log = CallLog()
    live = connector(org, log, role_page_size=2).read(target)
    assert live == sorted(roles, key=lambda g: g.key)
    assert log.operations()["ListRoles"] == 4  # 2 + 2 + 2 + 1


def test_one_failure_does_not_stop_the_other_changes(aws, org):
    target = dev(org)
    ghost = Grant("aws", DEV, "user:nobody@acme.example", "aws-sso-assignment", "ReadOnly")
    ghost_iam = Grant("aws", DEV, "user:nobody@acme.example", "aws-iam-group", "developers")
    good = desired_dev()[:3]
    results = connector(org).apply(target, [Change(Action.ADD, g) for g in [ghost, ghost_iam, *good]])
    assert [r.ok for r in results] == [False, False, True, True, True]
    assert "does not exist in the Identity Center identity store" in results[0].error
    assert "NoSuchEntity" in results[1].error or "cannot be found" in results[1].error
    assert diff(good, connector(org).read(target)) == []


def test_every_operation_declares_permissions_and_covers_every_call(aws, org):
    assert PERMISSIONS and all(PERMISSIONS.values())
    declared = {a for actions in PERMISSIONS.values() for a in actions}
    log = CallLog()
    target = dev(org)
    converge(org, target, desired_dev(), log)
    converge(org, target, [], log)
    prefix = {"iam": "iam", "sso-admin": "sso", "identitystore": "identitystore", "sts": "sts"}
    used = {f"{prefix[service]}:{op}" for service, _, op in log.calls}
    assert used - declared == set()
    assert "sso:CreateAccountAssignment" in used and "iam:DeleteRole" in used


def test_an_unreachable_endpoint_is_a_one_line_usage_error(org, monkeypatch):
    import socket
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for key, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "x",
                       "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UsageError, match=r"reading AWS account acme-dev \(111111111111\) failed: .*connect"):
        AwsConnector(org, max_attempts=1).read(dev(org))


# ---- the limiter's pure core -------------------------------------------------

class SimClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_never_exceeds_burst_plus_rate():
    bucket = TokenBucket(rate=5.0, burst=2.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.2)]
    assert bucket.take(0.1) == pytest.approx(0.1)
    assert bucket.take(0.2) == 0.0


def test_drive_paces_submissions_and_bounds_the_window():
    clock = SimClock()
    limiter = Limiter(rate=20.0, burst=1.0, max_outstanding=15, clock=clock, sleep=clock.sleep)
    started: dict[int, float] = {}

    def submit(item):
        started[item] = clock()
        return item, None

    def poll(item, handle):
        return Outcome(True) if clock() - started[item] >= 2.0 else None  # 2 s per operation

    results = drive(list(range(100)), submit, poll, limiter, poll_interval=0.25)
    assert len(results) == 100 and all(o.ok for o in results.values())
    assert limiter.peak_outstanding == 15
    # 15 in flight for >= 2 s caps throughput near 7.5/s, below the 20/s rate
    assert clock.now >= 100 / 7.5 - 1
    times = limiter.submitted
    assert all(b - a >= 1 / 20.0 - 1e-9 for a, b in zip(times, times[1:]))


def test_applier_credentials_renew_themselves_before_they_expire(aws, org):
    """A run longer than the applier role's session must not fail half-way:
    with a session near its end, each use assumes the role again."""
    log = CallLog()
    conn = connector(org, log, role_session_seconds=900)  # always inside botocore's refresh window
    target = dev(org)
    conn.read(target)
    first = log.operations()["AssumeRole"]
    conn.read(target)
    assert first >= 1 and log.operations()["AssumeRole"] > first
    log_long = CallLog()
    steady = connector(org, log_long)  # an hour: no renewal within a run this short
    steady.read(target)
    steady.read(target)
    assert log_long.operations()["AssumeRole"] == 1


def test_the_pr_check_assumes_its_read_only_planner_role(org, monkeypatch):
    """The PR check's workflow names the planning role (README, "The planning
    identity"); without it the connector assumes the org model's applier role."""
    assert AwsConnector(org).applier_role == org.raw["aws"]["applier_role"]
    monkeypatch.setenv("ACCESSCTL_AWS_ASSUME_ROLE", "accessctl-planner")
    assert AwsConnector(org).applier_role == "accessctl-planner"


RUNTIME = f"arn:aws:iam::{DEV}:role/agent-runtime"
BOUNDARY = f"arn:aws:iam::{DEV}:policy/accessctl-agent-boundary"


def agent_role(minutes="60", runtime=RUNTIME) -> Grant:
    attrs = {"owner": "platform", "purpose": "Reads tickets for the triage assistant.", "use": "agent",
             "runtime": runtime, "max_session_minutes": minutes, "permissions_boundary": BOUNDARY}
    return Grant("aws", DEV, "serviceAccount:acme-dev/triage-agent", "aws-ci-role", "triage-agent", EXPIRES,
                 "requests/aws/acme-dev/triage-agent.yaml", tuple(sorted(attrs.items())))


def test_an_agent_role_trusts_only_its_runtime_with_its_session_length_and_boundary(aws, org):
    target = dev(org)
    changes, results = converge(org, target, [agent_role()])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert diff([agent_role()], connector(org).read(target)) == []
    role = aws.client("iam", DEV).get_role(RoleName="triage-agent")["Role"]
    assert role["MaxSessionDuration"] == 3600
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"AWS": RUNTIME}, "Action": "sts:AssumeRole",
        "Condition": {"DateLessThan": {"aws:CurrentTime": "2027-05-01T00:00:00Z"}}}]
    assert not aws.client("iam", DEV).list_users(PathPrefix="/accessctl/")["Users"]  # never a user or key

    # a longer session and a removed boundary are drift the next apply repairs
    iam = aws.client("iam", DEV)
    iam.delete_role_permissions_boundary(RoleName="triage-agent")
    changes, results = converge(org, target, [agent_role("120")])
    assert [c.action for c in changes] == [Action.UPDATE] and all(r.ok for r in results)
    role = iam.get_role(RoleName="triage-agent")["Role"]
    assert role["MaxSessionDuration"] == 7200
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert diff([agent_role("120")], connector(org).read(target)) == []


def test_an_extra_trust_statement_on_an_agent_role_is_drift_and_fix_removes_it(aws, org):
    target = dev(org)
    converge(org, target, [agent_role()])
    iam = aws.client("iam", DEV)
    doc = iam.get_role(RoleName="triage-agent")["Role"]["AssumeRolePolicyDocument"]
    foreign = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PROD}:root"}, "Action": "sts:AssumeRole"}
    iam.update_assume_role_policy(RoleName="triage-agent",
                                  PolicyDocument=json.dumps(dict(doc, Statement=doc["Statement"] + [foreign])))
    changes, results = converge(org, target, [agent_role()])
    assert [(c.action, c.grant.kind) for c in changes] == [(Action.REMOVE, "aws-role-trust")]
    assert all(r.ok for r in results)
    statements = iam.get_role(RoleName="triage-agent")["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert statements == [doc["Statement"][0]]


def test_an_agent_runtime_outside_the_organisation_is_never_written(aws, org):
    outsider = agent_role(runtime="arn:aws:iam::999999999999:role/agent-runtime")
    _, results = converge(org, dev(org), [outsider])
    assert not results[0].ok and "not in an account of the organisation" in results[0].error
    assert not [r for r in aws.client("iam", DEV).list_roles()["Roles"] if r["RoleName"] == "triage-agent"]
