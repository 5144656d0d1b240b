"""GcpConnector against the loopback fake, through the real client libraries.

Each test pins a property users rely on: a merge makes the minimum calls,
expiry is enforced by GCP itself, concurrent writers are never clobbered,
and nothing outside the managed roles changes.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.gcp import GcpConnector, GcpError
from connectors.gcp_policy import TITLE_LIMIT, Members
from tools.core import orgmodel
from tools.core.model import Action, Change, Grant
from tools.core.repo import Tree
from tools.provision import desired as state
from tools.provision.plan import diff
from tools.request import load
from tools.sandbox.gcp import FakeGcp

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
P = "acme-data-prod"
VIEWER, EDITOR, ADMIN = "roles/bigquery.dataViewer", "roles/bigquery.dataEditor", "roles/bigquery.admin"
EXPIRY_EXPR = re.compile(r'^request\.time < timestamp\("\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\)$')
UNMANAGED = [
    {"role": "roles/owner", "members": ["user:founder@acme.example", "group:admins@acme.example"]},
    {"role": "roles/storage.admin", "members": ["serviceAccount:backup@other-proj.iam.gserviceaccount.com"],
     "condition": {"expression": 'resource.name.startsWith("projects/_/buckets/backup")',
                   "title": "backup bucket only", "description": "set by hand in the console"}},
    {"role": "roles/viewer", "members": ["domain:acme.example", "user:zed@acme.example"]},
]


@pytest.fixture(scope="module")
def org():
    return orgmodel.load(Tree(PROJECT_ROOT))


@pytest.fixture(scope="module")
def target(org):
    return org.target("gcp", P)


@pytest.fixture(scope="module")
def wanted(org):
    """The sample requests' desired grants for the project, via tools.provision.desired."""
    files = load.read_all(Tree(PROJECT_ROOT))
    grants = [g for g in state.desired(files, org, NOW).grants if g.target == P]
    assert {g.kind for g in grants} == {"gcp-project-role", "gcp-service-account"}
    return grants


@pytest.fixture(scope="module")
def server():
    with FakeGcp([P]) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    return server


@pytest.fixture
def gcp(org, server):
    conn = GcpConnector(org, endpoint=server.rest_url, iam_endpoint=server.grpc_target,
                        backoff_initial=0.001, backoff_max=0.01)
    yield conn
    conn.close()


def user_grant(i: int, role: str = VIEWER, days: int = 30) -> Grant:
    return Grant("gcp", P, f"user:u{i:03d}@acme.example", "gcp-project-role", role,
                 datetime(2027, 1, 1 + days % 28, tzinfo=timezone.utc), f"requests/gcp/{P}/u{i:03d}.yaml")


def adds(grants) -> list[Change]:
    return [Change(Action.ADD, g) for g in grants]


def converge(gcp, target, want) -> list:
    return gcp.apply(target, diff(want, gcp.read(target)))


def test_round_trip_reads_back_the_desired_grants(fake, gcp, target, wanted):
    results = converge(gcp, target, wanted)
    assert all(r.ok for r in results), results
    assert sorted(gcp.read(target), key=lambda g: g.key) == sorted(wanted, key=lambda g: g.key)


def test_second_apply_makes_no_write(fake, gcp, target, wanted):
    changes = diff(wanted, gcp.read(target))
    gcp.apply(target, changes)
    sets = fake.calls["setIamPolicy"]
    again = gcp.apply(target, changes)
    assert all(r.ok for r in again)
    assert fake.calls["setIamPolicy"] == sets == 1
    assert diff(wanted, gcp.read(target)) == []


def test_hundred_bindings_take_one_get_and_one_set(fake, gcp, target):
    grants = [user_grant(i, (VIEWER, EDITOR, ADMIN)[i % 3]) for i in range(100)]
    results = gcp.apply(target, adds(grants))
    assert all(r.ok for r in results)
    assert (fake.calls["getIamPolicy"], fake.calls["setIamPolicy"]) == (1, 1)
    assert sum(r.calls for r in results) == 2
    assert {g.key for g in gcp.read(target)} == {g.key for g in grants}


