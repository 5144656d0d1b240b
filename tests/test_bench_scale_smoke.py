"""The scale benchmark at tiny scale: proves in CI that bench/scale.py still
runs end to end on the emulators and that what it reports is true (the
applies converge, --since reads one target, reconcile finds and fixes the
injected drift with one read pass per target)."""
from __future__ import annotations

import pytest

from bench import scale

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    return scale.run(requests=100, accounts=3, projects=3, people=60, teams=6, cold_targets=2,
                     workdir=tmp_path_factory.mktemp("scale"))


def test_every_stage_reports_time_calls_and_memory(figures):
    assert figures["requests"] == 100
    for name in ("plan", "apply_cold", "apply_since", "reconcile"):
        stage = figures["stages"][name]
        for side in ("ours", "baseline_figures"):
            assert stage[side]["seconds"] > 0
            assert stage[side]["api_calls"] > 0
            assert stage[side]["peak_rss_mb"] > 50


def test_cold_apply_converges_for_both_approaches(figures):
    cold = figures["stages"]["apply_cold"]
    assert cold["failed"] == 0
    assert cold["changes"] > 20
    assert cold["left_after"] == 0
    assert cold["baseline_writes"] == cold["adds"] == cold["changes"]
    assert cold["baseline_left_after"] == 0


def test_apply_since_reads_only_the_merged_files_target(figures):
    since = figures["stages"]["apply_since"]
    assert since["targets_read"] == 1 and since["adds"] == since["changes"] == 1
    # getIamPolicy, setIamPolicy, service-account listing, the integrations' secret listing, and per pipeline
    # service account its keys and its own policy (owned whole: GCP has no batch read for those)
    accounts = figures["stages"]["plan"]["gcp_service_accounts"]
    assert since["ours"]["api_calls"] <= 5 + 2 * accounts
    assert since["baseline_targets_read"] == 6 and since["baseline_changes"] == 1


def test_plan_reads_each_target_once_not_each_grant(figures):
    plan = figures["stages"]["plan"]
    assert plan["changes"] == 0 and plan["baseline_missing"] == 0
    assert plan["live_grants"] >= 100
    # one getIamPolicy and one account listing per project, one secret listing per project holding pipeline
    # accounts, and each pipeline account's keys and own policy (owned whole)
    assert plan["ours"]["gcp_calls"] == 3 * 2 + plan["gcp_projects_with_accounts"] + 2 * plan["gcp_service_accounts"]
    assert plan["baseline_figures"]["api_calls"] > plan["ours"]["api_calls"]


def test_reconcile_finds_and_fixes_the_injected_drift(figures):
    rec = figures["stages"]["reconcile"]
    assert rec["drift_found"] == sum(rec["injected"].values())
    assert rec["fixed"] == rec["drift_found"] and rec["left_after"] == 0
    # per-grant reads cannot see access nobody requested
    assert rec["baseline_left_after"] >= rec["injected"]["extra"] > 0


def test_main_returns_the_runner_contract(monkeypatch, figures):
    monkeypatch.setattr(scale, "run", lambda *a, **k: figures)
    out = scale.main(requests=100)
    assert out["title"] == "Plan, apply and reconcile at scale"
    assert "| plan, whole state |" in out["markdown"] and "| reconcile" in out["markdown"]
    assert out["figures"] is figures
