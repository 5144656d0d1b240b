"""The embedded engine is the same decision as OPA, shown on thousands of cases.

Each generated decision input (tests/fakes/decision_inputs.py: seeded,
schema-respecting mutations of the sample requests and the Rego fixtures,
over org-model variants) is decided by regorus (``RegorusEngine``, what
`accessctl` runs by default) and by real OPA in-process (the Go engine of
opa-golib-python-bindings). The whole decision must be identical: allow,
every violation's rule id and message, waivers, required approvals. A
mismatch fails with the smallest input that still shows it, ready for
`opa eval`.
"""
from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any, Callable

import pytest

from conftest import PROJECT
from fakes.decision_inputs import Case, Generator, canonical, real_bases
from tools.core.errors import FindingError
from tools.policy import testing as pt
from tools.policy.engines import PolicyBundle, RegorusEngine

SEED = 14
CASES = 2100


@cache
def policy_modules() -> dict[str, str]:
    return {p.relative_to(PROJECT).as_posix(): p.read_text()
            for p in sorted((PROJECT / "policies").rglob("*.rego")) if not pt.is_test(p.name)}


@cache
def bases() -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    return real_bases(PROJECT, SEED)


class Pair:
    """Both engines, loaded with the same policies and one org model."""

    def __init__(self, org: dict[str, Any]):
        from opa_bindings import OpaEngine
        self.regorus = RegorusEngine(PolicyBundle(policy_modules(), {"org": org}, "differential"))
        self.opa = OpaEngine()
        for path, source in sorted(policy_modules().items()):
            self.opa.add_policy(path, source)
        self.opa.add_data({"org": org})

    def outcomes(self, doc: dict[str, Any]) -> tuple[Any, Any]:
        from opa_bindings import OpaError
        try:
            mine: Any = self.regorus.decide(doc)
        except FindingError as exc:
            mine = f"regorus error: {exc}"
        try:
            theirs: Any = self.opa.eval_document("access.decision", doc)
        except OpaError as exc:
            theirs = f"OPA error: {exc}"
        return mine, theirs


def differs(pair: Pair, doc: dict[str, Any]) -> bool:
    mine, theirs = pair.outcomes(doc)
    return isinstance(mine, str) or isinstance(theirs, str) or canonical(mine) != canonical(theirs)


def shrink(doc: dict[str, Any], bad: Callable[[dict[str, Any]], bool], budget: int = 300) -> dict[str, Any]:
    """Greedy minimisation: drop list items and optional keys while the
    mismatch stays. Keys every input needs are kept."""
    keep = {"file", "now", "request", "kind"}
    changed = True
    while changed and budget > 0:
        changed = False
        for path in _paths(doc):
            if path[-1] in keep or budget <= 0:
                continue
            candidate = copy.deepcopy(doc)
            parent = candidate
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
            budget -= 1
            if bad(candidate):
                doc, changed = candidate, True
                break
    return doc


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    if isinstance(value, dict):
        for k in value:
            out.append(prefix + (k,))
            out.extend(_paths(value[k], prefix + (k,)))
    elif isinstance(value, list):
        for i in reversed(range(len(value))):
            out.append(prefix + (i,))
            out.extend(_paths(value[i], prefix + (i,)))
    return out


@cache
def generated() -> tuple[dict[str, dict[str, Any]], list[Case]]:
    orgs, base_inputs = bases()
    return orgs, Generator(SEED, orgs, base_inputs).cases(CASES)


def test_generator_is_seeded_and_deterministic():
    orgs, base_inputs = bases()
    first = [canonical(c.input) for c in Generator(SEED, orgs, base_inputs).cases(50)]
    again = [canonical(c.input) for c in Generator(SEED, orgs, base_inputs).cases(50)]
    other = [canonical(c.input) for c in Generator(SEED + 1, orgs, base_inputs).cases(50)]
    assert first == again and first != other


