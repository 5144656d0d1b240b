"""Pipeline-owned GCP service accounts are owned whole (issue 13), and an AI
agent's account is reachable only through its runtime (issue 17): against the
GCP fake over gRPC, through the real iam_admin_v1 client.

A user-managed key the pipeline did not create, and a binding on the
account's own IAM policy it did not write, are drift: reconcile reports
them, applying the desired state (reconcile --mode fix) removes them, and
import never adopts them. An agent's account has no key and one binding,
serviceAccountTokenCreator for its runtime with the expiry condition."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from test_gcp_connector import P, gcp, org, server, target  # noqa: F401 (fixtures)

from tools.core.model import Action, Grant
from tools.jobs.importer import plan_imports
from tools.provision.plan import diff

EXPIRES = datetime(2027, 2, 1, tzinfo=timezone.utc)
RUNTIME = f"serviceAccount:agent-runtime@{P}.iam.gserviceaccount.com"
AGENT_EMAIL = f"triage-agent@{P}.iam.gserviceaccount.com"


def workload(name="etl-runner") -> Grant:
    attrs = {"owner": "data", "purpose": "Runs the nightly ETL jobs."}
    return Grant("gcp", P, f"serviceAccount:{P}/{name}", "gcp-service-account", name, EXPIRES,
                 f"requests/gcp/{P}/{name}.yaml", tuple(sorted(attrs.items())))


def agent(runtime=RUNTIME) -> Grant:
    attrs = {"owner": "data", "purpose": "Summarises failed ETL runs.", "use": "agent", "runtime": runtime,
             "max_session_minutes": "60"}
    return Grant("gcp", P, f"serviceAccount:{P}/triage-agent", "gcp-service-account", "triage-agent", EXPIRES,
                 f"requests/gcp/{P}/triage-agent.yaml", tuple(sorted(attrs.items())))


@pytest.fixture
def fake(server):  # noqa: F811
    server.reset()
    server._create_sa(P, "agent-runtime", "agent runtime", "the platform's agent runtime")
    server._create_sa(P, "legacy-bot", "legacy", "a hand-made account")
    return server


def converge(gcp, target, want):  # noqa: F811
    changes = diff(want, gcp.read(target))
    results = gcp.apply(target, changes)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return changes


def test_a_key_nobody_asked_for_is_drift_and_fix_deletes_it(fake, gcp, target):  # noqa: F811
    converge(gcp, target, [workload()])
    fake.create_key(f"etl-runner@{P}.iam.gserviceaccount.com")
    changes = converge(gcp, target, [workload()])
    assert [(c.action, c.grant.kind) for c in changes] == [(Action.REMOVE, "gcp-service-account-key")]
    assert fake.sa_keys[f"etl-runner@{P}.iam.gserviceaccount.com"] == []
    assert diff([workload()], gcp.read(target)) == []


def test_a_binding_on_the_accounts_policy_is_drift_and_fix_removes_only_it(fake, gcp, target):  # noqa: F811
    from connectors.gcp_emulation import policy_pb2
    converge(gcp, target, [agent()])
    policy = fake.sa_policy(AGENT_EMAIL)
    policy.bindings.append(policy_pb2.Binding(role="roles/iam.serviceAccountUser",
                                              members=["user:mallory@acme.example"]))
    fake.sa_policies[AGENT_EMAIL] = policy
    changes = converge(gcp, target, [agent()])
    assert [(c.action, c.grant.kind, c.grant.entitlement) for c in changes] == [
        (Action.REMOVE, "gcp-service-account-binding", "roles/iam.serviceAccountUser user:mallory@acme.example")]
    assert [(b.role, list(b.members)) for b in fake.sa_policy(AGENT_EMAIL).bindings] == [
        ("roles/iam.serviceAccountTokenCreator", [RUNTIME])]


def test_an_agent_account_has_no_key_and_only_its_runtime_may_mint_tokens_until_expiry(fake, gcp, target):  # noqa: F811
    converge(gcp, target, [agent()])
    assert fake.sa_keys.get(AGENT_EMAIL, []) == []
    policy = fake.sa_policy(AGENT_EMAIL)
    assert policy.version == 3 and len(policy.bindings) == 1
    b = policy.bindings[0]
    assert b.role == "roles/iam.serviceAccountTokenCreator" and list(b.members) == [RUNTIME]
    assert b.condition.expression == 'request.time < timestamp("2027-02-01T00:00:00Z")'
    assert diff([agent()], gcp.read(target)) == []
    assert converge(gcp, target, [agent()]) == []  # idempotent


def test_a_runtime_swapped_by_hand_is_restored(fake, gcp, target):  # noqa: F811
    converge(gcp, target, [agent()])
    other = f"serviceAccount:legacy-bot@{P}.iam.gserviceaccount.com"
    converge(gcp, target, [agent(other)])  # someone re-points it (through the pipeline's own shape)
    changes = converge(gcp, target, [agent()])
    assert [c.action for c in changes] == [Action.UPDATE]
    assert [list(b.members) for b in fake.sa_policy(AGENT_EMAIL).bindings] == [[RUNTIME]]


def test_a_runtime_outside_the_organisation_is_never_bound(fake, gcp, target):  # noqa: F811
    outsider = "serviceAccount:runner@other-corp.iam.gserviceaccount.com"
    results = gcp.apply(target, diff([agent(outsider)], gcp.read(target)))
    assert not results[0].ok and "not in a project of the organisation" in results[0].error
    assert not fake.sa_policy(AGENT_EMAIL).bindings


def test_import_never_adopts_keys_or_bindings_on_a_pipeline_account(fake, gcp, target, org):  # noqa: F811
    converge(gcp, target, [workload()])
    fake.create_key(f"etl-runner@{P}.iam.gserviceaccount.com")
    changes = [c for c in diff([workload()], gcp.read(target)) if c.action is Action.REMOVE]
    files, skipped = plan_imports(changes, {("gcp", P): target}, org, "2026-11-22", set())
    assert files == [] and [s.grant.kind for s in skipped] == ["gcp-service-account-key"]
    assert "never adopted" in skipped[0].why