def test_concurrent_writer_is_retried_and_kept(fake, gcp, target):
    """A real etag race: someone writes between our get and our set. We must
    re-read and keep their change, never overwrite it."""
    fake.seed_policy(P, UNMANAGED[:1])

    def someone_else_writes():
        fake.seed_policy(P, UNMANAGED[:1] + [{"role": "roles/logging.viewer", "members": ["user:x@acme.example"]}])

    fake.before_next("setIamPolicy", someone_else_writes)
    results = gcp.apply(target, adds([user_grant(1)]))
    assert results[0].ok, results
    assert (fake.calls["getIamPolicy"], fake.calls["setIamPolicy"]) == (2, 2)
    roles = [b["role"] for b in fake.policy(P)["bindings"]]
    assert roles == ["roles/owner", "roles/logging.viewer", VIEWER]


@pytest.mark.parametrize("method,status", [("getIamPolicy", 429), ("getIamPolicy", 503),
                                           ("setIamPolicy", 409), ("setIamPolicy", 429),
                                           ("setIamPolicy", 503)])
def test_transient_errors_are_retried(fake, gcp, target, method, status):
    fake.inject(method, status, times=2)
    results = gcp.apply(target, adds([user_grant(1), user_grant(2, EDITOR)]))
    assert all(r.ok for r in results), results
    assert fake.calls[method] == 3
    assert {g.principal for g in gcp.read(target)} == {"user:u001@acme.example", "user:u002@acme.example"}


def test_persistent_failure_is_reported_not_raised(fake, gcp, target):
    fake.inject("setIamPolicy", 503, times=50)
    results = gcp.apply(target, adds([user_grant(1), user_grant(2)]))
    assert [r.ok for r in results] == [False, False]
    assert "503" in results[0].error and P in results[0].error
    assert fake.calls["setIamPolicy"] == 6  # the configured attempts, then it gives up


def test_unmanaged_bindings_survive_add_and_remove_unchanged(fake, gcp, target):
    console_viewer = {"role": VIEWER, "members": ["user:console@acme.example", "user:keep@acme.example"]}
    audit = [{"service": "allServices", "auditLogConfigs": [{"logType": 1}]}]
    fake.seed_policy(P, [UNMANAGED[0], console_viewer, UNMANAGED[1], UNMANAGED[2]], audit_configs=audit)
    live = {g.principal: g for g in gcp.read(target)}
    assert set(live) == {"user:console@acme.example", "user:keep@acme.example"}  # other roles never read
    changes = adds([user_grant(i) for i in range(3)]) + [Change(Action.REMOVE, live["user:console@acme.example"])]
    assert all(r.ok for r in gcp.apply(target, changes))
    gcp.apply(target, [Change(Action.REMOVE, user_grant(0))])
    stored = fake.policy(P)
    assert [b for b in stored["bindings"] if b["role"] not in target.managed["gcp-project-role"]] == UNMANAGED
    assert stored["bindings"][1] == {"role": VIEWER, "members": ["user:keep@acme.example"]}
    assert stored["auditConfigs"] == audit


def test_every_added_binding_carries_the_expiry_condition(fake, gcp, target, wanted):
    gcp.apply(target, adds([user_grant(i, days=i) for i in range(5)]) + adds(wanted))
    added = fake.policy(P)["bindings"]
    assert added and all(EXPIRY_EXPR.match(b["condition"]["expression"]) for b in added)
    assert all(b["condition"]["title"].startswith("accessctl:") for b in added)
    assert all(len(b["condition"]["title"]) <= TITLE_LIMIT for b in added)
    erin = next(b for b in added if b["members"] == ["user:erin@acme.example"])
    assert erin["condition"]["expression"] == 'request.time < timestamp("2027-01-31T00:00:00Z")'
    assert "requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml" in erin["condition"]["description"]


def test_long_request_path_is_truncated_in_title_but_read_back_whole(fake, gcp, target):
    long_path = f"requests/gcp/{P}/" + "x" * 150 + ".yaml"
    grant = replace(user_grant(1), request=long_path)
    gcp.apply(target, adds([grant]))
    assert len(fake.policy(P)["bindings"][0]["condition"]["title"]) == TITLE_LIMIT
    assert gcp.read(target) == [grant]


