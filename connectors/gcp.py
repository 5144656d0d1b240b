"""GCP connector: project IAM role bindings and the pipeline's service accounts.

Project bindings live in one IAM policy per project, guarded by an etag. So
every apply is exactly one read-modify-write per project, however many
bindings change: get (version 3), edit in memory (connectors.gcp_policy),
set with the etag. A 409 means someone else wrote in between: the whole
read-modify-write restarts with backoff, never a blind re-send. Outside the
managed roles the policy is written back exactly as read.

Service accounts go through IAM admin v1 (gRPC only); ownership is recorded
in the description (connectors.gcp_accounts).
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any, Callable, Mapping, Sequence

import grpc
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exc
from google.auth.credentials import AnonymousCredentials
from google.cloud import iam_admin_v1, resourcemanager_v3
from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport
from google.iam.v1 import policy_pb2
from google.protobuf import field_mask_pb2
from tenacity import Retrying, retry_if_exception, retry_if_exception_type, stop_after_attempt, \
    wait_random_exponential

from connectors import gcp_accounts as accounts
from connectors import gcp_integration, gcp_sa, gcp_usage
from connectors.gcp_policy import (Binding, Condition, Ensure, Members, Revoke, edit, expiry_condition, live_members,
                                   merge)
from tools.core.errors import UsageError
from tools.core.limits import gcp_basic_role, gcp_policy_problem
from tools.core.ownership import reserved_name_problem
from tools.core.model import Action, Change, ChangeResult, Grant, Target
from tools.core.usage import LastUsed

ROLE_KIND = "gcp-project-role"
# Throttling, server errors (500/502/503/504), deadlines and dropped
# connections (requests raises OSError subclasses) are worth another try, on
# reads and on writes; anything else is reported at once. Google's retry
# guidance: https://cloud.google.com/iam/docs/retry-strategy
TRANSIENT = (gexc.TooManyRequests, gexc.ResourceExhausted, gexc.InternalServerError, gexc.BadGateway,
             gexc.ServiceUnavailable, gexc.GatewayTimeout, gexc.DeadlineExceeded, OSError)
FAILURES = (gexc.GoogleAPICallError, OSError)
CONFLICT = (gexc.Conflict, gexc.Aborted)


class GcpError(RuntimeError):
    """A GCP operation outside apply() failed; the message is one line for the user."""


class _NotOurs(Exception):
    """A service account exists but the pipeline did not create it."""


class _Refused(Exception):
    """The pre-flight check found that GCP would refuse this policy write."""


class GcpConnector:
    provider = "gcp"
    PERMISSIONS: Mapping[str, tuple[str, ...]] = {
        # read: the service accounts' keys and own policies (owned whole, one of
        # each per pipeline account: GCP has no batch read for them), and the
        # integrations' secret metadata (one secrets.list per project, never a value)
        "read": ("resourcemanager.projects.getIamPolicy", "iam.serviceAccounts.list",
                 "iam.serviceAccountKeys.list", "iam.serviceAccounts.getIamPolicy", "secretmanager.secrets.list"),
        "apply_bindings": ("resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"),
        "create_service_account": ("iam.serviceAccounts.create", "iam.serviceAccounts.get",
                                   "iam.serviceAccounts.update", "iam.serviceAccounts.enable"),
        "update_service_account": ("iam.serviceAccounts.get", "iam.serviceAccounts.update",
                                   "iam.serviceAccounts.enable"),
        "disable_service_account": ("iam.serviceAccounts.get", "iam.serviceAccounts.disable"),
        "delete_service_account": ("iam.serviceAccounts.get", "iam.serviceAccounts.delete"),
        "agent_runtime_binding": ("iam.serviceAccounts.getIamPolicy", "iam.serviceAccounts.setIamPolicy"),
        "remove_agent_runtime": ("iam.serviceAccounts.getIamPolicy", "iam.serviceAccounts.setIamPolicy"),
        "remove_service_account_key": ("iam.serviceAccountKeys.delete",),
        "remove_service_account_binding": ("iam.serviceAccounts.getIamPolicy", "iam.serviceAccounts.setIamPolicy"),
        "issue_integration_key": ("secretmanager.secrets.get", "iam.serviceAccountKeys.list", "iam.serviceAccountKeys.create",
                                  "iam.serviceAccountKeys.delete", "secretmanager.secrets.create",
                                  "secretmanager.secrets.update", "secretmanager.versions.add"),
        "remove_integration": ("iam.serviceAccountKeys.list", "iam.serviceAccountKeys.delete",
                               "secretmanager.secrets.delete"),
        # last authentication, for access reviews and `audit report --live` only (connectors/gcp_usage.py)
        "usage_last_used": gcp_usage.PERMISSIONS,
    }

    def __init__(self, org, endpoint: str | None = None, iam_endpoint: str | None = None,
                 attempts: int = 6, backoff_initial: float = 0.5, backoff_max: float = 16.0,
                 page_size: int = 100, timeout: float = 60.0, **_: Any):
        self.org = org
        self.members = Members(org)
        self._endpoint = endpoint
        self._iam_endpoint = iam_endpoint
        self._attempts = attempts
        self._wait = wait_random_exponential(multiplier=backoff_initial, max=backoff_max)
        self._page_size = page_size
        self._timeout = timeout
        self._rm: resourcemanager_v3.ProjectsClient | None = None
        self._iam: iam_admin_v1.IAMClient | None = None
        self.calls = 0  # API calls made (attempts, retries included)
        self._fresh: set[str] = set()  # emails of accounts created by this run: IAM may not see them yet
        self._not_ours: set[str] = set()  # principals of accounts found not to be the pipeline's
        self.secrets = gcp_integration.Secrets(endpoint, self._call)  # integrations' keys live here
        self.activity = gcp_usage.ActivityReader(endpoint)  # last authentications (never on plan or apply)
        self.key_grace = timedelta(hours=int(org.setting("organization", "key_rotation_grace_hours", default=24)))

    # ---- clients (built on first use) ------------------------------------
    def _projects(self) -> resourcemanager_v3.ProjectsClient:
        if self._rm is None:
            endpoint = self._endpoint or os.environ.get("ACCESSCTL_GCP_ENDPOINT")
            try:
                if endpoint:
                    self._rm = resourcemanager_v3.ProjectsClient(
                        credentials=AnonymousCredentials(), transport="rest",
                        client_options=ClientOptions(api_endpoint=endpoint))
                else:
                    self._rm = resourcemanager_v3.ProjectsClient(transport="rest")
            except auth_exc.DefaultCredentialsError as exc:
                raise UsageError(_no_credentials(exc)) from None
        return self._rm

    def _admin(self) -> iam_admin_v1.IAMClient:
        if self._iam is None:
            endpoint = self._iam_endpoint or os.environ.get("ACCESSCTL_GCP_IAM_ENDPOINT")
            try:
                if endpoint:
                    channel = grpc.insecure_channel(endpoint)
                    self._iam = iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=channel))
                else:
                    self._iam = iam_admin_v1.IAMClient()
            except auth_exc.DefaultCredentialsError as exc:
                raise UsageError(_no_credentials(exc)) from None
        return self._iam

    def close(self) -> None:
        """Close the clients' connections (the sandbox stops its fake after)."""
        if self._iam is not None:
            self._iam.transport.close()
            self._iam = None
        if self._rm is not None:
            self._rm.transport.close()
            self._rm = None
        self.secrets.close()

    def _call(self, fn: Callable[..., Any], request: Any, retry_on: tuple = TRANSIENT) -> Any:
        """One API call; throttling and unavailability are retried with backoff."""
        for attempt in Retrying(retry=retry_if_exception_type(retry_on), wait=self._wait,
                                stop=stop_after_attempt(self._attempts), reraise=True):
            with attempt:
                self.calls += 1
                return fn(request=request, retry=None, timeout=self._timeout)

    # ---- read --------------------------------------------------------------
    def read(self, target: Target) -> list[Grant]:
        """Managed-role bindings (one getIamPolicy) and the pipeline's service accounts."""
        try:
            grants = self._read_roles(target) if target.managed.get(ROLE_KIND) else []
            return grants + self._read_accounts(target)
        except FAILURES as exc:
            hint = ""
            if isinstance(exc, (gexc.Forbidden, gexc.NotFound)):
                hint = (f"; check that project {target.id} exists and the applier has "
                        f"{', '.join(self.PERMISSIONS['read'])} there")
            raise UsageError(f"GCP project {target.id}: cannot read IAM ({_short(exc)}){hint}") from None

    def last_used(self, target: Target, grants: Sequence[Grant]) -> dict[tuple, LastUsed]:
        """When GCP last saw each grant's service account authenticate
        (connectors/gcp_usage.py). Only ``review open`` and ``audit report
        --live`` call this; a failure is one line naming the project."""
        from googleapiclient.errors import HttpError
        try:
            return gcp_usage.read_last_used(self.activity, target, grants)
        except (HttpError, OSError) as exc:
            why = f"{exc.resp.status} {exc.reason}" if isinstance(exc, HttpError) else _short(exc)
            raise UsageError(f"GCP project {target.id}: cannot read last authentications ({why}); the reader "
                             f"needs {', '.join(gcp_usage.PERMISSIONS)}") from None

    def _get_policy(self, project: str, retry_on: tuple = TRANSIENT) -> policy_pb2.Policy:
        return self._call(self._projects().get_iam_policy,
                          {"resource": f"projects/{project}", "options": {"requested_policy_version": 3}},
                          retry_on)

    def _read_roles(self, target: Target) -> list[Grant]:
        policy = self._get_policy(target.id)
        found = merge(live_members(_bindings(policy), target.managed[ROLE_KIND], self.members))
        return sorted((Grant("gcp", target.id, f.principal, ROLE_KIND, f.role, f.expires, f.request)
                       for f in found), key=lambda g: g.key)

    def _read_accounts(self, target: Target) -> list[Grant]:
        out = []
        managed = [sa for sa in self._list_accounts(target.id) if accounts.is_managed(sa.description)]
        secrets = self.secrets.managed(target.id) if managed else {}
        for sa in managed:
            grant = accounts.account_grant(target.id, sa.email, sa.description, sa.disabled)
            out += self._owned_whole(grant, sa, secrets.get(grant.entitlement))
        return sorted(out, key=lambda g: g.key)

    def _owned_whole(self, grant: Grant, sa: Any, secret: Any = None) -> list[Grant]:
        """The identity (with its agent runtime, when it has one) and every
        user-managed key and foreign binding on it (connectors.gcp_sa)."""
        keys = self._call(self._admin().list_service_account_keys, iam_admin_v1.ListServiceAccountKeysRequest(
            name=sa.name, key_types=[gcp_sa.USER_MANAGED])).keys
        policy = self._call(self._admin().get_iam_policy, {"resource": sa.name,
                                                            "options": {"requested_policy_version": 3}})
        runtime, _ = gcp_sa.runtime_binding(policy)
        if runtime:
            attrs = dict(grant.attributes) | {"use": "agent", "runtime": runtime, "max_session_minutes": "60"}
            grant = replace(grant, attributes=tuple(sorted(attrs.items())))
        kept: set[str] = set()
        if secret is not None:
            grant, kept = gcp_integration.integration_view(grant, secret, list(keys), self.key_grace)
        extra = [Grant("gcp", grant.target, grant.principal, gcp_sa.KEY_KIND, gcp_sa.key_id(k.name)) for k in keys
                 if gcp_sa.key_id(k.name) not in kept]
        extra += [Grant("gcp", grant.target, grant.principal, gcp_sa.BINDING_KIND, e)
                  for e in gcp_sa.foreign_bindings(policy)]
        return [grant, *extra]

    def _list_accounts(self, project: str) -> list[Any]:
        """Every account, page by page; each page is one counted, retried call
        (the pager's own auto-fetch is not used, it would bypass both)."""
        found, token = [], ""
        while True:
            page = self._call(self._admin().list_service_accounts, iam_admin_v1.ListServiceAccountsRequest(
                name=f"projects/{project}", page_size=self._page_size, page_token=token))
            found.extend(page.accounts)  # the pager exposes the page it was built from
            token = page.next_page_token
            if not token:
                return found

    # ---- apply -------------------------------------------------------------
    def apply(self, target: Target, changes: Sequence[Change]) -> list[ChangeResult]:
        """Service accounts are created (or re-enabled) first, then the project's
        bindings change, then accounts are disabled: GCP refuses a binding naming
        an account that does not exist yet, and an account's bindings go before it."""
        results: dict[int, ChangeResult] = {}
        accounts_first = [(i, c) for i, c in enumerate(changes)
                          if c.grant.kind == accounts.KIND and c.action is not Action.REMOVE]
        roles = [(i, c) for i, c in enumerate(changes) if c.grant.kind == ROLE_KIND]
        accounts_last = [(i, c) for i, c in enumerate(changes)
                         if c.grant.kind == accounts.KIND and c.action is Action.REMOVE]
        for i, change in accounts_first:
            results[i] = self._apply_account(target, change)
        for i, change in roles:
            if change.grant.principal in self._not_ours and change.action is not Action.REMOVE:
                results[i] = ChangeResult(change, False, f"{change.grant.entitlement} for {change.grant.principal} "
                                                         "skipped: that service account is not the pipeline's")
        roles = [(i, c) for i, c in roles if i not in results]
        if roles:
            results.update(self._apply_roles(target, roles))
        for i, change in enumerate(changes):
            if change.grant.kind in (gcp_sa.KEY_KIND, gcp_sa.BINDING_KIND):
                results[i] = self._apply_extra(target, change)
        for i, change in accounts_last:
            results[i] = self._apply_account(target, change)
        for i, change in enumerate(changes):
            if i not in results:
                results[i] = ChangeResult(change, False, f"the GCP connector does not handle {change.grant.kind}")
        return [results[i] for i in range(len(changes))]

    def _apply_roles(self, target: Target, indexed: list[tuple[int, Change]]) -> dict[int, ChangeResult]:
        """All binding changes of one project in one read-modify-write.

        If GCP refuses the write (or the pre-flight check finds it would), the
        batch is split in halves and each half is written on its own, down to
        the one change at fault: one bad binding never blocks the project's
        other changes, revocations included (they go first)."""
        out: dict[int, ChangeResult] = {}
        batch: list[tuple[int, Change, Ensure | Revoke]] = []
        for i, change in indexed:
            try:
                batch.append((i, change, self._binding_op(target, change)))
            except ValueError as exc:
                out[i] = ChangeResult(change, False, str(exc))
        if not batch:
            return out
        batch.sort(key=lambda item: isinstance(item[2], Ensure))  # revocations first
        before = self.calls
        errors = self._write(target.id, [(i, op) for i, _, op in batch])
        calls = self.calls - before
        for n, (i, change, _) in enumerate(batch):
            # The batch's calls are counted once, on its first change, so the
            # results add up to the calls actually made.
            out[i] = ChangeResult(change, errors[i] is None, errors[i], calls if n == 0 else 0)
        return out

    def _write(self, project: str, ops: list[tuple[int, Ensure | Revoke]]) -> dict[int, str | None]:
        """Write ``ops`` in one read-modify-write; on refusal, bisect."""
        try:
            for attempt in Retrying(retry=retry_if_exception(self._worth_retrying), wait=self._wait,
                                    stop=stop_after_attempt(self._attempts), reraise=True):
                with attempt:
                    self._read_modify_write(project, [op for _, op in ops])
            return {i: None for i, _ in ops}
        except (_Refused, gexc.BadRequest, gexc.FailedPrecondition) as exc:
            if len(ops) > 1:
                mid = len(ops) // 2
                return self._write(project, ops[:mid]) | self._write(project, ops[mid:])
            reason = str(exc) if isinstance(exc, _Refused) else _short(exc)
            return {ops[0][0]: f"GCP project {project}: refused {_describe(ops[0][1])}: {reason}"}
        except FAILURES as exc:
            error = f"GCP project {project}: IAM policy update failed: {_short(exc)}"
        except UsageError as exc:
            error = str(exc)
        return {i: error for i, _ in ops}

    def _worth_retrying(self, exc: BaseException) -> bool:
        """Conflicts and transient errors; and "does not exist" for an account
        this run just created, which IAM may not see yet (eventual consistency,
        https://cloud.google.com/iam/docs/access-change-propagation)."""
        if isinstance(exc, CONFLICT + TRANSIENT):
            return True
        return isinstance(exc, gexc.BadRequest) and any(email in exc.message for email in self._fresh)

    def _binding_op(self, target: Target, change: Change) -> Ensure | Revoke:
        g = change.grant
        if g.target != target.id:
            raise ValueError(f"grant for project {g.target} handed to project {target.id}")
        if not target.manages(ROLE_KIND, g.entitlement):
            raise ValueError(f"{g.entitlement} is not a managed role in {target.id}; "
                             "the pipeline never changes it (policies/data/targets.yaml)")
        member = self.members.to_member(g.principal)
        if change.action is Action.REMOVE:
            return Revoke(member, g.entitlement)
        if g.expires is None or not g.request:
            raise ValueError(f"{g.principal} {g.entitlement}: a binding needs an expiry and a request path")
        if gcp_basic_role(g.entitlement):
            raise ValueError(f"{g.principal} {g.entitlement}: GCP refuses IAM conditions on basic roles, so this "
                             "grant could not expire; remove the role from the catalog "
                             "(https://cloud.google.com/iam/docs/conditions-overview)")
        return Ensure(member, g.entitlement, expiry_condition(g.request, g.expires))

    def _read_modify_write(self, project: str, ops: list[Ensure | Revoke]) -> None:
        policy = self._get_policy(project, retry_on=())  # the caller retries the whole cycle
        old = _bindings(policy)
        new = edit(old, [o for o in ops if isinstance(o, Ensure)], [o for o in ops if isinstance(o, Revoke)])
        if new == old:
            return  # already converged: no write at all
        problem = gcp_policy_problem(_shape(old), _shape(new))
        if problem:
            raise _Refused(problem)  # checked before writing: GCP would refuse it
        policy.version = 3
        del policy.bindings[:]
        for b in new:
            policy.bindings.append(_to_proto(b))
        # etag is the one read above: a concurrent writer makes this a 409.
        self._call(self._projects().set_iam_policy, {"resource": f"projects/{project}", "policy": policy},
                   retry_on=())

    # ---- service accounts ---------------------------------------------------
    def _apply_account(self, target: Target, change: Change) -> ChangeResult:
        before = self.calls
        g = change.grant
        try:
            if g.target != target.id:
                raise ValueError(f"identity for project {g.target} handed to project {target.id}")
            reserved = reserved_name_problem(self.org.raw, "gcp", g.entitlement)
            if reserved:
                raise _NotOurs(f"service account {g.entitlement}: {reserved}")
            if change.action is Action.REMOVE:
                self._owned(g.target, g.entitlement)
                name = accounts.resource_name(g.target, g.entitlement)
                if (change.current or g).attr("use") == "integration":
                    gcp_integration.remove(self, g.target, g.entitlement, name)  # keys and secret at once
                if (change.current or g).attr("use") == "agent":
                    self._drop_runtime(name)
                self._call(self._admin().disable_service_account, {"name": name})
            else:
                self._ensure_account(g, accounts.describe(g))
                if g.attr("use") == "agent" and g.attr("runtime") and g.expires and g.request:
                    self._ensure_runtime(g)
                if g.attr("use") == "integration":
                    gcp_integration.ensure(self, g, change.current,
                                           accounts.resource_name(g.target, g.entitlement))
            return ChangeResult(change, True, None, self.calls - before)
        except _NotOurs as exc:
            self._not_ours.add(g.principal)  # nothing is granted to an account that is not ours
            return ChangeResult(change, False, str(exc), self.calls - before)
        except ValueError as exc:
            return ChangeResult(change, False, str(exc), self.calls - before)
        except FAILURES as exc:
            return ChangeResult(change, False, f"service account {g.entitlement} in {g.target}: {_short(exc)}",
                                self.calls - before)
        except UsageError as exc:
            return ChangeResult(change, False, str(exc), self.calls - before)

    def _ensure_account(self, g: Grant, description: str) -> None:
        """Create the account, or bring an existing one of ours up to date."""
        try:
            sa = self._call(self._admin().create_service_account, {
                "name": f"projects/{g.target}", "account_id": g.entitlement,
                "service_account": {"display_name": g.entitlement, "description": description}})
            self._fresh.add(sa.email)
            return
        except gexc.AlreadyExists:
            pass
        sa = self._owned(g.target, g.entitlement)
        if sa.description != description:
            self._call(self._admin().patch_service_account, iam_admin_v1.PatchServiceAccountRequest(
                service_account=iam_admin_v1.ServiceAccount(name=sa.name, description=description),
                update_mask=field_mask_pb2.FieldMask(paths=["description"])))
        if sa.disabled:
            self._call(self._admin().enable_service_account, {"name": sa.name})

    def _ensure_runtime(self, g: Grant) -> None:
        """Only the agent's runtime may mint tokens for it, until its expiry.
        Refused for a runtime outside the organisation's projects."""
        member = g.attr("runtime") or ""
        project = member.partition("@")[2].removesuffix(".iam.gserviceaccount.com")
        if self.org.target("gcp", project) is None:
            raise ValueError(f"agent {g.entitlement}: runtime {member} is not in a project of the organisation; "
                             "the binding was not written")
        name = accounts.resource_name(g.target, g.entitlement)
        policy = self._call(self._admin().get_iam_policy, {"resource": name,
                                                            "options": {"requested_policy_version": 3}})
        runtime, expires = gcp_sa.runtime_binding(policy)
        if runtime == member and expires == g.expires:
            return
        self._call(self._admin().set_iam_policy, {"resource": name, "policy": gcp_sa.with_runtime(
            policy, member, g.request or "", g.expires)})

    def _drop_runtime(self, name: str) -> None:
        """A removed agent's runtime loses TokenCreator at once. A disabled
        account cannot be impersonated, but anyone may enable it again
        (https://cloud.google.com/iam/docs/service-accounts-disable-enable), so
        the grace period before deletion must not leave the runtime able to
        mint its tokens."""
        policy = self._call(self._admin().get_iam_policy, {"resource": name,
                                                            "options": {"requested_policy_version": 3}})
        runtime, _ = gcp_sa.runtime_binding(policy)
        new = gcp_sa.without(policy, f"{gcp_sa.TOKEN_CREATOR} {runtime}") if runtime else None
        if new is not None:
            self._call(self._admin().set_iam_policy, {"resource": name, "policy": new})

    def _apply_extra(self, target: Target, change: Change) -> ChangeResult:
        """Remove a key or a foreign binding from a service account of ours."""
        before = self.calls
        g = change.grant
        try:
            if change.action is not Action.REMOVE or not g.principal.startswith(f"serviceAccount:{target.id}/"):
                raise ValueError(f"{g.kind} {g.entitlement} can only be removed from a service account of {target.id}")
            name = g.principal.rpartition("/")[2]
            sa = self._owned(target.id, name)
            if g.kind == gcp_sa.KEY_KIND:
                try:
                    self._call(self._admin().delete_service_account_key, {"name": f"{sa.name}/keys/{g.entitlement}"})
                except gexc.NotFound:
                    pass  # already gone: converged
            else:
                policy = self._call(self._admin().get_iam_policy, {"resource": sa.name,
                                                                    "options": {"requested_policy_version": 3}})
                new = gcp_sa.without(policy, g.entitlement)
                if new is not None:
                    self._call(self._admin().set_iam_policy, {"resource": sa.name, "policy": new})
            return ChangeResult(change, True, None, self.calls - before)
        except (_NotOurs, ValueError) as exc:
            return ChangeResult(change, False, str(exc), self.calls - before)
        except FAILURES as exc:
            return ChangeResult(change, False, f"{g.kind} {g.entitlement} on {g.principal}: {_short(exc)}",
                                self.calls - before)

    def _owned(self, project: str, name: str) -> Any:
        sa = self._call(self._admin().get_service_account, {"name": accounts.resource_name(project, name)})
        if not accounts.is_managed(sa.description):
            raise _NotOurs(f"service account {sa.email} was not created by accessctl (no "
                           f"'{accounts.MARKER}' in its description); the pipeline leaves it alone")
        return sa

    def delete_service_account(self, project: str, name: str) -> None:
        """Delete a disabled account of ours once its grace period is over (the
        expire job decides when). Refuses accounts still enabled or not
        created by the pipeline. Raises GcpError with a one-line reason."""
        try:
            sa = self._owned(project, name)
            if not sa.disabled:
                raise GcpError(f"service account {sa.email} is still enabled; it is disabled first, "
                               "deleted after the grace period")
            self._call(self._admin().delete_service_account, {"name": sa.name})
        except _NotOurs as exc:
            raise GcpError(str(exc)) from None
        except FAILURES as exc:
            raise GcpError(f"service account {name} in {project}: {_short(exc)}") from None


