"""Invariant: every write is recorded as it happens, by every writer, in the
durable record (the ``accessctl-record`` branch); a GitHub failure after the
clouds changed never hides what changed."""
from __future__ import annotations

import json

import pytest
from conftest import git
from fakes.memory import MemoryCloud

from tools.provision import durable
from tools.provision import record as records
from tools.sandbox.aws import SimulatedCrash
from jobs_world import group_members, push, run_json, world  # noqa: F401

RECORD = ".accessctl/apply-record.jsonl"


def _durable(root):
    return [json.loads(line) for line in durable.lines(root)]


def test_a_crash_during_a_call_leaves_an_attempt_and_the_next_run_converges(repo, monkeypatch, capsys):
    cloud = MemoryCloud()
    calls = {"n": 0}

    def crashing(provider, org):
        conn = cloud.connector(provider, org)
        real = conn.apply

        def apply(target, changes):
            calls["n"] += 1
            if calls["n"] == 2:
                raise SimulatedCrash("kill -9 during the second target's batch")
            return real(target, changes)
        conn.apply = apply
        return conn

    monkeypatch.setattr("tools.provision.apply.connector_for", crashing)
    with pytest.raises(SimulatedCrash):
        repo.run("apply", capsys=capsys)
    local = [json.loads(line) for line in repo.read(RECORD).splitlines()]
    assert [o["phase"] for o in local].count("attempt") > [o["phase"] for o in local].count("result") > 0
    unknown = [r for r in records.read(repo.root / RECORD) if r.error == records.UNKNOWN_OUTCOME]
    assert unknown, "the interrupted batch is visible as an outcome unknown"
    assert {o["id"] for o in _durable(repo.root)} == {o["id"] for o in local}, \
        "even a crashed run reaches the durable record"

    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    assert repo.run("apply", capsys=capsys).code == 0
    code, doc = run_json(repo, capsys, "plan")
    assert doc["changes"] == [], "the next run repaired the crash"


def test_reconcile_fix_and_expire_revocations_are_in_the_durable_record(world, capsys, monkeypatch):
    repo, sb = world
    sb.aws.client("iam", "111111111111").add_user_to_group(GroupName="developers", UserName="heidi@acme.example")
    code, doc = run_json(repo, capsys, "reconcile", "--mode", "fix", "--no-issue")
    assert code == 0, doc
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-16T00:00:00Z")  # carol's request has expired
    code, doc = run_json(repo, capsys, "expire", "--no-github")
    assert code == 0, doc
    lines = [o for o in _durable(repo.root) if o["phase"] == "result"]
    jobs = {(o["job"], o["action"], o["grant"]["principal"]) for o in lines}
    assert ("reconcile", "remove", "user:heidi@acme.example") in jobs
    assert ("expire", "remove", "user:carol@acme.example") in jobs
    # pushed to origin, readable by any later job and by audit
    assert git(repo.root.parent / "origin.git", "rev-parse", "--verify", durable.LOCAL_REF).strip()
    code, hist = run_json(repo, capsys, "audit", "history", "user:carol@acme.example")
    assert "remove" in json.dumps(hist), "audit history shows the expiry revocation"


def test_github_outage_after_the_clouds_changed_still_lists_every_change(world, capsys, monkeypatch):
    repo, sb = world
    sb.aws.client("iam", "111111111111").add_user_to_group(GroupName="developers", UserName="heidi@acme.example")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # nothing listens: GitHub is down
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/access")
    monkeypatch.setenv("GITHUB_TOKEN", "expired")
    code, doc = run_json(repo, capsys, "reconcile", "--mode", "fix")
    assert code == 1
    assert [(d["principal"], d["outcome"]) for d in doc["drift"]] == [("user:heidi@acme.example", "fixed")]
    assert "heidi@acme.example" not in group_members(sb, "111111111111", "developers")

    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-16T00:00:00Z")
    code, doc = run_json(repo, capsys, "expire")
    assert code == 1 and any("GitHub" in e for e in doc["errors"])
    assert [(r["principal"], r["ok"]) for r in doc["revoked"]] == [("user:carol@acme.example", True)]
