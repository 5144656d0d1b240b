"""The audit report's revocation log: who lost what, when, by which job and
run, and why, read from the durable record (not from the local journal and
not from git), so an auditor's fresh clone shows every job's revocations."""
from __future__ import annotations

import json
import re

from conftest import git
from jobs_world import clone, push, run_json, world  # noqa: F401 (fixtures)

BOB = "requests/aws/acme-dev/bob-developer.yaml"


def _revoke_three_ways(repo, sb, capsys, monkeypatch) -> None:
    # drift fix: access granted by hand in the console, removed by reconcile
    sb.aws.client("iam", "111111111111").add_user_to_group(GroupName="developers", UserName="heidi@acme.example")
    assert run_json(repo, capsys, "reconcile", "--mode", "fix", "--no-issue")[0] == 0
    # removal: bob's request file leaves main, apply revokes it
    (repo.root / BOB).unlink()
    repo.commit("bob no longer needs dev access")
    push(repo)
    assert run_json(repo, capsys, "apply")[0] == 0
    # expiry: carol's request ends on 2026-12-15
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-16T00:00:00Z")
    assert run_json(repo, capsys, "expire", "--no-github")[0] == 0


def test_the_html_report_lists_every_jobs_revocations_from_the_durable_record(world, capsys, monkeypatch, tmp_path):
    repo, sb = world
    _revoke_three_ways(repo, sb, capsys, monkeypatch)
    auditor = clone(repo.root.parent / "origin.git", tmp_path / "auditor")  # no .accessctl/ at all
    out = tmp_path / "report.html"
    res = auditor.run("audit", "report", "--format", "html", "--output", str(out), capsys=capsys)
    assert res.code == 0, res.err
    page = out.read_text()
    section = page[page.index('<section id="revocations">'):page.index('<section id="controls">')]
    rows = re.findall(r"<tr>(.*?)</tr>", section[section.index("<tbody>"):])
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]

    def row(principal: str, what: str) -> list[str]:
        found = [c for c in cells if c[1] == principal and what in c[3]]
        assert found, f"no revocation of {principal} {what} in {cells}"
        return found[0]

    heidi = row("user:heidi@acme.example", "aws-iam-group developers")
    assert heidi[4] == "drift fix" and heidi[6].startswith("reconcile run") and heidi[7] == "revoked"
    assert heidi[2] == "aws/acme-dev"
    bob = row("user:bob@acme.example", "aws-iam-group developers")
    assert bob[4] == "request removed" and bob[6].startswith("apply run")
    carol = row("user:carol@acme.example", "aws-sso-assignment PowerUser")
    assert carol[4] == "expiry" and "expired 2026-12-15" in carol[5] and carol[6].startswith("expire run")
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", carol[0])
    times = [c[0] for c in cells]
    assert times == sorted(times, reverse=True), "newest first"

    res = auditor.run("audit", "report", "--format", "json", capsys=capsys)
    log = json.loads(res.out)["revocations"]
    assert {(r["principal"], r["cause"], r["job"]) for r in log} >= {
        ("user:heidi@acme.example", "drift fix", "reconcile"),
        ("user:bob@acme.example", "request removed", "apply"),
        ("user:carol@acme.example", "expiry", "expire")}
    assert all(r["run"] and r["outcome"] == "revoked" for r in log)


def test_without_any_revocation_the_log_says_so(world, capsys, tmp_path):
    repo, _ = world
    res = repo.run("audit", "report", "--format", "html", capsys=capsys)
    section = res.out[res.out.index('<section id="revocations">'):res.out.index('<section id="controls">')]
    assert "No revocation in the durable record" in section
    assert git(repo.root, "rev-parse", "--verify", "refs/remotes/origin/accessctl-record").strip()
