"""A loopback AWS for tests, the demo and ``accessctl sandbox``: moto's server.

``FakeAws`` runs moto's WSGI application on 127.0.0.1 (a free port) with one
addition in front of it: Identity Center assignment operations can be made
asynchronous, as they are in AWS (moto answers SUCCEEDED at once), and the
server counts how many were in progress at the same time. ``seed(org)``
fills it from the org model. Client-side helpers count calls, inject
throttling and simulate a crash through botocore's own event hooks, so the
real SDK code (serialisers, retries, paginators) always runs.

    with FakeAws() as aws:
        os.environ.update(aws.env())
        seeded = aws.seed(org)
"""
from __future__ import annotations

import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.request import Request, urlopen

from moto.iam.aws_managed_policies import aws_managed_policies_data as _ALL_POLICIES

from connectors.aws_emulation import AWSResponse, Session, response
from tools.core.orgmodel import OrgModel
from tools.sandbox.aws_rules import IamInputRules

REGION = "us-east-1"
MANAGEMENT_ACCOUNT = "123456789012"  # moto's default account: Identity Center lives here
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
UNMANAGED_GROUP = "legacy-admins"
UNMANAGED_PERMISSION_SET = "LegacyBreakGlass"

# Operations that change AWS state, by botocore operation name.
WRITE_OPERATIONS = frozenset({
    "AddUserToGroup", "RemoveUserFromGroup", "CreateRole", "DeleteRole", "UpdateRole",
    "UpdateAssumeRolePolicy", "TagRole", "UntagRole", "AttachRolePolicy", "DetachRolePolicy",
    "PutRolePolicy", "DeleteRolePolicy", "CreateAccountAssignment", "DeleteAccountAssignment",
})
_ASSIGNMENT_OPS = {
    "CreateAccountAssignment": "AccountAssignmentCreationStatus",
    "DeleteAccountAssignment": "AccountAssignmentDeletionStatus",
    "DescribeAccountAssignmentCreationStatus": "AccountAssignmentCreationStatus",
    "DescribeAccountAssignmentDeletionStatus": "AccountAssignmentDeletionStatus",
}


