"""The diff and the rules that decide what may be applied (pure, table-driven)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tools.core.errors import FindingError
from tools.core.model import Grant, Target
from tools.provision.plan import BlastRadius, diff, make_plan

T1 = datetime(2027, 1, 31, tzinfo=timezone.utc)
T2 = datetime(2027, 2, 28, tzinfo=timezone.utc)


def g(principal="user:erin@acme.example", role="roles/viewer", expires=T1, kind="gcp-project-role",
      target="acme-data-prod", request="requests/gcp/acme-data-prod/a.yaml", **attrs):
    return Grant("gcp", target, principal, kind, role, expires, request, tuple(sorted(attrs.items())))


def target(mode="enforced", ident="acme-data-prod"):
    return Target("gcp", ident, ident, "prod", "data", mode, {"gcp-project-role": ("roles/viewer",)})


CASES = [
    ("nothing desired, nothing live", [], [], []),
    ("new grant is added", [g()], [], [("add", "user:erin@acme.example")]),
    ("live grant nobody asked for is removed", [], [g()], [("remove", "user:erin@acme.example")]),
    ("same grant: no change", [g()], [g()], []),
    ("expiry differs on a kind the cloud enforces: update", [g(expires=T2)], [g()], [("update", "user:erin@acme.example")]),
    ("expiry stripped in the console: update", [g()], [g(expires=None, request=None)], [("update", "user:erin@acme.example")]),
    ("expiry of an IAM group membership is not stored in AWS: no change",
     [g(kind="aws-iam-group", expires=T2)], [g(kind="aws-iam-group", expires=None, request=None)], []),
    ("attribute widened (trust policy): update",
     [g(kind="aws-ci-role", oidc_repository="acme/app")], [g(kind="aws-ci-role", oidc_repository="acme/*")],
     [("update", "user:erin@acme.example")]),
    ("disabled service account is re-enabled",
     [g(kind="gcp-service-account", owner="data")], [g(kind="gcp-service-account", owner="data", disabled="true")],
     [("update", "user:erin@acme.example")]),
    ("principals differ only in who: one add, one remove",
     [g(principal="user:bob@acme.example")], [g()],
     [("add", "user:bob@acme.example"), ("remove", "user:erin@acme.example")]),
]


@pytest.mark.parametrize("desired,live,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_diff(desired, live, expected):
    assert [(c.action.value, c.grant.principal) for c in diff(desired, live)] == expected


def test_diff_is_deterministic_and_keeps_current_value():
    changes = diff([g(expires=T2)], [g()])
    assert changes[0].current.expires == T1 and changes[0].grant.expires == T2
    assert "expiry" in changes[0].reason


@pytest.mark.parametrize("mode,applied,held", [
    ("enforced", {"add", "remove"}, set()),
    ("additive", {"add"}, {"remove"}),
    ("report-only", set(), {"add", "remove"}),
])
def test_target_mode_decides_what_is_applied(mode, applied, held):
    plan = make_plan([g(principal="user:bob@acme.example")], [g()], {("gcp", "acme-data-prod"): target(mode)})
    assert {c.action.value for c in plan.changes} == applied
    assert {h.change.action.value for h in plan.held} == held


def test_protected_principal_is_never_removed():
    plan = make_plan([], [g(principal="group:security")], {("gcp", "acme-data-prod"): target()},
                     protected=["group:security"])
    assert plan.changes == [] and "never removed" in plan.held[0].why


def test_targets_outside_the_run_are_ignored():
    plan = make_plan([g(target="other")], [g(target="other2")], {("gcp", "acme-data-prod"): target()})
    assert plan.changes == [] and plan.held == []


def _removing(n_remove, n_live):
    live = [g(principal=f"user:u{i}@acme.example") for i in range(n_live)]
    desired = live[n_remove:]
    return make_plan(desired, live, {("gcp", "acme-data-prod"): target()})


def test_blast_radius_refuses_large_share_and_says_by_how_much():
    with pytest.raises(FindingError, match=r"removes 5 of 10 managed grants \(50%\), over the limit of 25%"):
        BlastRadius(0.25, 50).check(_removing(5, 10))


def test_blast_radius_refuses_large_count():
    with pytest.raises(FindingError, match="over the limit of 50 by 10"):
        BlastRadius(1.0, 50).check(_removing(60, 100))


def test_blast_radius_allows_routine_revocations():
    BlastRadius(0.25, 50).check(_removing(1, 2))  # one expiry in a small org
    BlastRadius(0.25, 50).check(_removing(2, 10))
