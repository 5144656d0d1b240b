"""Validation and the policy agree on which waivers are in force.

Validation drops its own finding for a waived violation (tools/core/waivers.py
``active``) while the policy moves the violation to ``waived``
(``data.access.waivers.waiver_for``). If the two disagreed, check-pr, apply
and the jobs would each act on a different answer. Here both answer the same
generated questions -- waiver lists with expired, future and odd
timestamps, unknown owners, wrong files and rules, duplicates, unwaivable
rules, entries of the wrong type -- and must give the same waiver for every
(rule, file), regorus always and real OPA in-process on a share of them.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from conftest import PROJECT, git
from tools.core import orgmodel
from tools.core import waivers as wv
from tools.core.repo import Tree
from tools.policy.engines import PolicyBundle, RegorusEngine, load_bundle

SEED = 20261130
CASES = 1500
OPA_EVERY = 5  # real OPA on every fifth case (a fresh engine per case: its data only merges)

PROBE = """package waivers_probe

import data.access.waivers

# Every candidate violation a waiver covers, with the waiver that covers it.
active contains [c.rule, c.file, w] if {
	some c in input.candidates
	w := waivers.waiver_for(c)
}
"""
MODULES = {
    "policies/access/lib/lib.rego": (PROJECT / "policies/access/lib/lib.rego").read_text(),
    "policies/access/waivers/waivers.rego": (PROJECT / "policies/access/waivers/waivers.rego").read_text(),
    "probe.rego": PROBE,
}

RULES = ["catalog-not-requestable", "expiry-too-long", "production-ticket-required", "principal-unknown",
         "principal-external", "approval-owner-missing", "expiry-past", "Catalog-Not-Requestable"]
FILES = ["requests/aws/acme-dev/a.yaml", "requests/aws/acme-dev/b.yaml", "requests/gcp/acme-data-prod/c.yaml",
         "requests/aws/acme-dev/A.yaml", "requests/aws/acme-dev/a.yaml "]
OWNERS = ["platform", "sre", "nobody", "", "Platform", "off"]
TEAMS = {"platform": {"github_team": "acme/platform"}, "sre": {}, "off": False}
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)


def _stamp(rng: random.Random, when: datetime) -> Any:
    """A timestamp near ``when`` in one of the forms both engines (and the
    schema) meet, or one they refuse."""
    form = rng.randrange(14)
    if form == 0:
        return when.strftime("%Y-%m-%d")  # a bare date: no timestamp for Rego
    if form == 1:
        offset = timedelta(hours=rng.choice([-23, -5, 1, 5, 23]), minutes=rng.choice([0, 30, 59]))
        local = when.astimezone(timezone(offset))
        sign, total = ("+" if offset >= timedelta(0) else "-"), abs(int(offset.total_seconds())) // 60
        return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{total // 60:02d}:{total % 60:02d}"
    if form == 2:
        digits = rng.randint(1, 9)
        return when.strftime("%Y-%m-%dT%H:%M:%S") + "." + "".join(rng.choice("0123456789") for _ in range(digits)) + "Z"
    if form == 3:
        return when.strftime("%Y-%m-%dT%H:%M:%S") + "." + "0" * rng.randint(10, 12) + "Z"  # too many digits
    if form == 4:
        return rng.choice([when.strftime("%Y-%m-%d %H:%M:%SZ"), when.strftime("%Y-%m-%dt%H:%M:%Sz"),
                           when.strftime("%Y-%m-%dT%H:%M:60Z"), when.strftime("%Y-%m-%dT24:%M:%SZ"),
                           when.strftime("%Y-%m-%dT%H:%M:%S+24:00"), when.strftime("%Y-%m-%dT%H:%M:%S")])
    if form == 5:
        return rng.choice(["2024-02-29T00:00:00Z", "2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                           "2000-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-12-31T23:59:59Z",
                           "1677-12-31T00:00:00Z", "1678-01-01T00:00:00Z", "2261-12-31T23:59:59Z",
                           "2262-01-01T00:00:00Z", "9999-12-31T00:00:00Z"])
    if form == 6:
        return rng.choice([None, 20261201, True, "", ["2026-12-01T00:00:00Z"]])
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _near(rng: random.Random) -> datetime:
    """An instant at, just around or far from NOW."""
    step = rng.choice([timedelta(0), timedelta(seconds=1), timedelta(microseconds=1), timedelta(hours=1),
                       timedelta(days=1), timedelta(days=400)])
    return NOW + rng.choice([-1, 0, 1]) * step


def case(rng: random.Random) -> tuple[list[Any], str, list[dict[str, str]]]:
    """(data.org.waivers, input.now, candidate violations)."""
    items: list[Any] = []
    for _ in range(rng.randint(0, 7)):
        if rng.random() < 0.06:
            items.append(rng.choice(["a waiver", None, 7, []]))
            continue
        w: dict[str, Any] = {"rule": rng.choice(RULES), "file": rng.choice(FILES), "owner": rng.choice(OWNERS),
                             "expires": _stamp(rng, _near(rng)), "reason": "generated"}
        if rng.random() < 0.3:  # one that should hold, so both answers are common
            w.update(rule=rng.choice(RULES[:3]), owner="platform",
                     expires=(NOW + timedelta(days=rng.randint(1, 90))).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for key in ("rule", "file", "owner", "expires"):
            if rng.random() < 0.04:
                del w[key]
            elif rng.random() < 0.03:
                w[key] = rng.choice([1, None, True])
        items.append(w)
        if rng.random() < 0.2:  # a duplicate for the same rule and file, other expiry or owner
            items.append(dict(w, expires=_stamp(rng, _near(rng)), owner=rng.choice(OWNERS)))
    now = _stamp(rng, NOW) if rng.random() < 0.15 else NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    candidates = [{"rule": r, "file": f} for r in RULES for f in FILES]
    return items, now, candidates


def python_answer(items: list[Any], now: Any, candidates: list[dict[str, str]]) -> list:
    found = wv.active(items, TEAMS, now)
    wanted = {(c["rule"], c["file"]) for c in candidates}
    return sorted(([r, f, w] for (r, f), w in found.items() if (r, f) in wanted), key=json.dumps)


class Regorus:
    def __init__(self) -> None:
        import regorus
        self.engine = regorus.Engine()
        for path, source in MODULES.items():
            self.engine.add_policy(path, source)

    def answer(self, items: list[Any], now: Any, candidates: list[dict[str, str]]) -> list:
        self.engine.clear_data()
        self.engine.add_data_json(json.dumps({"org": {"waivers": items, "teams": TEAMS}}))
        self.engine.set_input_json(json.dumps({"now": now, "candidates": candidates}))
        return sorted(json.loads(self.engine.eval_rule_as_json("data.waivers_probe.active")), key=json.dumps)


def opa_answer(items: list[Any], now: Any, candidates: list[dict[str, str]]) -> list:
    from opa_bindings import OpaEngine
    engine = OpaEngine()
    try:
        for path, source in MODULES.items():
            engine.add_policy(path, source)
        engine.add_data({"org": {"waivers": items, "teams": TEAMS}})
        got = engine.eval_document("waivers_probe.active", {"now": now, "candidates": candidates})
    finally:
        engine.close()
    return sorted(got, key=json.dumps)


def test_python_and_the_policy_agree_on_every_generated_waiver_list():
    rng = random.Random(SEED)
    regorus = Regorus()
    seen_active = seen_inactive = 0
    for i in range(CASES):
        items, now, candidates = case(rng)
        mine = python_answer(items, now, candidates)
        theirs = regorus.answer(items, now, candidates)
        assert mine == theirs, f"case {i}: python {mine} != regorus {theirs}\nwaivers={items!r}\nnow={now!r}"
        if i % OPA_EVERY == 0:
            opa = opa_answer(items, now, candidates)
            assert mine == opa, f"case {i}: python {mine} != OPA {opa}\nwaivers={items!r}\nnow={now!r}"
        seen_active += bool(mine)
        seen_inactive += any(isinstance(w, dict) for w in items) and not mine
    # The generator reaches both answers often (a generator that never
    # produced an active waiver would prove nothing).
    assert seen_active > CASES // 3 and seen_inactive > CASES // 5, (seen_active, seen_inactive)


@pytest.mark.parametrize("expires, now, active", [
    ("2026-11-22T12:00:00Z", "2026-11-22T12:00:00Z", False),  # expiring now: over
    ("2026-11-22T12:00:00.000000001Z", "2026-11-22T12:00:00Z", True),  # one nanosecond left
    ("2026-11-22T13:00:00+01:00", "2026-11-22T12:00:00Z", False),  # the same instant, another zone
    ("2026-11-22T13:00:01+01:00", "2026-11-22T12:00:00Z", True),
    ("2026-12-01", "2026-11-22T12:00:00Z", False),  # a date is not a timestamp for Rego
    ("2026-12-01T00:00:00z", "2026-11-22T12:00:00Z", False),
    ("2026-12-01T00:00:00Z", "2026-11-22 12:00:00Z", False),  # nor is a loose `now`
])
def test_edges_of_time(expires, now, active):
    items = [{"rule": "catalog-not-requestable", "file": FILES[0], "owner": "platform", "expires": expires}]
    candidates = [{"rule": "catalog-not-requestable", "file": FILES[0]}]
    assert bool(python_answer(items, now, candidates)) is active
    assert Regorus().answer(items, now, candidates) == python_answer(items, now, candidates)


def test_the_unwaivable_rules_are_the_policys():
    engine = RegorusEngine(PolicyBundle(MODULES, {"org": {}}, "probe"))
    assert set(engine.eval_rule("data.access.waivers.unwaivable")) == set(wv.UNWAIVABLE)
    assert "principal-unknown" in wv.UNWAIVABLE
    assert not wv.ALSO_VALIDATED & wv.UNWAIVABLE


def test_the_org_model_path_agrees_with_the_policy_bundle(repo):
    """Through the real loaders: waivers.yaml with dates and offsets, turned
    into data.org by engines.org_data for the policy and by ``in_force`` for
    validation."""
    file = "requests/aws/acme-staging/carol-poweruser.yaml"
    repo.write("policies/data/waivers.yaml", f"""waivers:
  - {{rule: expiry-too-long, file: {file}, owner: platform, expires: "2026-11-23", reason: r}}
  - {{rule: production-ticket-required, file: {file}, owner: platform, expires: "2026-11-22T13:00:00+01:00", reason: r}}
  - {{rule: catalog-not-requestable, file: {file}, owner: sre, expires: "2026-11-22T14:00:00+01:00", reason: r}}
  - {{rule: sod-conflict, file: {file}, owner: ghosts, expires: "2026-12-01", reason: r}}
""")
    repo.commit("waivers")
    tree = Tree(repo.root, git(repo.root, "rev-parse", "HEAD").strip())
    org = orgmodel.load(tree)
    bundle = load_bundle(tree, org)
    engine = RegorusEngine(PolicyBundle({**bundle.modules, "probe.rego": PROBE}, bundle.data, "probe"))
    candidates = [{"rule": r, "file": file} for r in
                  ("expiry-too-long", "production-ticket-required", "catalog-not-requestable", "sod-conflict")]
    engine._engine.set_input_json(json.dumps({"now": "2026-11-22T12:00:00Z", "candidates": candidates}))
    theirs = {(r, f) for r, f, _ in json.loads(engine._engine.eval_rule_as_json("data.waivers_probe.active"))}
    mine = set(wv.in_force(org.raw, NOW))
    assert mine == theirs == {("expiry-too-long", file), ("catalog-not-requestable", file)}