class _AsyncAssignments:
    """WSGI middleware: the first ``polls`` status reads of each assignment
    operation answer IN_PROGRESS; counts operations in progress at once."""

    def __init__(self, app: Callable, polls: int = 0):
        self.app, self.polls = app, polls
        self.lock = threading.Lock()
        self.remaining: dict[str, int] = {}
        self.peak_outstanding = 0

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        op = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        if op not in _ASSIGNMENT_OPS:
            return self.app(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        if captured["status"].startswith("200"):
            body = self._rewrite(op, body)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
        return [body]

    def _rewrite(self, op: str, body: bytes) -> bytes:
        data = json.loads(body)
        status = data[_ASSIGNMENT_OPS[op]]
        rid = status.get("RequestId", "")
        with self.lock:
            if op.startswith(("Create", "Delete")):
                if self.polls > 0:
                    self.remaining[rid] = self.polls
                    status["Status"] = "IN_PROGRESS"
                # with no polls configured it finishes at once, yet was in progress meanwhile
                self.peak_outstanding = max(self.peak_outstanding,
                                            len(self.remaining) + (0 if self.polls > 0 else 1))
            elif rid in self.remaining:
                if self.remaining[rid] > 0:
                    self.remaining[rid] -= 1
                    status["Status"] = "IN_PROGRESS"
                else:
                    del self.remaining[rid]  # reported finished: no longer in progress
        return json.dumps(data).encode()

    @property
    def outstanding(self) -> int:
        with self.lock:
            return len(self.remaining)

    def reset(self) -> None:
        with self.lock:
            self.remaining.clear()
            self.peak_outstanding = 0


# AWS-managed policies the fake knows (moto has ~1,300; loading them all costs
# seconds per account on every reset). Pass more to FakeAws if needed.
MANAGED_POLICIES = ("ReadOnlyAccess", "AmazonS3FullAccess", "AdministratorAccess", "PowerUserAccess",
                    "ViewOnlyAccess", "SecurityAudit")


class _QuietHandler:  # built lazily: werkzeug is only needed once the server starts
    @staticmethod
    def build() -> type:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        class Quiet(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass
        return Quiet


class FakeAws:
    """moto's server on 127.0.0.1 with a few AWS-managed policies loaded."""

    def __init__(self, assignment_polls: int = 0, managed_policies: Iterable[str] = MANAGED_POLICIES):
        self.managed_policies = tuple(managed_policies)
        self.assignments = _AsyncAssignments(None, assignment_polls)  # type: ignore[arg-type]
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._saved_env: str | None = None
        self._base: Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}

    def start(self) -> "FakeAws":
        from moto.iam import models as iam_models
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        # AWS-managed policy ARNs (arn:aws:iam::aws:policy/…) exist only when
        # loaded; load only the named ones, since moto re-parses them for every
        # account and partition on each reset.
        self._saved_env = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        every = json.loads(_ALL_POLICIES)
        iam_models.aws_managed_policies_data = json.dumps(
            {name: every[name] for name in self.managed_policies if name in every})
        self.assignments.app = DomainDispatcherApplication(create_backend_app)
        # IAM's input constraints (botocore's service model) in front of moto, which is lenient.
        self._server = make_server("127.0.0.1", 0, IamInputRules(self.assignments), threaded=True,
                                   request_handler=_QuietHandler.build())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        # moto keeps its backends in module globals: whatever an earlier fake in
        # this process created is still there. Start from nothing.
        self.reset()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()  # type: ignore[union-attr]
            self._server = None
        if self._saved_env is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = self._saved_env

    def __enter__(self) -> "FakeAws":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """What a process needs to talk to this fake instead of AWS."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}

    def reset(self) -> None:
        """Forget every resource (moto's documented reset endpoint)."""
        urlopen(Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10).read()
        self._clients.clear()  # assumed-role keys died with the reset
        self.assignments.reset()

    def client(self, service: str, account_id: str | None = None) -> Any:
        """A client in the management account, or in ``account_id`` through an
        assumed role (moto keys its backends by the credentials' account).
        One boto3 session is reused: loading service models is the slow part."""
        if self._base is None:
            self._base = Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                       region_name=REGION)
        key = (service, account_id or MANAGEMENT_ACCOUNT)
        if key not in self._clients:
            self._clients[key] = self._new_client(service, key[1])
        return self._clients[key]

    def _new_client(self, service: str, account_id: str) -> Any:
        assert self._base is not None
        if account_id == MANAGEMENT_ACCOUNT:
            return self._base.client(service, endpoint_url=self.endpoint)
        creds = self._base.client("sts", endpoint_url=self.endpoint).assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/fake-aws-seeder", RoleSessionName="fake-aws")["Credentials"]
        return self._base.client(service, endpoint_url=self.endpoint, aws_access_key_id=creds["AccessKeyId"],
                                 aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"])

    def seed(self, org: OrgModel) -> "Seeded":
        return seed(self, org)


@dataclass
class Seeded:
    """Ids of what ``seed`` created, for assertions and the demo."""

    instance_arn: str
    identity_store_id: str
    users: dict[str, str] = field(default_factory=dict)  # email -> identity-store user id
    groups: dict[str, str] = field(default_factory=dict)  # team key -> identity-store group id
    permission_sets: dict[str, str] = field(default_factory=dict)  # name -> arn
    unmanaged_group: str = UNMANAGED_GROUP
    unmanaged_permission_set: str = UNMANAGED_PERMISSION_SET
    unmanaged_member: str = ""  # email of the member seeded outside the managed scope


AGENT_RUNTIME_ROLE = "agent-runtime"


def seed(aws: FakeAws, org: OrgModel) -> Seeded:
    """Create, from the org model, what an organisation running accessctl has
    before its first apply: the applier role, IAM users and groups and the
    GitHub OIDC provider in each account; users, groups and permission sets
    in Identity Center; plus one unmanaged group and permission set with a
    member each, which the pipeline must never touch."""
    people = sorted(org.people.values(), key=lambda p: p.email)
    bystander = people[0].email
    applier = org.setting("aws", "applier_role", default="accessctl-applier")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"},
        "Action": "sts:AssumeRole"}]})
    accounts = [t for t in org.targets.values() if t.provider == "aws"]
    for target in accounts:
        iam = aws.client("iam", target.id)
        iam.create_role(RoleName=applier, AssumeRolePolicyDocument=trust,
                        Description="accessctl applier (seeded by tools/sandbox/aws.py)")
        for person in people:
            iam.create_user(UserName=person.email)
        for group in [*target.managed.get("aws-iam-group", ()), UNMANAGED_GROUP]:
            iam.create_group(GroupName=group)
        iam.add_user_to_group(GroupName=UNMANAGED_GROUP, UserName=bystander)
        iam.create_open_id_connect_provider(Url=GITHUB_OIDC_URL, ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])
        boundary = org.setting("aws", "agent_permissions_boundary")
        if boundary:
            # The platform team's boundary for agent roles: CreateRole refuses a
            # PermissionsBoundary that does not exist (IAM API reference, CreateRole).
            iam.create_policy(PolicyName=boundary, PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["cloudwatch:Describe*", "cloudwatch:Get*", "logs:Get*",
                                                   "s3:GetObject", "s3:ListBucket"], "Resource": "*"},
                    {"Effect": "Deny", "Action": ["iam:*", "organizations:*", "sts:AssumeRole"], "Resource": "*"}]}),
                Description="accessctl agent boundary (seeded by tools/sandbox/aws.py)")
        # The agent runtime the sample agent trusts: IAM refuses a trust policy
        # naming a role that does not exist (MalformedPolicyDocument, "Invalid principal").
        iam.create_role(RoleName=AGENT_RUNTIME_ROLE, AssumeRolePolicyDocument=trust,
                        Description="agent runtime (seeded by tools/sandbox/aws.py)")
    sso, ids = aws.client("sso-admin"), aws.client("identitystore")
    instance = sso.list_instances()["Instances"][0]
    out = Seeded(instance["InstanceArn"], instance["IdentityStoreId"], unmanaged_member=bystander)
    store = out.identity_store_id
    for person in people:
        given, _, family = (person.name or person.email).partition(" ")
        out.users[person.email] = ids.create_user(
            IdentityStoreId=store, UserName=person.email, DisplayName=person.name or person.email,
            Name={"GivenName": given, "FamilyName": family or given},
            Emails=[{"Value": person.email, "Type": "work", "Primary": True}])["UserId"]
    for team in org.teams.values():
        gid = ids.create_group(IdentityStoreId=store, DisplayName=team.key)["GroupId"]
        out.groups[team.key] = gid
        for login in team.members:
            person = org.people_by_login.get(login.lower())
            if person:
                ids.create_group_membership(IdentityStoreId=store, GroupId=gid,
                                            MemberId={"UserId": out.users[person.email]})
    names = sorted({n for t in accounts for n in t.managed.get("aws-sso-assignment", ())})
    for name in [*names, UNMANAGED_PERMISSION_SET]:
        out.permission_sets[name] = sso.create_permission_set(
            InstanceArn=out.instance_arn, Name=name)["PermissionSet"]["PermissionSetArn"]
    for target in accounts:
        sso.create_account_assignment(
            InstanceArn=out.instance_arn, TargetId=target.id, TargetType="AWS_ACCOUNT",
            PermissionSetArn=out.permission_sets[UNMANAGED_PERMISSION_SET],
            PrincipalType="USER", PrincipalId=out.users[bystander])
    aws.assignments.reset()  # seeding is not what tests measure
    return out


