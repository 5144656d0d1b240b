"""The audit shows agents and integrations: owner, vendor, key age, last
rotation (from the durable record: the runs that issued each key) and expiry,
with the OWASP NHI items their controls address."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jobs_world import run_json, world  # noqa: F401


def test_report_and_history_follow_the_integrations_key_through_a_rotation(world, capsys, monkeypatch):
    repo, sb = world
    code, report = run_json(repo, capsys, "audit", "report")
    rows = {n["principal"]: n for n in report["non_human"]}
    pd = rows["serviceAccount:acme-prod/pagerduty-sync"]
    issued = datetime.fromisoformat(pd["last_rotation"].replace("Z", "+00:00"))
    assert (pd["owner"], pd["vendor"], pd["use"], pd["expires"]) == ("sre", "PagerDuty", "integration",
                                                                     "2027-02-01T00:00:00Z")
    assert "NHI3:2025 Vulnerable Third-Party NHI" in pd["owasp_nhi_2025"]
    agent = rows["serviceAccount:acme-dev/triage-agent"]
    assert agent["key"] == "none (never a key)" and "NHI10:2025 Human Use of NHI" in agent["owasp_nhi_2025"]
    assert {"S10", "S11"} <= {s["id"] for s in report["safeguards"]}

    later = datetime.now(timezone.utc) + timedelta(days=31)
    monkeypatch.setenv("ACCESSCTL_NOW", later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    code, done = run_json(repo, capsys, "expire", "--no-github")
    assert code == 0, done
    assert sorted(r["principal"] for r in done["rotated"]) == ["serviceAccount:acme-data-prod/fivetran-loader",
                                                               "serviceAccount:acme-prod/pagerduty-sync"]
    code, history = run_json(repo, capsys, "audit", "history", "serviceAccount:acme-prod/pagerduty-sync")
    identity = history["identity"]
    rotated = datetime.fromisoformat(identity["last_rotation"].replace("Z", "+00:00"))
    assert rotated > issued + timedelta(days=30) and identity["key_age_days"] == 0
    assert identity["vendor"] == "PagerDuty" and identity["owner"] == "sre"
    assert any("rotat" in e["detail"] or "update" in e["detail"] for e in history["events"])
