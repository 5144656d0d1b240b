"""Reconcile's bookkeeping on an in-memory cloud: drift kinds, fix then
verify, modes, shards. Scenarios on the loopback emulators live in
test_scheduled_jobs.py."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest

from tests.conftest import PROJECT
from fakes.memory import MemoryCloud

from tools.core.model import Grant
from tools.core.orgmodel import load
from tools.core.repo import Tree
from tools.jobs.reconcile import Shard
from tools.provision.apply import build_plan, execute

NOW = datetime.fromisoformat("2026-11-22T12:00:00+00:00")


@pytest.fixture
def cloud(repo, monkeypatch):
    cloud = MemoryCloud()
    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    planned = build_plan(repo.root, NOW, factory=cloud.connector)
    execute(planned.plan, planned.connectors)
    return cloud


def _one(cloud, kind):
    return next(g for g in cloud.grants if g.kind == kind)


def test_clean_cloud_reports_no_drift(repo, cloud, capsys):
    res = repo.run("reconcile", "--format", "json", capsys=capsys)
    assert res.code == 0
    assert json.loads(res.out)["drift"] == []


def test_console_grant_missing_grant_and_stripped_expiry_are_reported_then_fixed(repo, cloud, capsys):
    console_grant = Grant("aws", "111111111111", "user:heidi@acme.example", "aws-iam-group", "developers")
    cloud.grants.add(console_grant)
    deleted = _one(cloud, "aws-sso-assignment")
    cloud.grants.discard(deleted)
    binding = _one(cloud, "gcp-project-role")
    cloud.grants.discard(binding)
    cloud.grants.add(replace(binding, expires=None, request=None))

    res = repo.run("reconcile", "--format", "json", capsys=capsys)
    assert res.code == 1
    drift = {(d["kind"], d["principal"], d["target"]) for d in json.loads(res.out)["drift"]}
    assert drift == {("extra", "user:heidi@acme.example", "developers"),
                     ("missing", deleted.principal, deleted.entitlement),
                     ("changed", binding.principal, binding.entitlement)}

    res = repo.run("reconcile", "--mode", "fix", "--format", "json", capsys=capsys)
    assert res.code == 0, res.out
    doc = json.loads(res.out)
    assert {d["outcome"] for d in doc["drift"]} == {"fixed"}
    assert doc["summary"]["remaining_after_fix"] == 0
    assert console_grant not in cloud.grants and deleted in cloud.grants and binding in cloud.grants
    assert repo.run("reconcile", capsys=capsys).code == 0


def test_additive_target_restores_but_only_reports_extra(repo, cloud, capsys):
    extra = Grant("aws", "012345678901", "user:heidi@acme.example", "aws-sso-assignment", "ReadOnly")
    cloud.grants.add(extra)
    res = repo.run("reconcile", "--mode", "fix", "--format", "json", capsys=capsys)
    doc = json.loads(res.out)
    assert extra in cloud.grants
    assert doc["drift"][0]["outcome"].startswith("held: acme-payments is additive")


def test_report_mode_changes_nothing(repo, cloud, capsys):
    cloud.grants.add(Grant("aws", "111111111111", "user:heidi@acme.example", "aws-iam-group", "developers"))
    before = set(cloud.grants)
    assert repo.run("reconcile", capsys=capsys).code == 1
    assert cloud.grants == before


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_shards_cover_every_target_exactly_once(repo, n):
    targets = list(load(Tree(repo.root)).targets.values())
    owners = [[i for i in range(1, n + 1) if Shard(i, n).owns(t)] for t in targets]
    assert all(len(o) == 1 for o in owners)


def test_shard_reads_only_its_targets(repo, cloud, capsys):
    cloud.reads.clear()
    for i in (1, 2, 3):
        repo.run("reconcile", "--shard", f"{i}/3", capsys=capsys)
    assert sorted(cloud.reads) == sorted({t.id for t in load(Tree(repo.root)).targets.values()})


def test_bad_shard_is_a_usage_error(repo, capsys):
    res = repo.run("reconcile", "--shard", "4/3", capsys=capsys)
    assert res.code == 2 and "--shard" in res.err


def test_shards_publish_one_drift_issue_for_the_whole_run(repo, cloud, capsys, monkeypatch, tmp_path):
    from tools.sandbox.github import FakeGitHub

    cloud.grants.add(Grant("aws", "111111111111", "user:heidi@acme.example", "aws-iam-group", "developers"))
    cloud.grants.add(Grant("gcp", "acme-data-dev", "user:frank@acme.example", "gcp-project-role",
                           "roles/bigquery.dataViewer"))
    outputs = []
    for i in (1, 2, 3):
        res = repo.run("reconcile", "--shard", f"{i}/3", "--no-issue", "--format", "json", capsys=capsys)
        outputs.append(tmp_path / f"reconcile-{i}.json")
        outputs[-1].write_text(res.out)
    with FakeGitHub() as gh:
        # the drift-issue job's own GITHUB_TOKEN, with the permissions reconcile.yml gives it
        token = gh.workflow_token(PROJECT / ".github/workflows/reconcile.yml", "drift-issue")
        for k, v in {"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.full_name, "GITHUB_TOKEN": token}.items():
            monkeypatch.setenv(k, v)
        assert gh.issues == {}, "shards with --no-issue write nothing"
        res = repo.run("reconcile", "--publish", *map(str, outputs), "--format", "json", capsys=capsys)
        assert res.code == 0, res.err
        [(number, issue)] = gh.issues.items()
        assert issue["state"] == "open" and json.loads(res.out)["issue"] == number
        assert "heidi@acme.example" in issue["body"] and "frank@acme.example" in issue["body"]
        assert "2 drifted grant(s)" in issue["body"]
        clean = tmp_path / "clean.json"
        clean.write_text(json.dumps({"drift": [], "summary": {"targets": 7}, "mode": "fix"}))
        repo.run("reconcile", "--publish", str(clean), capsys=capsys)
        assert list(gh.issues) == [number] and gh.issues[number]["state"] == "closed"


def test_publish_refuses_what_is_not_reconcile_output(repo, capsys, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    res = repo.run("reconcile", "--publish", str(bad), capsys=capsys)
    assert res.code == 2 and "x.json" in res.err and "Traceback" not in res.err