def test_regorus_and_real_opa_decide_every_generated_input_identically():
    orgs, cases = generated()
    assert len(cases) >= 2000
    pairs: dict[str, Pair] = {}
    rules_seen: set[str] = set()
    allowed = denied = 0
    for case in cases:
        pair = pairs.get(case.org) or pairs.setdefault(case.org, Pair(orgs[case.org]))
        mine, theirs = pair.outcomes(case.input)
        if isinstance(mine, str) or isinstance(theirs, str) or canonical(mine) != canonical(theirs):
            small = shrink(case.input, lambda d, p=pair: differs(p, d))
            a, b = pair.outcomes(small)
            pytest.fail(f"engines disagree (org variant {case.org}, mutations {case.how}); minimal input:\n"
                        f"{json.dumps(small, indent=1, sort_keys=True)}\nregorus: {json.dumps(a, sort_keys=True)}\n"
                        f"OPA:     {json.dumps(b, sort_keys=True)}")
        rules_seen |= {v["rule"] for v in mine["violations"]} | {w["rule"] for w in mine["waived"]}
        allowed += mine["allow"]
        denied += not mine["allow"]
    # The cases reach the rules: a generator that only produced errors or
    # only allows would make this test pass without proving anything.
    assert allowed >= 100 and denied >= 1000, (allowed, denied)
    expected = {"catalog-unknown-target", "catalog-not-requestable", "expiry-past", "expiry-too-long",
                "expiry-missing", "privileged-ticket-required", "break-glass-too-long", "principal-public",
                "principal-external", "principal-unknown", "identity-owner-unknown", "identity-expiry-too-long",
                "identity-oidc-trust", "identity-user-managed-keys", "sod-conflict", "production-ticket-required",
                "approval-owner-missing", "approval-security-missing", "pr-mixes-rules-and-requests"}
    assert expected <= rules_seen, sorted(expected - rules_seen)


def test_a_disagreement_is_reported_with_a_minimal_input():
    """The shrinker keeps only what the mismatch needs."""
    doc = {"file": "f", "now": "n", "request": {"kind": "AccessRequest", "grants": [1, 2, 3], "ticket": "x"},
           "pr": {"reviews": [1, 2]}, "state": {"grants": []}}
    small = shrink(doc, lambda d: 2 in d["request"].get("grants", []))
    assert small == {"file": "f", "now": "n", "request": {"kind": "AccessRequest", "grants": [2]}}


INDEX_PARTS = ("people", "team_members", "team_member_set", "targets", "catalog")


def _decide(engine: RegorusEngine, doc: dict[str, Any]) -> str:
    try:
        return canonical(engine.decide(doc))
    except FindingError as exc:
        return str(exc)


def test_the_loaders_index_changes_no_decision():
    """``data.org._index`` (built in Python by ``org_index``: people by
    folded email, teams' folded members as a list and as a set, targets by
    provider and name, catalog entries by kind and entitlement) only makes
    lookups fast. Every generated input is decided the same with the whole
    index, with none (the Rego fallbacks scan the org model) and with only
    some of its parts (each lookup falls back on its own)."""
    orgs, cases = generated()
    engines: dict[str, tuple[RegorusEngine, ...]] = {}
    compared = 0
    for case in cases:
        org = orgs[case.org]
        if "_index" not in org:
            continue
        if case.org not in engines:
            assert set(org["_index"]) == set(INDEX_PARTS), sorted(org["_index"])
            bare = {k: v for k, v in org.items() if k != "_index"}
            n = len(engines)
            some = {k: v for i, (k, v) in enumerate(sorted(org["_index"].items())) if (n >> i) & 1}
            engines[case.org] = (RegorusEngine(PolicyBundle(policy_modules(), {"org": org}, "indexed")),
                                 RegorusEngine(PolicyBundle(policy_modules(), {"org": bare}, "scanned")),
                                 RegorusEngine(PolicyBundle(policy_modules(), {"org": {**bare, "_index": some}},
                                                            "partly indexed")))
        indexed, *others = engines[case.org]
        expected = _decide(indexed, case.input)
        for other in others:
            assert _decide(other, case.input) == expected, (case.org, case.how, json.dumps(case.input, sort_keys=True))
        compared += 1
    assert compared >= 1000, compared
    assert len(engines) >= 20, len(engines)


def test_the_index_leaves_out_what_a_scan_would_find_twice():
    """A part of the index whose keys are not unique strings is left out, so
    the Rego scan (and its conflict error) decides exactly as without it."""
    from tools.policy.engines import org_index
    account = {"name": "acme-dev", "id": "111111111111"}
    entry = {"kind": "aws-iam-group", "entitlement": "developers", "tier": "standard"}
    good = org_index({"aws": {"accounts": [account]}, "gcp": {"projects": []}, "catalog": [entry],
                      "people": [{"email": "Ann@Acme.example"}], "teams": {"a": {"members": ["X", "x", "Ü"]}}})
    assert good["targets"] == {"aws": {"acme-dev": account}, "gcp": {}}
    assert good["catalog"] == {"aws-iam-group": {"developers": entry}}
    assert list(good["people"]) == ["ann@acme.example"]
    assert good["team_members"] == {"a": ["x", "Ü"]} and good["team_member_set"] == {"a": {"x": True, "Ü": True}}
    broken = org_index({"aws": {"accounts": [account, dict(account)]}, "catalog": [entry, dict(entry)],
                        "people": [{"email": "a@x"}, {"email": "A@x"}]})
    assert not {"targets", "catalog", "people"} & set(broken)
    assert "targets" not in org_index({"aws": {"accounts": [{"name": 7}]}})
