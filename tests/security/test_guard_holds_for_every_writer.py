"""Invariant: the blast-radius guard holds for every writer. A mass
revocation that apply refuses is refused by every reconcile shard (removals
are counted over the whole organisation); plan and ``apply --dry-run`` show
the verdict with the plan; a refused revocation does not block unrelated
additions unless all-or-nothing is asked for."""
from __future__ import annotations

import json

import pytest
from fakes.memory import MemoryCloud

MASS = ["requests/aws/acme-dev/bob-developer.yaml", "requests/aws/acme-staging/carol-poweruser.yaml",
        "requests/aws/acme-prod/sre-readonly.yaml", "requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml"]
POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@pytest.fixture
def cloud(monkeypatch, repo, capsys):
    cloud = MemoryCloud()
    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    assert repo.run("apply", capsys=capsys).code == 0
    return cloud


def _mass_revocation(repo, cloud):
    before = set(cloud.grants)
    for path in MASS:
        (repo.root / path).unlink()
    repo.commit("a bad merge deletes most requests")
    return before


def _removed(cloud, before):
    return before - set(cloud.grants)


def test_every_shard_refuses_what_apply_refuses(repo, cloud, capsys):
    before = _mass_revocation(repo, cloud)
    res = repo.run("apply", "--dry-run", "--format", "json", capsys=capsys)
    assert res.code == 1 and json.loads(res.out)["guard"]["verdict"] == "refused"
    for i in range(1, 5):
        res = repo.run("reconcile", "--mode", "fix", "--shard", f"{i}/4", "--no-issue", "--format", "json",
                       capsys=capsys)
        doc = json.loads(res.out)
        assert doc["guard"]["verdict"] == "refused", f"shard {i}/4 counted only its own share"
        assert res.code == 1
    assert not _removed(cloud, before), "no shard carried out the mass revocation"


def test_dry_run_and_plan_show_the_verdict_and_the_plan(repo, cloud, capsys):
    _mass_revocation(repo, cloud)
    res = repo.run("apply", "--dry-run", capsys=capsys)
    assert res.code == 1
    assert "blast-radius guard: refused" in res.out and "bob@acme.e" in res.out, "the plan is shown"
    res = repo.run("plan", "--format", "json", capsys=capsys)
    doc = json.loads(res.out)
    assert doc["guard"]["verdict"] == "refused"
    assert any("blast-radius guard" in h["held"] for h in doc["held"])


def test_refused_removals_do_not_block_unrelated_additions(repo, cloud, capsys):
    before = _mass_revocation(repo, cloud)
    policy = next(g for g in cloud.grants if g.entitlement == POLICY)
    cloud.grants.discard(policy)  # an approved grant is missing: apply must still add it
    res = repo.run("apply", "--format", "json", capsys=capsys)
    doc = json.loads(res.out)
    assert res.code == 1 and doc["guard"]["verdict"] == "refused"
    assert policy in cloud.grants, "the addition went ahead"
    assert not _removed(cloud, before - {policy}), "the mass revocation was held"


def test_all_or_nothing_refuses_the_whole_plan(repo, cloud, capsys):
    _mass_revocation(repo, cloud)
    policy = next(g for g in cloud.grants if g.entitlement == POLICY)
    cloud.grants.discard(policy)
    res = repo.run("apply", "--all-or-nothing", capsys=capsys)
    assert res.code == 1 and "all-or-nothing" in res.err
    assert policy not in cloud.grants


def test_allow_mass_revoke_is_the_override(repo, cloud, capsys):
    before = _mass_revocation(repo, cloud)
    assert repo.run("apply", "--allow-mass-revoke", capsys=capsys).code == 0
    assert len(_removed(cloud, before)) >= 5
