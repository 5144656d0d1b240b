"""The Rego unit tests as pytest items (one per ``test_*`` rule), run on
the embedded engine, plus the checks that keep the suite honest: every rule
id has allow and deny tests, each deny rule's METADATA equals the violation
it emits, and real OPA agrees with regorus on every test case."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache

import pytest
import yaml
from conftest import PROJECT

from tools.policy import testing as pt


@cache
def modules() -> dict[str, str]:
    return {p.relative_to(PROJECT).as_posix(): p.read_text() for p in sorted((PROJECT / "policies").rglob("*.rego"))}


@cache
def regorus_engine():
    return pt.regorus_engine(modules())


@cache
def opa_engine():
    return pt.opa_engine(modules())


CASES = pt.discover(modules())


@pytest.mark.parametrize("case", CASES, ids=[f"{c.package}.{c.name}" for c in CASES])
def test_rego(case):
    ok, message = pt.run_regorus(regorus_engine(), case)
    assert ok, message


@pytest.mark.parametrize("case", CASES, ids=[f"{c.package}.{c.name}" for c in CASES])
def test_rego_agrees_with_real_opa(case):
    """The embedded engine is only trusted because OPA gives the same result."""
    assert pt.run_regorus(regorus_engine(), case)[0] == pt.run_opa(opa_engine(), case)[0]


METADATA = re.compile(r"^# METADATA\n((?:#.*\n)+?)deny contains", re.M)


def metadata_blocks() -> list[tuple[str, str, dict]]:
    out = []
    for path, source in modules().items():
        if pt.is_test(path):
            continue
        pkg = pt.PACKAGE.search(source).group(1)
        for block in METADATA.findall(source):
            meta = yaml.safe_load("\n".join(line[2:] for line in block.splitlines()))
            out.append((path, pkg, meta))
    return out


def test_every_deny_rule_has_metadata_equal_to_what_it_emits():
    blocks = metadata_blocks()
    assert len(blocks) >= 20
    seen: dict[str, set[str]] = {}
    for path, pkg, meta in blocks:
        custom = meta["custom"]
        rules = json.loads(regorus_engine().eval_rule_as_json(f"data.{pkg}._rules"))
        assert custom["id"] in rules, f"{path}: METADATA id {custom['id']} has no entry in _rules"
        assert rules[custom["id"]] == {"title": meta["title"], "description": meta["description"],
                                       "remediation": custom["remediation"], "severity": custom["severity"]}, path
        assert custom["severity"] in ("low", "medium", "high", "critical"), path
        seen.setdefault(pkg, set()).add(custom["id"])
    for pkg, ids in seen.items():
        declared = set(json.loads(regorus_engine().eval_rule_as_json(f"data.{pkg}._rules")))
        assert declared == ids, f"{pkg}: rules without a METADATA block: {sorted(declared - ids)}"


def test_every_rule_id_has_allow_and_deny_tests():
    names = {(c.package.removesuffix("_test"), c.name) for c in CASES}
    for _, pkg, meta in metadata_blocks():
        in_pkg = [n for p, n in names if p == pkg]
        assert any(n.startswith("test_allow_") for n in in_pkg), f"{pkg} has no test_allow_*"
        rule_words = meta["custom"]["id"].replace("-", "_")
        assert any(n.startswith("test_deny_") and rule_words in n for n in in_pkg), \
            f"{pkg}: no test_deny_* named after {meta['custom']['id']}"


def test_a_failing_rego_test_is_reported_with_its_name():
    broken = {**modules(), "policies/access/zz_test.rego":
              "package access.zz_test\n\ntest_deny_always_wrong if {\n\t1 == 2\n}\n"}
    case = [c for c in pt.discover(broken) if c.name == "test_deny_always_wrong"][0]
    ok, message = pt.run_regorus(pt.regorus_engine(broken), case)
    assert not ok and "test_deny_always_wrong" in message and "zz_test.rego" in message


def test_opa_binary_runs_the_suite_too():
    opa = shutil.which("opa")
    if opa is None:
        pytest.skip("no `opa` binary on PATH (GitHub Actions installs it with setup-opa; README.md, "
                    "\"Development\", says how to get it)")
    proc = subprocess.run([opa, "test", "policies/access", "-v"], cwd=PROJECT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    passed = set(re.findall(r"(data\.[\w.]+\.test_\w+): PASS", proc.stdout))
    assert passed == {c.rule for c in CASES}
