"""Apply orchestration against an in-memory connector (our own interface,
not an SDK): batching per target, gathered failures, --since, dry run.
The real connectors are tested against loopback clouds in their own files."""
from __future__ import annotations

from datetime import datetime

from fakes.memory import MemoryCloud

from tools.provision.apply import build_plan, execute

NOW = datetime.fromisoformat("2026-11-22T12:00:00+00:00")


def test_apply_converges_and_second_run_is_empty(repo):
    cloud = MemoryCloud()
    first = build_plan(repo.root, NOW, factory=cloud.connector)
    assert first.plan.changes, "samples should need changes on an empty cloud"
    results = execute(first.plan, first.connectors)
    assert all(r.ok for r in results)
    # one batch per target, however many changes it holds
    assert len(cloud.batches) == len({t for t, _ in cloud.batches})
    second = build_plan(repo.root, NOW, factory=cloud.connector)
    assert second.plan.changes == []


def test_failures_are_gathered_not_fatal(repo):
    cloud = MemoryCloud()
    cloud.fail.add("user:bob@acme.example")
    planned = build_plan(repo.root, NOW, factory=cloud.connector)
    results = execute(planned.plan, planned.connectors)
    failed = [r for r in results if not r.ok]
    assert failed and all(r.change.grant.principal == "user:bob@acme.example" for r in failed)
    assert any(r.ok for r in results), "other changes still applied"


def test_dry_run_never_reaches_the_connector(repo):
    cloud = MemoryCloud()
    planned = build_plan(repo.root, NOW, factory=cloud.connector)
    execute(planned.plan, planned.connectors, dry_run=True)
    assert cloud.batches == [] and cloud.grants == set()


def test_since_reads_and_writes_only_changed_targets(repo):
    cloud = MemoryCloud()
    planned = build_plan(repo.root, NOW, factory=cloud.connector)
    execute(planned.plan, planned.connectors)
    before = repo.commit("applied")
    repo.write("requests/aws/acme-prod/judy-readonly.yaml", (repo.root / "requests/aws/acme-prod/sre-readonly.yaml")
               .read_text().replace("group:sre", "user:judy@acme.example").replace("niaj-acme", "judy-acme"))
    repo.commit("judy asks for prod read-only")
    cloud.reads.clear(), cloud.batches.clear()
    planned = build_plan(repo.root, NOW, since=before, factory=cloud.connector)
    execute(planned.plan, planned.connectors)
    assert cloud.reads == ["333333333333"]
    assert cloud.batches == [("333333333333", 1)]


def test_org_model_change_widens_since_to_every_target(repo):
    cloud = MemoryCloud()
    before = repo.commit("base")
    people = repo.read("policies/data/people.yaml").replace("name: Bob Okafor,      active: true",
                                                             "name: Bob Okafor,      active: false")
    repo.write("policies/data/people.yaml", people)
    repo.commit("bob leaves")
    build_plan(repo.root, NOW, since=before, factory=cloud.connector)
    assert len(cloud.reads) == 7


def test_plan_cli_json_contract(repo, capsys, monkeypatch):
    cloud = MemoryCloud()
    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    import json
    res = repo.run("plan", "--format", "json", capsys=capsys)
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert set(doc) >= {"changes", "summary"}
    change = next(c for c in doc["changes"] if c["provider"] == "gcp")
    assert {"action", "provider", "kind", "project", "principal", "target", "request"} <= set(change)
    aws = next(c for c in doc["changes"] if c["provider"] == "aws")
    assert "account" in aws and len(aws["account"]) == 12


def test_since_an_all_zero_or_unknown_commit_means_every_target(repo):
    # GitHub sends before=0000… on a branch's first push
    for since in ("0" * 40, "deadbeef"):
        cloud = MemoryCloud()
        build_plan(repo.root, NOW, since=since, factory=cloud.connector)
        assert len(cloud.reads) == 7


def test_since_loads_the_folder_of_a_service_account_defined_elsewhere(repo):
    """--since reads only the touched folders, plus the folders of the
    service accounts their requests name: a grant to an identity defined in
    another project must still be applied, not dropped as undefined."""
    cloud = MemoryCloud()
    before = repo.commit("base")
    repo.write("requests/gcp/acme-data-dev/etl-runner-dev-viewer.yaml", """apiVersion: accessctl/v1
kind: AccessRequest
principal: serviceAccount:acme-data-prod/etl-runner
requester: dave-acme
justification: The nightly ETL compares prod tables with the dev copies it reads.
expires: "2026-12-20"
grants:
  - kind: gcp-project-role
    project: acme-data-dev
    role: roles/bigquery.dataViewer
""")
    repo.commit("etl-runner reads dev")
    planned = build_plan(repo.root, NOW, since=before, factory=cloud.connector)
    assert cloud.reads == ["acme-data-dev"]
    assert [(c.action.value, c.grant.principal) for c in planned.plan.changes
            if c.grant.principal != "serviceAccount:acme-data-dev/etl-triage-agent"] == [  # that sample: not applied here
        ("add", "serviceAccount:acme-data-prod/etl-runner")]
