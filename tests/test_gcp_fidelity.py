"""The GCP connector against a fake as strict as the real setIamPolicy.

Each test is a mismatch that would have failed on first contact with GCP:
basic roles with conditions, bindings for accounts not created yet (or not
yet visible), deleted principals read back as access, policy limits, and one
bad binding blocking a whole project.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.gcp import GcpConnector
from tools.core import orgmodel
from tools.core.limits import gcp_policy_problem
from tools.core.model import Action, Change, Grant, Target
from tools.core.repo import Tree
from tools.sandbox.gcp import FakeGcp

ROOT = Path(__file__).resolve().parent.parent
P = "acme-data-prod"
VIEWER, EDITOR = "roles/bigquery.dataViewer", "roles/bigquery.dataEditor"
EXPIRES = datetime(2027, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def org():
    return orgmodel.load(Tree(ROOT))


@pytest.fixture(scope="module")
def target(org):
    return org.target("gcp", P)


@pytest.fixture(scope="module")
def server():
    with FakeGcp([P]) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    server.propagation = 0
    yield server
    server.propagation = 0


@pytest.fixture
def gcp(org, server):
    conn = GcpConnector(org, endpoint=server.rest_url, iam_endpoint=server.grpc_target,
                        backoff_initial=0.001, backoff_max=0.01)
    yield conn
    conn.close()


def binding(principal: str, role: str = VIEWER) -> Grant:
    name = principal.rpartition("/")[2].partition("@")[0].partition(":")[2] or principal.rpartition("/")[2]
    return Grant("gcp", P, principal, "gcp-project-role", role, EXPIRES, f"requests/gcp/{P}/{name}.yaml")


def account(name: str) -> Grant:
    return Grant("gcp", P, f"serviceAccount:{P}/{name}", "gcp-service-account", name, EXPIRES,
                 f"requests/gcp/{P}/{name}.yaml", (("owner", "data"), ("purpose", "Runs the nightly loads.")))


def members(fake) -> set[str]:
    return {m for b in fake.policy(P)["bindings"] for m in b["members"]}


def test_account_is_created_before_the_binding_naming_it_even_while_it_propagates(fake, gcp, target):
    """The plan may list the binding first; GCP refuses a binding for an account
    that does not exist, and a new account takes a moment to become visible."""
    fake.propagation = 2
    results = gcp.apply(target, [Change(Action.ADD, binding(f"serviceAccount:{P}/nightly-loader")),
                                 Change(Action.ADD, account("nightly-loader"))])
    assert all(r.ok for r in results), results
    assert f"serviceAccount:nightly-loader@{P}.iam.gserviceaccount.com" in members(fake)
    assert fake.calls["setIamPolicy"] == 3  # refused twice while propagating, then accepted


def test_binding_for_an_account_that_never_existed_fails_alone(fake, gcp, target):
    """One bad binding must not block the project's other changes, revocations included."""
    fake.seed_service_account(P, "old-runner")
    fake.seed_policy(P, [{"role": EDITOR, "members": ["user:leaver@acme.example"]}])
    ghost = binding(f"serviceAccount:{P}/ghost-runner")
    changes = [Change(Action.ADD, binding("user:erin@acme.example")),
               Change(Action.ADD, ghost),
               Change(Action.REMOVE, Grant("gcp", P, "user:leaver@acme.example", "gcp-project-role", EDITOR)),
               Change(Action.ADD, binding(f"serviceAccount:{P}/old-runner", EDITOR))]
    results = gcp.apply(target, changes)
    assert [r.ok for r in results] == [True, False, True, True]
    assert "ghost-runner" in results[1].error and "does not exist" in results[1].error
    assert "POST http" not in results[1].error  # one readable line, no URL
    assert members(fake) == {"user:erin@acme.example", f"serviceAccount:old-runner@{P}.iam.gserviceaccount.com"}


def test_basic_role_is_refused_before_any_write(fake, org):
    target = Target("gcp", P, P, "prod", "data", "enforced", {"gcp-project-role": (VIEWER, "roles/viewer")})
    conn = GcpConnector(org, endpoint=fake.rest_url, iam_endpoint=fake.grpc_target)
    try:
        results = conn.apply(target, [Change(Action.ADD, binding("user:erin@acme.example", "roles/viewer")),
                                      Change(Action.ADD, binding("user:frank@acme.example"))])
    finally:
        conn.close()
    assert [r.ok for r in results] == [False, True]
    assert "basic roles" in results[0].error
    assert all(b["role"] != "roles/viewer" for b in fake.policy(P)["bindings"])


