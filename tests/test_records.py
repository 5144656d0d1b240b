"""The apply record: what `accessctl apply` writes, and the PR summary read
back from it. Clouds are the in-memory fake; GitHub is the loopback fake
driven through real PyGithub."""
from __future__ import annotations

import json

import pytest
from fakes.memory import MemoryCloud

from tools.provision import record as records
from tools.sandbox.github import FakeGitHub

RECORD = ".accessctl/apply-record.jsonl"


@pytest.fixture
def cloud(monkeypatch):
    cloud = MemoryCloud()
    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    return cloud


def _lines(repo, path=RECORD, phase="result"):
    """The record's lines of one phase: each change has an ``attempt`` line,
    written before the cloud call, and a ``result`` line right after it."""
    return [obj for obj in map(json.loads, repo.read(path).splitlines()) if obj.get("phase") == phase]


def test_apply_records_one_line_per_change_with_commit_pr_and_unknown_approvers(repo, cloud, capsys):
    head = repo.commit("Grant the samples (#12)")
    res = repo.run("apply", "--format", "json", capsys=capsys)
    assert res.code == 0, res.err
    applied = json.loads(res.out)["results"]
    lines = _lines(repo)
    assert len(lines) == len(applied) == len(cloud.grants) > 0
    erin = next(line for line in lines if line["grant"]["principal"] == "user:erin@acme.example")
    assert erin["request"] == "requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml"
    assert erin["commit"] == head and erin["pr"] == 12
    assert erin["approvers"] is None  # no GitHub context: unknown, never guessed
    assert erin["result"] == {"ok": True, "error": None, "calls": 1}
    assert erin["time"] == "2026-11-22T12:00:00Z" and erin["action"] == "add"
    assert {line["run"] for line in lines} == {head}
    attempts = _lines(repo, phase="attempt")
    assert [a["grant"] for a in attempts] == [line["grant"] for line in lines]
    assert all(a["result"] is None for a in attempts)


def test_second_apply_appends_nothing_and_dry_run_writes_nothing(repo, cloud, capsys):
    assert repo.run("apply", "--dry-run", capsys=capsys).code == 0
    assert not (repo.root / RECORD).exists()
    assert repo.run("apply", capsys=capsys).code == 0
    first = repo.read(RECORD)
    assert repo.run("apply", capsys=capsys).code == 0  # converged: nothing to apply, nothing to record
    assert repo.read(RECORD) == first


def test_failed_change_is_recorded_with_its_error_and_custom_path(repo, cloud, capsys, tmp_path):
    cloud.fail.add("user:bob@acme.example")
    out = tmp_path / "artifacts" / "record.jsonl"
    res = repo.run("apply", "--record", str(out), capsys=capsys)
    assert res.code == 1
    bob = [json.loads(line) for line in out.read_text().splitlines()
           if json.loads(line)["grant"]["principal"] == "user:bob@acme.example"
           and json.loads(line)["phase"] == "result"]
    assert len(bob) == 2 and all(b["result"] == {"ok": False, "error": "AccessDenied", "calls": 0} for b in bob)
    summary = repo.run("audit", "summary", "--record", str(out), capsys=capsys)
    assert summary.code == 1
    assert "2 failed" in summary.out and "❌ AccessDenied" in summary.out


def test_merge_commit_subject_gives_the_pr_number():
    assert records.pr_from_subject("Merge pull request #7 from acme/erin-viewer") == 7
    assert records.pr_from_subject("Grant erin BigQuery viewer (#41)") == 41
    assert records.pr_from_subject("Fix typo in #3 description") is None


@pytest.fixture
def github(monkeypatch):
    gh = FakeGitHub(org="acme", repo="access").start()
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/access")
    monkeypatch.setenv("GITHUB_TOKEN", "x")
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    yield gh
    gh.stop()


def test_approvers_come_from_the_prs_reviews_last_word_per_reviewer(repo, cloud, github, capsys, tmp_path,
                                                                    monkeypatch):
    n = github.add_pr("erin-acme", [("requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml", "added")])
    github.add_review(n, "dave-acme", "APPROVED")
    github.add_review(n, "ivan-acme", "APPROVED")
    github.add_review(n, "ivan-acme", "CHANGES_REQUESTED")  # ivan withdrew his approval
    github.add_review(n, "judy-acme", "COMMENTED")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": n}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert repo.run("apply", capsys=capsys).code == 0
    lines = _lines(repo)
    assert {tuple(line["approvers"]) for line in lines} == {("dave-acme",)}
    assert {line["pr"] for line in lines} == {n}

    res = repo.run("audit", "summary", "--comment", capsys=capsys)
    assert res.code == 0
    comments = github.pr_comments(n)
    assert len(comments) == 1
    assert f"(PR #{n}); approvers: dave-acme" in comments[0]["body"]
    assert "user:erin@acme.example" in comments[0]["body"]


def test_github_outage_leaves_approvers_unknown_but_records_the_apply(repo, cloud, github, capsys):
    repo.commit("Grant the samples (#3)")
    github.stop()  # the API is unreachable: the apply happened and must still be recorded
    assert repo.run("apply", capsys=capsys).code == 0
    lines = _lines(repo)
    assert lines and all(line["approvers"] is None and line["pr"] == 3 for line in lines)


def test_damaged_record_is_an_error_naming_the_line(repo, capsys):
    repo.write(RECORD, '{"time": "2026-11-01T00:00:00Z", "action": "add", "grant": {}}\nnot json\n')
    res = repo.run_process("audit", "who-has", "acme-dev")
    assert res.code == 1
    assert f"{RECORD}:2: not an apply record line" in res.err and "Traceback" not in res.err


def test_summary_without_a_record_says_where_it_looked(repo, capsys):
    res = repo.run("audit", "summary", capsys=capsys)
    assert res.code == 2 and "no apply record at" in res.err
