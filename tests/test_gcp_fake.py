"""The GCP fake answers the real client libraries the way the real APIs do.

If the fake drifted from the real shapes, the connector tests would prove
nothing; these drive it with unmodified google-cloud clients.
"""
from __future__ import annotations

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import iam_admin_v1, resourcemanager_v3
from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport
from google.iam.v1 import policy_pb2

from tools.sandbox.gcp import FakeGcp

COND = {"expression": 'request.time < timestamp("2027-01-01T00:00:00Z")', "title": "temp", "description": "d"}


@pytest.fixture(scope="module")
def server():
    with FakeGcp(["p-one", "p-two"]) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    return server


@pytest.fixture(scope="module")
def rm(server):
    return resourcemanager_v3.ProjectsClient(credentials=AnonymousCredentials(), transport="rest",
                                             client_options=ClientOptions(api_endpoint=server.rest_url))


@pytest.fixture(scope="module")
def admin(server):
    channel = grpc.insecure_channel(server.grpc_target)
    client = iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=channel))
    yield client
    channel.close()


def get(rm, project="p-one", version=3):
    return rm.get_iam_policy(request={"resource": f"projects/{project}",
                                      "options": {"requested_policy_version": version}}, retry=None)


def put(rm, policy, project="p-one"):
    return rm.set_iam_policy(request={"resource": f"projects/{project}", "policy": policy}, retry=None)


def test_get_set_round_trip_changes_etag(fake, rm):
    fake.seed_policy("p-one", [{"role": "roles/viewer", "members": ["user:a@acme.example"]}])
    policy = get(rm)
    assert [(b.role, list(b.members)) for b in policy.bindings] == [("roles/viewer", ["user:a@acme.example"])]
    policy.bindings.append(policy_pb2.Binding(role="roles/editor", members=["group:g@acme.example"]))
    written = put(rm, policy)
    assert written.etag != policy.etag
    assert fake.policy("p-one")["bindings"][1] == {"role": "roles/editor", "members": ["group:g@acme.example"]}
    assert fake.calls["getIamPolicy"] == 1 and fake.calls["setIamPolicy"] == 1


def test_stale_etag_is_a_conflict(fake, rm):
    policy = get(rm)
    fake.seed_policy("p-one", [{"role": "roles/viewer", "members": ["user:other@acme.example"]}])
    policy.bindings.append(policy_pb2.Binding(role="roles/editor", members=["user:a@acme.example"]))
    with pytest.raises(gexc.Conflict, match="concurrent policy changes"):
        put(rm, policy)
    assert fake.policy("p-one")["bindings"] == [{"role": "roles/viewer", "members": ["user:other@acme.example"]}]


def test_conditions_need_version_3(fake, rm):
    policy = get(rm)
    binding = policy.bindings.add(role="roles/browser", members=["user:a@acme.example"])
    binding.condition.expression, binding.condition.title = COND["expression"], COND["title"]
    policy.version = 1
    with pytest.raises(gexc.BadRequest, match="version 3"):
        put(rm, policy)
    policy.version = 3
    put(rm, policy)
    assert fake.policy("p-one")["bindings"][0]["condition"]["title"] == "temp"


def test_old_clients_see_conditional_roles_renamed(fake, rm):
    """Like the real API: asking for version 1 hides conditions behind a
    ``_withcond_`` role name, which is why the connector asks for version 3."""
    fake.seed_policy("p-one", [{"role": "roles/browser", "members": ["user:a@acme.example"], "condition": COND}])
    old = get(rm, version=1)
    assert old.bindings[0].role.startswith("roles/browser_withcond_")
    assert not old.bindings[0].HasField("condition")
    assert get(rm).bindings[0].condition.title == "temp"


def test_unknown_project_is_permission_denied(fake, rm):
    with pytest.raises(gexc.Forbidden):
        get(rm, project="nobody-has-this")


@pytest.mark.parametrize("status,error", [(409, gexc.Conflict), (429, gexc.TooManyRequests),
                                          (503, gexc.ServiceUnavailable)])
def test_injected_rest_errors(fake, rm, status, error):
    fake.inject("getIamPolicy", status, times=2)
    for _ in range(2):
        with pytest.raises(error):
            get(rm)
    assert get(rm).etag
    assert fake.calls["getIamPolicy"] == 3


def test_audit_configs_survive_a_bindings_write(fake, rm):
    audit = [{"service": "allServices", "auditLogConfigs": [{"logType": 3}]}]
    fake.seed_policy("p-one", [], audit_configs=audit)
    put(rm, get(rm))
    assert fake.policy("p-one")["auditConfigs"] == audit


def test_service_account_lifecycle(fake, admin):
    sa = admin.create_service_account(request={
        "name": "projects/p-one", "account_id": "etl-runner",
        "service_account": {"display_name": "ETL", "description": "loads data"}})
    assert sa.email == "etl-runner@p-one.iam.gserviceaccount.com"
    assert sa.name == f"projects/p-one/serviceAccounts/{sa.email}"
    with pytest.raises(gexc.AlreadyExists):
        admin.create_service_account(request={"name": "projects/p-one", "account_id": "etl-runner"})
    admin.disable_service_account(request={"name": sa.name})
    assert admin.get_service_account(request={"name": sa.name}).disabled is True
    admin.enable_service_account(request={"name": sa.name})
    assert admin.get_service_account(request={"name": f"projects/-/serviceAccounts/{sa.unique_id}"}).disabled is False
    admin.delete_service_account(request={"name": sa.name})
    with pytest.raises(gexc.NotFound):
        admin.get_service_account(request={"name": sa.name})
    assert fake.calls["CreateServiceAccount"] == 2


