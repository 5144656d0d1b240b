"""Identity Center's ConflictException: retried with backoff, then re-listed;
an assignment that now exists is success. Two applies started at once
converge with no duplicate assignment.

moto stores duplicate assignments (real AWS answers ConflictException while
another operation on the same assignment is in progress, and refuses a second
copy), so these tests play the service's rule through botocore's own
``before-send`` hook: the real client, retry and parsing code run."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
from botocore.awsrequest import AWSResponse
from conftest import PROJECT

from connectors.aws import AwsConnector
from tools.core.model import Action, Change, Grant
from tools.core.orgmodel import load
from tools.core.repo import Tree
from tools.sandbox.aws import FakeAws, inject_error

DEV = "111111111111"
GRANT = Grant("aws", DEV, "group:platform", "aws-sso-assignment", "PowerUser",
              datetime(2027, 5, 1, tzinfo=timezone.utc), "requests/aws/acme-dev/p.yaml")


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
    server.seeded = server.seed(org)
    return server


def _connector(org, on_client=None) -> AwsConnector:
    return AwsConnector(org, sso_rate=1000.0, poll_interval=0.001, on_client=on_client, sleep=lambda s: None)


def _assignments(aws) -> list[dict]:
    sso = aws.client("sso-admin")
    s = aws.seeded
    return sso.list_account_assignments(InstanceArn=s.instance_arn, AccountId=DEV,
                                        PermissionSetArn=s.permission_sets["PowerUser"])["AccountAssignments"]


class _Body:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_):
        yield self._data


def test_conflict_is_retried_and_the_assignment_made_once(aws, org):
    injected = {}

    def on_client(service, account, client):
        if service == "sso-admin":
            injected["c"] = inject_error(client, "CreateAccountAssignment", 2, "ConflictException",
                                         "An operation on this assignment is in progress", 400)

    target = org.targets[("aws", DEV)] if ("aws", DEV) in org.targets else next(
        t for t in org.targets.values() if t.id == DEV)
    [result] = _connector(org, on_client).apply(target, [Change(Action.ADD, GRANT)])
    assert result.ok, result.error
    assert injected["c"]["CreateAccountAssignment"] == 2, "the conflict reached the connector twice"
    assert len(_assignments(aws)) == 1


def test_two_applies_at_once_leave_one_assignment(aws, org):
    """Both runs read "absent", then both create. The service lets the first
    through and answers the second with ConflictException; the second
    re-lists, finds the assignment and reports success."""
    target = next(t for t in org.targets.values() if t.id == DEV)
    both_read = threading.Barrier(2, timeout=30)
    serial = threading.Lock()
    seeded = aws.seeded
    probe = aws.client("sso-admin")

    def exists(body: dict) -> bool:
        return any(a["PrincipalId"] == body["PrincipalId"] for a in probe.list_account_assignments(
            InstanceArn=seeded.instance_arn, AccountId=body["TargetId"],
            PermissionSetArn=body["PermissionSetArn"])["AccountAssignments"])

    def on_client(service, account, client):
        if service != "sso-admin":
            return

        def before_call(model, **_):
            if model.name == "CreateAccountAssignment":
                both_read.wait()  # neither creates before both have read

        def before_send(request, event_name="", **_):
            if not event_name.endswith("CreateAccountAssignment"):
                return None
            serial.acquire()  # released once the service answered (needs-retry below)
            if exists(json.loads(request.body)):
                serial.release()
                body = json.dumps({"__type": "ConflictException",
                                   "message": "the assignment already exists or is being changed"}).encode()
                return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body))
            return None

        def after_send(event_name="", **_):
            if serial.locked():
                serial.release()

        client.meta.events.register("before-call.sso-admin.CreateAccountAssignment", before_call)
        client.meta.events.register_first("before-send.sso-admin.CreateAccountAssignment", before_send)
        client.meta.events.register("needs-retry.sso-admin.CreateAccountAssignment", after_send)

    results: list = []

    def run():
        results.extend(_connector(org, on_client).apply(target, [Change(Action.ADD, GRANT)]))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.ok for r in results] == [True, True], [r.error for r in results]
    assert len(_assignments(aws)) == 1, "no duplicate assignment"