def test_console_grant_reads_as_never_expiring_and_is_fixed(fake, gcp, target):
    fake.seed_policy(P, [
        {"role": VIEWER, "members": ["user:u001@acme.example"]},
        {"role": EDITOR, "members": ["user:u002@acme.example"],
         "condition": {"expression": 'request.time < timestamp("2030-01-01T00:00:00Z")', "title": "by hand"}},
    ])
    live = gcp.read(target)
    assert [(g.principal, g.expires, g.request) for g in live] == [
        ("user:u001@acme.example", None, None), ("user:u002@acme.example", None, None)]
    want = [user_grant(1), user_grant(2, EDITOR)]
    changes = diff(want, live)
    assert [c.action for c in changes] == [Action.UPDATE, Action.UPDATE]
    assert all(r.ok for r in gcp.apply(target, changes))
    assert gcp.read(target) == want
    assert all(b["condition"]["title"].startswith("accessctl:") for b in fake.policy(P)["bindings"])


def test_change_in_unmanaged_role_is_refused(fake, gcp, target):
    fake.seed_policy(P, UNMANAGED)
    results = gcp.apply(target, adds([user_grant(1, "roles/owner")]) + [
        Change(Action.REMOVE, replace(user_grant(1, "roles/owner"), principal="user:founder@acme.example"))])
    assert [r.ok for r in results] == [False, False]
    assert "not a managed role" in results[0].error
    assert fake.policy(P)["bindings"] == UNMANAGED
    assert fake.calls["setIamPolicy"] == 0


def test_groups_and_service_accounts_map_to_gcp_members(fake, gcp, target):
    team = replace(user_grant(1), principal="group:data")
    sa = replace(user_grant(2), principal=f"serviceAccount:{P}/etl-runner")
    fake.seed_service_account(P, "etl-runner")  # GCP refuses bindings for accounts that do not exist
    gcp.apply(target, adds([team, sa]))
    members = sorted(m for b in fake.policy(P)["bindings"] for m in b["members"])
    assert members == ["group:data@acme.example", f"serviceAccount:etl-runner@{P}.iam.gserviceaccount.com"]
    assert {g.principal for g in gcp.read(target)} == {"group:data", f"serviceAccount:{P}/etl-runner"}


def test_unknown_members_cannot_collide_with_canonical_ones(org):
    members = Members(org)
    assert members.to_principal("group:outsiders@gmail.com") == "group:outsiders@gmail.com"
    assert members.to_principal("user:X@Gmail.com") == "user:x@gmail.com"
    assert members.to_principal("serviceAccount:1234-compute@developer.gserviceaccount.com") == \
        "serviceAccount:1234-compute@developer.gserviceaccount.com"
    for member in ("group:outsiders@gmail.com", "domain:acme.example", "group:data@acme.example",
                   f"serviceAccount:etl@{P}.iam.gserviceaccount.com"):
        assert members.to_member(members.to_principal(member)) == member


def test_service_account_create_disable_enable_delete(fake, gcp, target, wanted):
    identity = next(g for g in wanted if g.kind == "gcp-service-account")
    assert gcp.apply(target, adds([identity]))[0].ok
    assert [g for g in gcp.read(target) if g.kind == identity.kind] == [identity]
    sa = fake.service_account(P, identity.entitlement)
    assert sa.description.endswith("managed-by: accessctl") and "owner: data" in sa.description

    removed = gcp.apply(target, [Change(Action.REMOVE, identity, identity)])
    assert removed[0].ok and fake.service_account(P, identity.entitlement).disabled
    live = [g for g in gcp.read(target) if g.kind == identity.kind]
    assert live[0].attr("disabled") == "true"

    changes = diff([identity], live)
    assert [c.action for c in changes] == [Action.UPDATE]
    assert gcp.apply(target, changes)[0].ok
    assert fake.service_account(P, identity.entitlement).disabled is False
    assert diff([identity], [g for g in gcp.read(target) if g.kind == identity.kind]) == []

    with pytest.raises(GcpError, match="still enabled"):
        gcp.delete_service_account(P, identity.entitlement)
    gcp.apply(target, [Change(Action.REMOVE, identity, identity)])
    gcp.delete_service_account(P, identity.entitlement)
    assert fake.service_account(P, identity.entitlement) is None


