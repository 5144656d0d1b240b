"""IAM Identity Center: permission-set assignments in member accounts.

Assignments are created and deleted asynchronously (the call returns a
request id whose status is polled), the service refuses more than 15
assignment operations in progress and throttles them service-wide, so every
write goes through ``ratelimit.drive`` with one limiter shared by all
accounts. Identity-store ids are translated to the canonical principals
(``user:<email>`` = UserName, ``group:<team>`` = DisplayName) with caches,
so a read costs one listing per managed permission set.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import ClientError

from connectors.aws_iam import error_code
from connectors.ratelimit import Limiter, Outcome, drive
from tools.core.model import Action, Change, ChangeResult, Grant, Target

KIND = "aws-sso-assignment"
# ConflictException (another operation on the same assignment is in progress)
# is retried this many times with exponential backoff, re-listing in between.
CONFLICT_ATTEMPTS = 6
CONFLICT_BACKOFF = 0.5


@dataclass(frozen=True)
class Assignment:
    """One assignment operation: what to create or delete, in SDK terms."""

    index: int  # position in the change list, keeps items distinct and hashable
    add: bool
    permission_set_arn: str
    principal_type: str  # USER | GROUP
    principal_id: str


class IdentityCenter:
    def __init__(self, sso, identitystore, limiter: Limiter, poll_interval: float = 1.0,
                 instance_arn: str | None = None):
        self.sso, self.ids, self.limiter, self.poll_interval = sso, identitystore, limiter, poll_interval
        self._instance_arn, self._store_id = instance_arn, None
        self._sets: dict[str, str] | None = None  # name -> arn
        self._names: dict[tuple[str, str], str] = {}  # (USER|GROUP, id) -> principal
        self._ids: dict[str, tuple[str, str]] = {}  # principal -> (USER|GROUP, id)
        self._listed = False

    # ---- lookups (cached for the connector's lifetime) ----------------------

    def _instance(self) -> tuple[str, str]:
        if self._store_id is None:
            for page in self.sso.get_paginator("list_instances").paginate():
                for inst in page["Instances"]:
                    if self._instance_arn in (None, inst["InstanceArn"]):
                        self._instance_arn, self._store_id = inst["InstanceArn"], inst["IdentityStoreId"]
                        return self._instance_arn, self._store_id
            raise LookupError("no IAM Identity Center instance is visible to the applier "
                              f"(looked for {self._instance_arn or 'any instance'})")
        return self._instance_arn, self._store_id  # type: ignore[return-value]

    def permission_sets(self) -> dict[str, str]:
        if self._sets is None:
            arn, _ = self._instance()
            sets: dict[str, str] = {}
            for page in self.sso.get_paginator("list_permission_sets").paginate(InstanceArn=arn):
                for ps_arn in page["PermissionSets"]:
                    ps = self.sso.describe_permission_set(InstanceArn=arn, PermissionSetArn=ps_arn)
                    sets[ps["PermissionSet"]["Name"]] = ps_arn
            self._sets = sets
        return self._sets

    def _directory(self) -> None:
        """List the identity store once (paginated) instead of one Describe
        call per principal met: a large organisation's reconcile would
        otherwise spend a call per person on lookups alone."""
        if self._listed:
            return
        self._listed = True
        _, store = self._instance()
        for page in self.ids.get_paginator("list_users").paginate(IdentityStoreId=store):
            for user in page["Users"]:
                self._remember(("USER", user["UserId"]), "user:" + user["UserName"].lower())
        for page in self.ids.get_paginator("list_groups").paginate(IdentityStoreId=store):
            for group in page["Groups"]:
                self._remember(("GROUP", group["GroupId"]), "group:" + group["DisplayName"])

    def _remember(self, key: tuple[str, str], name: str) -> None:
        self._names[key] = name
        self._ids[name] = key

    def principal_of(self, ptype: str, pid: str) -> str:
        key = (ptype, pid)
        if key not in self._names:
            self._directory()
        if key not in self._names:  # created after the listing
            _, store = self._instance()
            if ptype == "USER":
                name = "user:" + self.ids.describe_user(IdentityStoreId=store, UserId=pid)["UserName"].lower()
            else:
                name = "group:" + self.ids.describe_group(IdentityStoreId=store, GroupId=pid)["DisplayName"]
            self._names[key] = name
            self._ids[name] = key
        return self._names[key]

    def id_of(self, principal: str) -> tuple[str, str]:
        if principal not in self._ids:
            _, store = self._instance()
            ptype, _, ident = principal.partition(":")
            try:
                if ptype == "user":
                    pid = self.ids.get_user_id(IdentityStoreId=store, AlternateIdentifier={
                        "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": ident}})["UserId"]
                    key = ("USER", pid)
                elif ptype == "group":
                    pid = self.ids.get_group_id(IdentityStoreId=store, AlternateIdentifier={
                        "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": ident}})["GroupId"]
                    key = ("GROUP", pid)
                else:
                    raise LookupError(f"{principal} cannot hold an Identity Center assignment")
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    raise LookupError(f"{principal} does not exist in the Identity Center identity store") from None
                raise
            self._ids[principal], self._names[key] = key, principal
        return self._ids[principal]

    # ---- read ---------------------------------------------------------------

    def _live(self, target: Target, names: tuple[str, ...]) -> list[tuple[str, str, str]]:
        """(permission set name, USER|GROUP, principal id) for ``names``."""
        arn, _ = self._instance()
        sets = self.permission_sets()
        out = []
        for name in names:
            if name not in sets:
                continue  # not created yet: nothing can be assigned
            pages = self.sso.get_paginator("list_account_assignments").paginate(
                InstanceArn=arn, AccountId=target.id, PermissionSetArn=sets[name])
            for page in pages:
                for a in page["AccountAssignments"]:
                    out.append((name, a["PrincipalType"], a["PrincipalId"]))
        return out

    def read(self, target: Target) -> list[Grant]:
        return [Grant("aws", target.id, self.principal_of(ptype, pid), KIND, name)
                for name, ptype, pid in self._live(target, target.managed.get(KIND, ()))]

    # ---- apply --------------------------------------------------------------

    def apply(self, target: Target, changes: list[Change]) -> list[ChangeResult]:
        """Create/delete assignments, skipping what the live state already
        shows (the service accepts duplicates, so a re-run after a crash would
        otherwise create a second copy of an assignment)."""
        results: dict[int, ChangeResult] = {}
        try:
            live = set(self._live(target, tuple(sorted({c.grant.entitlement for c in changes}))))
            sets = self.permission_sets()
        except (ClientError, LookupError) as exc:
            return [ChangeResult(c, False, f"reading Identity Center failed: {_short(exc)}") for c in changes]
        ops: list[Assignment] = []
        for i, change in enumerate(changes):
            add = change.action is not Action.REMOVE
            name = change.grant.entitlement
            if name not in sets:
                results[i] = ChangeResult(change, False, f"permission set {name} does not exist in Identity Center")
                continue
            try:
                ptype, pid = self.id_of(change.grant.principal)
            except (ClientError, LookupError) as exc:
                results[i] = ChangeResult(change, False, _short(exc))
                continue
            if ((name, ptype, pid) in live) == add:
                results[i] = ChangeResult(change, True, None, 0)  # already as desired
                continue
            ops.append(Assignment(i, add, sets[name], ptype, pid))
        outcomes = drive(ops, self._submit(target), self._poll, self.limiter, self.poll_interval)
        for op, outcome in outcomes.items():
            results[op.index] = ChangeResult(changes[op.index], outcome.ok, outcome.error, outcome.calls)
        return [results[i] for i in range(len(changes))]

    def _submit(self, target: Target) -> Callable[[Assignment], tuple[str, Outcome | None]]:
        arn, _ = self._instance()

        def submit(op: Assignment) -> tuple[str, Outcome | None]:
            args = dict(InstanceArn=arn, TargetId=target.id, TargetType="AWS_ACCOUNT",
                        PermissionSetArn=op.permission_set_arn, PrincipalType=op.principal_type,
                        PrincipalId=op.principal_id)
            for attempt in range(CONFLICT_ATTEMPTS):
                try:
                    if op.add:
                        status = self.sso.create_account_assignment(**args)["AccountAssignmentCreationStatus"]
                    else:
                        status = self.sso.delete_account_assignment(**args)["AccountAssignmentDeletionStatus"]
                    return status["RequestId"], _outcome(status)
                except ClientError as exc:
                    # Another writer (a concurrent apply, a console user) is changing
                    # the same assignment: wait, then look again. An assignment that
                    # now is as desired is success, not a reason to write twice.
                    # https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_CreateAccountAssignment.html#API_CreateAccountAssignment_Errors
                    if error_code(exc) != "ConflictException" or attempt == CONFLICT_ATTEMPTS - 1:
                        raise
                    self.limiter.sleep(min(CONFLICT_BACKOFF * 2 ** attempt, 8.0))
                    if self._present(target, op) == op.add:
                        return "", Outcome(True)
            raise AssertionError("unreachable")
        return submit

    def _present(self, target: Target, op: Assignment) -> bool:
        """Is ``op``'s assignment live now? (one fresh listing, no cache)"""
        arn, _ = self._instance()
        pages = self.sso.get_paginator("list_account_assignments").paginate(
            InstanceArn=arn, AccountId=target.id, PermissionSetArn=op.permission_set_arn)
        return any((a["PrincipalType"], a["PrincipalId"]) == (op.principal_type, op.principal_id)
                   for page in pages for a in page["AccountAssignments"])

    def _poll(self, op: Assignment, request_id: str) -> Outcome | None:
        arn, _ = self._instance()
        if op.add:
            status = self.sso.describe_account_assignment_creation_status(
                InstanceArn=arn, AccountAssignmentCreationRequestId=request_id)["AccountAssignmentCreationStatus"]
        else:
            status = self.sso.describe_account_assignment_deletion_status(
                InstanceArn=arn, AccountAssignmentDeletionRequestId=request_id)["AccountAssignmentDeletionStatus"]
        return _outcome(status)


def _outcome(status: dict[str, Any]) -> Outcome | None:
    state = status.get("Status", "IN_PROGRESS")
    if state == "IN_PROGRESS":
        return None
    if state == "SUCCEEDED":
        return Outcome(True)
    return Outcome(False, status.get("FailureReason") or f"assignment operation ended {state}")


def _short(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0]
