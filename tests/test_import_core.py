"""`accessctl import` round trip on an in-memory cloud: adopt, keep, and
refuse to validate until an owner answers for the access."""
from __future__ import annotations

import json

import pytest
from fakes.memory import MemoryCloud

from tools.core.model import Grant


@pytest.fixture
def cloud(repo, monkeypatch):
    cloud = MemoryCloud()
    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    cloud.grants |= {
        Grant("gcp", "acme-data-dev", "user:frank@acme.example", "gcp-project-role", "roles/bigquery.dataViewer"),
        Grant("gcp", "acme-data-dev", "user:frank@acme.example", "gcp-project-role", "roles/storage.objectViewer"),
        Grant("gcp", "acme-data-dev", "group:data", "gcp-project-role", "roles/bigquery.dataEditor"),
        Grant("gcp", "acme-data-dev", "serviceAccount:acme-data-dev/legacy-loader", "gcp-service-account",
              "legacy-loader", None, None, (("owner", "data"),)),
        Grant("gcp", "acme-data-dev", "user:stranger@gmail.com", "gcp-project-role", "roles/bigquery.dataViewer"),
    }
    return cloud


def test_import_then_plan_gives_no_changes_for_adopted_access(repo, cloud, capsys):
    res = repo.run("import", "--provider", "gcp", "--target", "acme-data-dev", "--format", "json", capsys=capsys)
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert sorted(doc["written"]) == ["requests/gcp/acme-data-dev/imported-data.yaml",
                                      "requests/gcp/acme-data-dev/imported-frank.yaml",
                                      "requests/gcp/acme-data-dev/legacy-loader.yaml"]
    assert [s["principal"] for s in doc["skipped"]] == ["user:stranger@gmail.com"]
    frank = repo.read("requests/gcp/acme-data-dev/imported-frank.yaml")
    assert "imported: true" in frank and "roles/storage.objectViewer" in frank

    plan = json.loads(repo.run("plan", "--provider", "gcp", "--format", "json", capsys=capsys).out)
    dev = [c for c in plan["changes"] if c.get("project") == "acme-data-dev"
           and c["principal"] != "serviceAccount:acme-data-dev/etl-triage-agent"]  # that sample: not applied here
    # only the stranger, who cannot be adopted, would be removed
    assert [(c["action"], c["principal"]) for c in dev] == [("remove", "user:stranger@gmail.com")]


def test_imported_files_fail_validation_saying_exactly_what_is_missing(repo, cloud, capsys):
    repo.run("import", "--provider", "gcp", capsys=capsys)
    res = repo.run("validate", "requests/gcp/acme-data-dev/imported-frank.yaml", capsys=capsys)
    assert res.code == 1
    assert "imported-frank.yaml" in res.out and "requester, justification, expires missing" in res.out
    sa = repo.run("validate", "requests/gcp/acme-data-dev/legacy-loader.yaml", capsys=capsys)
    assert "requester, purpose, expires missing" in sa.out  # its owner was read from the cloud


def test_filled_in_import_validates_and_gains_an_expiry(repo, cloud, capsys):
    repo.run("import", "--provider", "gcp", "--target", "acme-data-dev", capsys=capsys)
    path = "requests/gcp/acme-data-dev/imported-frank.yaml"
    repo.write(path, repo.read(path) + "requester: frank-acme\n"
               "justification: Frank maintains the dev data pipelines and their test tables.\n"
               "expires: '2027-01-15'\n")
    assert repo.run("validate", path, capsys=capsys).code == 0
    plan = json.loads(repo.run("plan", "--provider", "gcp", "--format", "json", capsys=capsys).out)
    frank = [c for c in plan["changes"] if c["principal"] == "user:frank@acme.example"]
    # GCP enforces expiry itself: filling it in means adding the condition
    assert {c["action"] for c in frank} == {"update"}
    assert all(c["expires"] == "2027-01-15T00:00:00Z" for c in frank)


def test_import_of_unknown_target_is_a_usage_error(repo, cloud, capsys):
    res = repo.run("import", "--provider", "gcp", "--target", "nope", capsys=capsys)
    assert res.code == 2 and "nope" in res.err