def test_changed_purpose_and_expiry_update_the_account(fake, gcp, target, wanted):
    identity = next(g for g in wanted if g.kind == "gcp-service-account")
    gcp.apply(target, adds([identity]))
    newer = replace(identity, expires=datetime(2027, 9, 1, tzinfo=timezone.utc),
                    attributes=(("owner", "data"), ("purpose", "Loads billing exports nightly.")))
    changes = diff([newer], gcp.read(target))
    assert [c.action for c in changes] == [Action.UPDATE]
    assert gcp.apply(target, changes)[0].ok
    assert gcp.read(target) == [newer]


def test_accounts_not_created_by_the_pipeline_are_invisible_and_untouched(fake, gcp, target):
    fake.seed_service_account(P, "hand-made", description="made in the console")
    assert gcp.read(target) == []
    stranger = Grant("gcp", P, f"serviceAccount:{P}/hand-made", "gcp-service-account", "hand-made",
                     NOW, "requests/gcp/x.yaml", (("owner", "data"), ("purpose", "x")))
    results = gcp.apply(target, [Change(Action.REMOVE, stranger, stranger), Change(Action.ADD, stranger)])
    assert [r.ok for r in results] == [False, False]
    assert "not created by accessctl" in results[0].error
    sa = fake.service_account(P, "hand-made")
    assert sa.disabled is False and sa.description == "made in the console"
    with pytest.raises(GcpError, match="not created by accessctl"):
        gcp.delete_service_account(P, "hand-made")
    assert fake.service_account(P, "hand-made") is not None


def test_service_accounts_are_read_across_pages(fake, org, server, target):
    for i in range(7):
        fake.seed_service_account(P, f"robot-{i:03d}", description=f"bot {i} | managed-by: accessctl")
    conn = GcpConnector(org, endpoint=server.rest_url, iam_endpoint=server.grpc_target, page_size=3)
    try:
        names = [g.entitlement for g in conn.read(target) if g.kind == "gcp-service-account"]
    finally:
        conn.close()
    assert names == [f"robot-{i:03d}" for i in range(7)]
    assert fake.calls["ListServiceAccounts"] == 3


def test_read_failure_is_a_one_line_usage_error(fake, gcp, org):
    from tools.core.errors import UsageError
    ghost = replace(org.target("gcp", P), id="ghost-project")
    with pytest.raises(UsageError, match="ghost-project.*403"):
        gcp.read(ghost)


def test_every_operation_declares_permissions():
    assert GcpConnector.PERMISSIONS
    for operation, permissions in GcpConnector.PERMISSIONS.items():
        assert permissions, operation
        assert all(re.fullmatch(r"[a-z]+\.[a-zA-Z]+\.[a-zA-Z]+", p) for p in permissions), operation


def test_endpoints_come_from_the_environment(fake, org, target, monkeypatch):
    """How the sandbox and demo reach the fake: only the two variables."""
    from tools.core.connector import connector_for
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    conn = connector_for("gcp", org)
    try:
        assert all(r.ok for r in conn.apply(target, adds([user_grant(1)])))
        assert [g.principal for g in conn.read(target)] == ["user:u001@acme.example"]
    finally:
        conn.close()


def test_unreachable_api_fails_each_change_without_raising(org, target):
    conn = GcpConnector(org, endpoint="http://127.0.0.1:9", iam_endpoint="127.0.0.1:9",
                        attempts=2, backoff_initial=0.001, backoff_max=0.01, timeout=5)
    identity = Grant("gcp", P, f"serviceAccount:{P}/etl-runner", "gcp-service-account", "etl-runner",
                     NOW, "requests/gcp/x.yaml", (("owner", "data"), ("purpose", "x")))
    try:
        results = conn.apply(target, adds([user_grant(1), identity]))
    finally:
        conn.close()
    assert [r.ok for r in results] == [False, False]
    assert "cannot reach the GCP API" in results[0].error and "\n" not in results[0].error


def test_benchmark_meets_its_targets():
    from bench.gcp_calls import main
    result = main(100)["figures"]
    assert result["connector_calls"] <= 2 and result["naive_calls"] >= 200