def _bindings(policy: policy_pb2.Policy) -> list[Binding]:
    out = []
    for b in policy.bindings:
        cond = None
        if b.HasField("condition"):
            c = b.condition
            cond = Condition(c.expression, c.title, c.description, c.location)
        out.append(Binding(b.role, tuple(b.members), cond))
    return out


def _to_proto(b: Binding) -> policy_pb2.Binding:
    out = policy_pb2.Binding(role=b.role, members=list(b.members))
    if b.condition is not None:
        c = b.condition
        out.condition.expression, out.condition.title = c.expression, c.title
        out.condition.description, out.condition.location = c.description, c.location
    return out


def _shape(bindings: list[Binding]) -> list[tuple[str, tuple[str, ...], bool]]:
    return [(b.role, b.members, b.condition is not None) for b in bindings]


def _describe(op: Ensure | Revoke) -> str:
    return f"{'binding' if isinstance(op, Ensure) else 'revoking'} {op.role} for {op.member}"


def _short(exc: Exception) -> str:
    """One line: the HTTP status and Google's message, or why the connection failed."""
    if isinstance(exc, gexc.GoogleAPICallError):
        message = re.sub(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ", "", exc.message or "")
        return f"{exc.code.value if hasattr(exc.code, 'value') else exc.code} {message}".strip()
    reason = str(exc).split("Caused by", 1)[-1].strip(" ()\"")
    return f"cannot reach the GCP API ({exc.__class__.__name__}: {reason[:160]})"


def _no_credentials(exc: Exception) -> str:
    return ("no GCP credentials found: in CI authenticate with google-github-actions/auth (OIDC "
            "workload identity federation); locally run `gcloud auth application-default login`, or set "
            f"ACCESSCTL_GCP_ENDPOINT / ACCESSCTL_GCP_IAM_ENDPOINT for the sandbox ({exc.__class__.__name__})")
