"""Run the Rego unit tests (``test_*`` rules in ``*_test.rego``) on an
engine, one result per test, for the pytest collector and the parity check.

A test passes when its rule evaluates to ``true``; undefined, ``false`` or
an evaluation error is a failure whose message names the rule and file.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

PACKAGE = re.compile(r"^package\s+([\w.]+)", re.M)
TEST_RULE = re.compile(r"^(test_\w+)\b", re.M)


@dataclass(frozen=True)
class RegoTest:
    path: str
    package: str
    name: str

    @property
    def rule(self) -> str:
        return f"data.{self.package}.{self.name}"


def is_test(path: str) -> bool:
    return path.endswith("_test.rego")


def discover(modules: dict[str, str]) -> list[RegoTest]:
    found: list[RegoTest] = []
    for path, source in sorted(modules.items()):
        pkg = PACKAGE.search(source)
        if pkg is None:
            continue
        names = dict.fromkeys(TEST_RULE.findall(source))  # keep order, drop repeats
        found.extend(RegoTest(path, pkg.group(1), n) for n in names)
    return found


def regorus_engine(modules: dict[str, str]):
    """A regorus engine holding every module, tests included (no data:
    the tests mock data.org themselves)."""
    import regorus

    from tools.policy.engines import regorus_error
    engine = regorus.Engine()
    for path, source in sorted(modules.items()):
        try:
            engine.add_policy(path, source)
        except RuntimeError as exc:
            raise AssertionError(regorus_error(exc)) from None
    return engine


def run_regorus(engine, test: RegoTest) -> tuple[bool, str]:
    from tools.policy.engines import regorus_error
    engine.set_input_json("{}")
    try:
        value = json.loads(engine.eval_rule_as_json(test.rule))
    except RuntimeError as exc:
        return False, f"{test.path}: {test.name} raised {regorus_error(exc)}"
    return value is True, f"{test.path}: {test.name} evaluated to {value!r}, not true"


def opa_engine(modules: dict[str, str]):
    """The real OPA engine in-process (opa-golib-python-bindings)."""
    from opa_bindings import OpaEngine
    engine = OpaEngine()
    for path, source in sorted(modules.items()):
        engine.add_policy(path, source)
    return engine


def run_opa(engine, test: RegoTest) -> tuple[bool, str]:
    from opa_bindings import OpaError, OpaUndefinedError
    try:
        value: Any = engine.eval_document(test.rule[len("data."):], {})
    except OpaUndefinedError:
        return False, f"{test.path}: {test.name} is undefined under OPA"
    except OpaError as exc:
        return False, f"{test.path}: {test.name} raised {exc}"
    return value is True, f"{test.path}: {test.name} evaluated to {value!r} under OPA"


Runner = Callable[[Any, RegoTest], tuple[bool, str]]