# ---- client-side instruments (botocore event hooks) ---------------------------

class SimulatedCrash(BaseException):
    """The process dies mid-apply: a BaseException, so no handler swallows it."""


@dataclass
class CallLog:
    """Every API call made by the clients it is attached to, in order."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (service, account, operation)
    sends: Counter = field(default_factory=Counter)  # HTTP attempts per operation (retries included)
    statuses: list[tuple[str, str, str]] = field(default_factory=list)  # (operation, request id, Status)
    crash_after_writes: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, service: str, account: str, client: Any) -> None:
        """Use as ``AwsConnector(on_client=log.attach)``."""
        def before_call(model: Any, **_: Any) -> None:
            with self.lock:
                if (self.crash_after_writes is not None and model.name in WRITE_OPERATIONS
                        and len(self.writes()) >= self.crash_after_writes):
                    raise SimulatedCrash(f"crash before {model.name}")
                self.calls.append((service, account, model.name))

        def after_call(model: Any, parsed: dict, **_: Any) -> None:
            key = _ASSIGNMENT_OPS.get(model.name)
            if key and key in parsed:
                with self.lock:
                    self.statuses.append((model.name, parsed[key].get("RequestId", ""),
                                          parsed[key].get("Status", "")))

        def before_send(event_name: str = "", **_: Any) -> None:
            with self.lock:
                self.sends[event_name.rpartition(".")[2]] += 1

        client.meta.events.register("before-call.*.*", before_call)
        client.meta.events.register("after-call.*.*", after_call)
        client.meta.events.register("before-send.*.*", before_send)

    def writes(self) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[2] in WRITE_OPERATIONS]

    def operations(self) -> Counter:
        return Counter(c[2] for c in self.calls)

    def peak_outstanding(self) -> int:
        """Most assignment operations in progress at once, as the client saw it:
        from the create/delete response until a status reads final."""
        open_ids: set[str] = set()
        peak = 0
        for op, rid, status in self.statuses:
            if status == "IN_PROGRESS":
                open_ids.add(rid)
            else:
                open_ids.discard(rid)
            if op.startswith(("Create", "Delete")):
                peak = max(peak, len(open_ids) + (status != "IN_PROGRESS"))
        return peak


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self.data


def inject_error(client: Any, operation: str, times: int, code: str = "Throttling",
                 message: str = "Rate exceeded", status: int = 400) -> Counter:
    """The next ``times`` HTTP attempts of ``operation`` get an AWS error
    response in the service's own wire format, so botocore's real parsing and
    retry logic run. Returns a counter of injected errors."""
    injected: Counter = Counter()
    protocol = client.meta.service_model.protocol

    def before_send(request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        if event_name.rpartition(".")[2] != operation or injected[operation] >= times:
            return None
        injected[operation] += 1
        if protocol == "query":
            body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                    f"<Message>{message}</Message></Error><RequestId>fake</RequestId></ErrorResponse>").encode()
            headers = {"Content-Type": "text/xml"}
        else:
            body = json.dumps({"__type": code, "message": message}).encode()
            headers = {"Content-Type": "application/x-amz-json-1.1"}
        return response(request.url, status, headers, _Body(body))

    client.meta.events.register_first("before-send.*.*", before_send)
    return injected


def inject_throttling(client: Any, operation: str, times: int) -> Counter:
    """AWS's throttling error for the next ``times`` attempts of ``operation``."""
    code = "Throttling" if client.meta.service_model.protocol == "query" else "ThrottlingException"
    return inject_error(client, operation, times, code, "Rate exceeded", 400)


__all__ = ["FakeAws", "Seeded", "seed", "CallLog", "SimulatedCrash", "inject_throttling", "inject_error",
           "WRITE_OPERATIONS", "UNMANAGED_GROUP", "UNMANAGED_PERMISSION_SET", "MANAGEMENT_ACCOUNT"]
