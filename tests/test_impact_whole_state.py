"""The impact analysis of a rules change (`evaluate --rules`, the PR's
"Effect on existing access") judges every request file on main exactly as
evaluating that file alone under each rule set does.

The analysis takes the fast whole-state path: every file in one run, the
inputs built from one state index, decided on several worker processes.
Here a small synthetic organisation (bench/synth.py) gets a rules change of
each kind the section reports (people deactivated, a tier's maximum
lowered, a role removed from the catalog, a waiver) and each file's flip,
and the violations it gains, must equal a per-file evaluation with a fresh
engine for each rule set.
"""
from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.synth import generate
from tools.core import orgmodel
from tools.core.repo import Tree
from tools.policy import parallel
from tools.policy.engines import RegorusEngine, load_bundle
from tools.policy.evaluate import evaluate_files
from tools.request import load, validate
from tools.review.impact import ALLOWED, DENIED, analyse, read_state

FILES = 90
NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
SENSITIVE = ("PowerUser", "DeployProd", "ApproveDeploys", '"billing"', "AmazonS3FullAccess", "dataEditor",
             "run.developer")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@acme.example", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def rules_change(root: Path, synth) -> None:
    """Deactivate three people who hold requests, lower the sensitive
    tier's maximum, take a role out of the catalog, waive one file."""
    principals = []
    for path in synth.access_requests:
        m = re.search(r"^principal: user:(\S+)$", (root / path).read_text(), re.M)
        if m and m.group(1) not in principals:
            principals.append(m.group(1))
    people = root / "policies/data/people.yaml"
    text = people.read_text()
    for email in principals[:3]:
        text = re.sub(rf"(email: {re.escape(email)},[^\n]*)active: true", r"\1active: false", text)
    people.write_text(text)
    tiers = root / "policies/data/tiers.yaml"
    tiers.write_text(tiers.read_text().replace("max_hours: 720 ", "max_hours: 300 ", 1))
    catalog = root / "policies/data/catalog.yaml"
    catalog.write_text("\n".join(line for line in catalog.read_text().splitlines()
                                 if "roles/logging.viewer" not in line) + "\n")
    sensitive = waived_file(root, synth)
    (root / "policies/data/waivers.yaml").write_text(
        "waivers:\n  - rule: expiry-too-long\n    file: " + sensitive + "\n    owner: team-00\n"
        "    expires: \"2026-12-20T00:00:00Z\"\n    reason: Migration window agreed with the owners.\n")
    git(root, "commit", "-qam", "rules change")


def waived_file(root: Path, synth) -> str:
    """A sensitive-tier request lasting past the lowered maximum (300 hours)."""
    for path in synth.access_requests:
        text = (root / path).read_text()
        m = re.search(r'^expires: "(\d{4}-\d{2}-\d{2})"', text, re.M)
        if any(role in text for role in SENSITIVE) and m and \
                datetime.fromisoformat(m.group(1)).replace(tzinfo=timezone.utc) > NOW + timedelta(hours=320):
            return path
    raise AssertionError("no sensitive request lasts past 300 hours")


def per_file(root: Path, rules: str, state: str, files: list[load.RequestFile]) -> dict[str, tuple[bool, set, set]]:
    """{path: (allowed, problem rule ids, waived rule ids)}: each file decided alone, with a
    fresh engine for ``rules``, plus validation under that org model."""
    org = orgmodel.load(Tree(root, rules))
    engine = RegorusEngine(load_bundle(Tree(root, rules), org))
    checked = [load.read(Tree(root, state), rf.path) for rf in files]
    validate.validate(checked, org, NOW)
    found = {rf.path: {f.rule for f in rf.findings if f.rule != validate.INCOMPLETE_IMPORT} for rf in checked}
    out = {}
    for rf in files:
        d = evaluate_files(root, [rf.path], base_ref=rules, now=NOW, engine=engine, head_ref=state,
                           state_ref=state, workers=1).decisions[0]
        rules_hit = {v["rule"] for v in d.violations} | found[rf.path]
        out[rf.path] = (d.allow and not found[rf.path], rules_hit, {w["rule"] for w in d.waived})
    return out


def test_impact_equals_per_file_evaluation_under_base_and_head_rules(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PER_WORKER", 10)  # the whole-state side runs on several workers
    root = tmp_path / "org"
    synth = generate(root, FILES, seed=5, people=240, teams=6, accounts=4, projects=4)
    main = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-qb", "rules")
    rules_change(root, synth)
    head = git(root, "rev-parse", "HEAD")

    impact = analyse(root, main, head, main, NOW)
    assert not impact.errors and impact.evaluated == FILES

    files = read_state(root, main)
    before = per_file(root, main, main, files)
    after = per_file(root, head, main, files)
    expected = {p: (before[p], after[p]) for p in before if before[p][0] != after[p][0]}
    got = {c.file: c for c in impact.changes}
    assert set(got) == set(expected)
    for path, ((was, old, _), (now, new, _)) in expected.items():
        change = got[path]
        assert (change.before, change.after) == (ALLOWED if was else DENIED, ALLOWED if now else DENIED)
        assert {p["rule"] for p in change.new} == new - old, path
    # The change reaches every kind it was made of: the test cannot pass on an empty impact.
    new_rules = {p["rule"] for c in impact.changes for p in c.new}
    assert {"principal-unknown", "expiry-too-long", "catalog-not-requestable"} <= new_rules, new_rules
    # The waiver reaches the whole-state path: the policy waives the file's
    # too-long expiry on both paths, and validation sets its own finding of
    # the same rule aside, so the file stays allowed and keeps its grants.
    waived = waived_file(root, synth)
    assert after[waived][2] == {"expiry-too-long"} and after[waived][0], after[waived]
    assert waived not in got
    assert not [s for s in impact.state if s.grant.request == waived]
    assert all(before[p][0] for p in before), "the synthetic organisation starts fully allowed"
