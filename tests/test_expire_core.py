"""`accessctl expire` on an in-memory cloud with the clock moved forward."""
from __future__ import annotations

import json

import pytest
from fakes.memory import MemoryCloud

from tools.core.expiry import parse_expiry
from tools.provision.apply import build_plan, execute


@pytest.fixture
def cloud(repo, monkeypatch):
    cloud = MemoryCloud()
    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    planned = build_plan(repo.root, parse_expiry("2026-11-22T12:00:00Z"), factory=cloud.connector)
    execute(planned.plan, planned.connectors)
    return cloud


def expire(repo, capsys, now, *extra):
    import os
    os.environ["ACCESSCTL_NOW"] = now
    res = repo.run("expire", "--format", "json", "--no-github", *extra, capsys=capsys)
    return res, json.loads(res.out) if res.out else None


def test_nothing_expired_changes_nothing(repo, cloud, capsys):
    before = set(cloud.grants)
    res, doc = expire(repo, capsys, "2026-11-22T12:00:00Z")
    assert res.code == 0 and doc["revoked"] == [] and cloud.grants == before


def test_expired_grant_is_revoked_and_only_it(repo, cloud, capsys):
    before = set(cloud.grants)
    res, doc = expire(repo, capsys, "2026-12-16T00:00:00Z")  # carol's PowerUser ended 2026-12-15
    assert res.code == 0, doc
    assert doc["expired_requests"] == ["requests/aws/acme-staging/carol-poweruser.yaml"]
    assert [(r["principal"], r["target"]) for r in doc["revoked"]] == [("user:carol@acme.example", "PowerUser")]
    assert {g for g in before - cloud.grants} == {g for g in before if g.principal == "user:carol@acme.example"}
    # running again is a no-op
    res, doc = expire(repo, capsys, "2026-12-16T00:00:00Z")
    assert doc["revoked"] == []


def test_dry_run_revokes_nothing(repo, cloud, capsys):
    before = set(cloud.grants)
    res, doc = expire(repo, capsys, "2026-12-16T00:00:00Z", "--dry-run")
    assert [r["principal"] for r in doc["revoked"]] == ["user:carol@acme.example"]
    assert cloud.grants == before


def test_expired_service_account_is_disabled_then_deleted_after_grace(repo, cloud, capsys):
    # etl-runner ends 2027-06-30; its role binding (2026-12-20) ends before it
    res, doc = expire(repo, capsys, "2027-07-01T00:00:00Z", "--allow-mass-revoke")
    sa = [g for g in cloud.grants if g.kind == "gcp-service-account"]
    assert sa and sa[0].attr("disabled") == "true" and cloud.deleted == []
    res, doc = expire(repo, capsys, "2027-07-16T00:00:00Z", "--allow-mass-revoke")  # grace is 14 days
    # the GCP agent and integration samples (ended 2027-02-19) go with it
    assert sorted(cloud.deleted) == [("acme-data-dev", "etl-triage-agent"), ("acme-data-prod", "etl-runner"),
                                     ("acme-data-prod", "fivetran-loader")]
    assert sorted(doc["deleted_identities"]) == ["serviceAccount:acme-data-dev/etl-triage-agent",
                                                 "serviceAccount:acme-data-prod/etl-runner",
                                                 "serviceAccount:acme-data-prod/fivetran-loader"]


def test_expired_ci_role_sessions_are_cut_before_removal(repo, cloud, capsys):
    res, doc = expire(repo, capsys, "2027-05-02T00:00:00Z", "--allow-mass-revoke")
    assert ("111111111111", "billing-deployer") in cloud.revoked_sessions
    assert not any(g.kind == "aws-ci-role" for g in cloud.grants)


def test_mass_expiry_is_never_blocked_by_the_blast_radius_guard_and_says_so(repo, cloud, capsys, monkeypatch):
    """The guard protects against accidental mass removal, not time-boxing (issue 11)."""
    monkeypatch.setenv("ACCESSCTL_NOW", "2027-07-01T00:00:00Z")  # nearly everything has expired
    res = repo.run("expire", "--no-github", capsys=capsys)
    assert res.code == 0, res.out + res.err
    assert "exempt from the blast-radius guard" in res.out
    assert not [g for g in cloud.grants if g.kind != "gcp-service-account"], "every expired grant is revoked"