def test_bad_account_id_is_rejected(fake, admin):
    with pytest.raises(gexc.InvalidArgument):
        admin.create_service_account(request={"name": "projects/p-one", "account_id": "x"})


def test_list_paginates(fake, admin):
    for i in range(23):
        fake.seed_service_account("p-two", f"robot-{i:03d}")
    pager = admin.list_service_accounts(request={"name": "projects/p-two", "page_size": 10})
    emails = [sa.email for sa in pager]
    assert len(emails) == 23 == len(set(emails))
    assert fake.calls["ListServiceAccounts"] == 3


def test_injected_grpc_error_and_call_counts(fake, admin):
    fake.inject("ListServiceAccounts", 503)
    with pytest.raises(gexc.ServiceUnavailable):
        admin.list_service_accounts(request={"name": "projects/p-one"}, retry=None)
    assert list(admin.list_service_accounts(request={"name": "projects/p-one"}, retry=None)) == []
    assert fake.calls["ListServiceAccounts"] == 2


def test_reset_clears_state_faults_and_counts(fake, rm):
    fake.seed_policy("p-one", [{"role": "roles/viewer", "members": ["user:a@acme.example"]}])
    fake.inject("getIamPolicy", 503)
    fake.reset()
    assert list(get(rm).bindings) == []
    assert fake.calls["getIamPolicy"] == 1


# --- the rules the real setIamPolicy enforces (tools/sandbox/gcp_rules.py) ------------------

def _bind(policy, role, members, condition=None):
    binding = policy.bindings.add(role=role, members=members)
    if condition:
        binding.condition.expression, binding.condition.title = condition["expression"], condition["title"]
    policy.version = 3
    return policy


@pytest.mark.parametrize("role", ["roles/owner", "roles/editor", "roles/viewer"])
def test_conditions_on_basic_roles_are_refused(fake, rm, role):
    """https://cloud.google.com/iam/docs/conditions-overview: no conditions on basic roles."""
    with pytest.raises(gexc.BadRequest, match="basic role"):
        put(rm, _bind(get(rm), role, ["group:g@acme.example"], COND))
    assert fake.policy("p-one")["bindings"] == []


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers"])
def test_public_members_are_refused_on_projects(fake, rm, member):
    with pytest.raises(gexc.BadRequest, match="Project does not support"):
        put(rm, _bind(get(rm), "roles/browser", [member]))


def test_users_cannot_be_made_owner_by_set_iam_policy(fake, rm):
    fake.seed_policy("p-one", [{"role": "roles/owner", "members": ["user:founder@acme.example"]}])
    policy = get(rm)
    policy.bindings[0].members.append("user:new@acme.example")
    with pytest.raises(gexc.BadRequest, match="owner role"):
        put(rm, policy)
    policy.bindings[0].members.remove("user:new@acme.example")
    put(rm, policy)  # an owner already there may stay


def test_more_than_1500_principals_are_refused(fake, rm):
    members = [f"user:u{i}@acme.example" for i in range(1500)]
    put(rm, _bind(get(rm), "roles/browser", members))
    policy = _bind(get(rm), "roles/logging.viewer", ["user:one-more@acme.example"])
    with pytest.raises(gexc.BadRequest, match=r"\(1,501\) is larger than the maximum allowed size 1,500"):
        put(rm, policy)


def test_oversized_policy_is_refused(fake, rm):
    long = [f"user:{'x' * 60}{i}@acme.example" for i in range(1200)]
    with pytest.raises(gexc.BadRequest, match="size of the policy"):
        put(rm, _bind(get(rm), "roles/browser", long))


def test_binding_for_a_missing_service_account_is_refused(fake, rm):
    member = "serviceAccount:ghost-runner@p-one.iam.gserviceaccount.com"
    with pytest.raises(gexc.BadRequest, match="ghost-runner@p-one.iam.gserviceaccount.com does not exist"):
        put(rm, _bind(get(rm), "roles/browser", [member]))
    fake.seed_service_account("p-one", "ghost-runner")
    put(rm, _bind(get(rm), "roles/browser", [member]))
    # accounts of projects the fake does not host cannot be judged, so they pass
    put(rm, _bind(get(rm), "roles/browser", ["serviceAccount:x-runner@elsewhere.iam.gserviceaccount.com"]))


def test_new_service_account_propagates_before_bindings_accept_it(server, admin, rm):
    server.reset()
    server.propagation = 2
    try:
        sa = admin.create_service_account(request={"name": "projects/p-one", "account_id": "fresh-runner",
                                                   "service_account": {"description": "d"}})
        for _ in range(2):
            with pytest.raises(gexc.BadRequest, match="does not exist"):
                put(rm, _bind(get(rm), "roles/browser", [f"serviceAccount:{sa.email}"]))
        put(rm, _bind(get(rm), "roles/browser", [f"serviceAccount:{sa.email}"]))
    finally:
        server.propagation = 0


def test_deleting_an_account_leaves_deleted_principals_in_policies(fake, rm, admin):
    fake.seed_service_account("p-one", "old-runner")
    email = "old-runner@p-one.iam.gserviceaccount.com"
    put(rm, _bind(get(rm), "roles/browser", [f"serviceAccount:{email}", "user:a@acme.example"]))
    uid = fake.service_account("p-one", "old-runner").unique_id
    admin.delete_service_account(request={"name": f"projects/p-one/serviceAccounts/{email}"})
    members = list(get(rm).bindings[0].members)
    assert members == [f"deleted:serviceAccount:{email}?uid={uid}", "user:a@acme.example"]
    fake.seed_service_account("p-one", "old-runner")  # a new account of the same name gets a new uid
    assert fake.service_account("p-one", "old-runner").unique_id != uid
    put(rm, get(rm))  # the deleted form is a valid member to write back