def test_policy_over_1500_principals_is_caught_before_writing_and_the_rest_applies(fake, gcp, target):
    fake.seed_policy(P, [{"role": "roles/logging.viewer",
                          "members": [f"user:u{i}@acme.example" for i in range(1499)]}])
    changes = [Change(Action.ADD, binding("user:erin@acme.example")),
               Change(Action.ADD, binding("user:frank@acme.example", EDITOR))]
    results = gcp.apply(target, changes)
    assert [r.ok for r in results] == [True, False]
    assert "1,501 principals, over GCP's limit of 1,500" in results[1].error
    assert fake.calls["setIamPolicy"] == 1  # the refused half was never sent


def test_deleted_principal_is_not_extra_access_and_is_dropped_on_the_next_write(fake, gcp, target):
    fake.seed_service_account(P, "temp-runner")
    email = f"temp-runner@{P}.iam.gserviceaccount.com"
    fake.seed_policy(P, [{"role": VIEWER, "members": [f"serviceAccount:{email}", "user:keep@acme.example"]}])
    fake.delete_service_account(P, "temp-runner")
    assert any(m.startswith(f"deleted:serviceAccount:{email}?uid=") for m in members(fake))
    assert [g.principal for g in gcp.read(target)] == ["user:keep@acme.example"]
    assert all(r.ok for r in gcp.apply(target, [Change(Action.ADD, binding("user:erin@acme.example"))]))
    assert not any(m.startswith("deleted:") for m in members(fake))
    assert "user:keep@acme.example" in members(fake)


@pytest.mark.parametrize("new,expect", [
    ([("roles/browser", ("allUsers",), False)], "refuses on projects"),
    ([("roles/editor", ("user:a@x",), True)], "basic role"),
    ([("roles/browser", tuple(f"user:{i}@x" for i in range(1501)), False)], "1,501 principals"),
    ([("roles/browser", tuple(f"group:{i}@x" for i in range(251)), False)], "251 groups and domains"),
])
def test_pre_flight_names_the_limit(new, expect):
    assert expect in gcp_policy_problem([], new)


def test_pre_flight_lets_revocations_through_an_already_full_policy():
    full = [("roles/browser", tuple(f"user:{i}@x" for i in range(1600)), False)]
    assert gcp_policy_problem(full, [("roles/browser", full[0][1][1:], False)]) is None


def test_pre_flight_and_the_fake_agree_on_many_generated_policies():
    """The connector's check (tools.core.limits) and the fake's rules
    (tools.sandbox.gcp_rules) are written apart; on the rules both model they
    must give the same verdict, or one of them is wrong."""
    import random

    from tools.sandbox.gcp_rules import policy_error

    rng = random.Random(12)
    roles = ["roles/browser", "roles/owner", "roles/viewer", "roles/bigquery.dataViewer"]
    for _ in range(400):
        bindings = []
        for _ in range(rng.randint(1, 4)):
            role = rng.choice(roles)
            size = rng.choice([1, 3, 200, 700, 1499])
            kind = rng.choice(["user", "group", "domain", "public"])
            if kind == "public":
                members = [rng.choice(["allUsers", "allAuthenticatedUsers"])]
            else:
                members = [f"{kind}:{kind}{i}@acme.example" if kind != "domain" else f"domain:d{i}.example"
                           for i in range(size)]
            binding = {"role": role, "members": members}
            if rng.random() < 0.4:
                binding["condition"] = {"expression": 'request.time < timestamp("2027-01-01T00:00:00Z")',
                                        "title": "t"}
            if role == "roles/owner" and kind == "user":
                continue  # owner invitations: a rule only the fake models
            bindings.append(binding)
        fake = policy_error(bindings, 3, [], lambda email: "unknown", 10**9)
        shaped = [(b["role"], tuple(b["members"]), "condition" in b) for b in bindings]
        ours = gcp_policy_problem([], shaped)
        assert (fake is None) == (ours is None), (fake, ours, [(r, len(m), c) for r, m, c in shaped])
