"""Benchmark (not a test): both Rego engines' latency on the same inputs.

The inputs are the differential test's (tests/fakes/decision_inputs.py:
seeded mutations of the sample requests and the Rego fixtures) decided
against the sample org model, so every engine answers exactly the same
questions. Measured per decision, in one process:

  * regorus, embedded (``RegorusEngine.decide``: input to JSON, evaluate,
    JSON back), what `accessctl` runs by default;
  * real OPA in-process (opa-golib-python-bindings ``eval_document``), the
    Go engine the differential test compares against;
  * the OPA REST path CI uses (``OpaServerEngine``: opa-python-client, HTTP
    on loopback) on a subset, served by tests/fakes/opa_stub.py, which
    decides with the same in-process OPA engine: a real `opa run --server`
    cannot be installed on this machine (FINDINGS.md), so this row is the
    client and HTTP cost plus OPA's evaluation, not the Go server's own.

Run: ``python -m bench.engines [N]``. Prints a markdown table.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

PROJECT = Path(__file__).resolve().parent.parent
SEED = 14


def _quantiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"mean": statistics.fmean(ms), "p50": ms[len(ms) // 2], "p95": ms[int(len(ms) * 0.95) - 1],
            "total_s": sum(ms) / 1000}


def _time(decide: Callable[[dict[str, Any]], Any], docs: list[dict[str, Any]]) -> tuple[list[float], list[Any]]:
    took, answers = [], []
    for doc in docs:
        start = time.perf_counter()
        answers.append(decide(doc))
        took.append(time.perf_counter() - start)
    return took, answers


def main(argv: list[str] | None = None) -> dict:
    sys.path.insert(0, str(PROJECT / "tests"))
    from fakes.decision_inputs import Generator, canonical, real_bases
    from fakes.opa_stub import OpaStub
    from opa_bindings import OpaEngine
    from tools.policy.engines import OpaServerEngine, PolicyBundle, RegorusEngine

    n = int((argv or sys.argv[1:] or ["2000"])[0])
    orgs, bases = real_bases(PROJECT, SEED, variants=(0, 0))
    org = orgs["sample/base"]
    docs = [c.input for c in Generator(SEED, {"sample/base": org}, bases).cases(n)]
    modules = {p.relative_to(PROJECT).as_posix(): p.read_text()
               for p in sorted((PROJECT / "policies").rglob("*.rego")) if not p.name.endswith("_test.rego")}
    bundle = PolicyBundle(modules, {"org": org}, "bench")

    start = time.perf_counter()
    regorus = RegorusEngine(bundle)
    regorus_load = time.perf_counter() - start
    start = time.perf_counter()
    opa = OpaEngine()
    for path, source in sorted(modules.items()):
        opa.add_policy(path, source)
    opa.add_data(bundle.data)
    opa.eval_document("access.decision", docs[0])  # OPA compiles on first use
    opa_load = time.perf_counter() - start

    for doc in docs[:50]:  # warm both
        regorus.decide(doc)
        opa.eval_document("access.decision", doc)
    r_took, r_answers = _time(regorus.decide, docs)
    o_took, o_answers = _time(lambda d: opa.eval_document("access.decision", d), docs)
    agree = sum(canonical(a) == canonical(b) for a, b in zip(r_answers, o_answers))
    if agree != len(docs):
        raise AssertionError(f"engines disagree on {len(docs) - agree} of {len(docs)} inputs: run the "
                             "differential test (tests/test_engine_differential.py)")

    subset = docs[:300]
    stub = OpaStub().start()
    try:
        start = time.perf_counter()
        server = OpaServerEngine(bundle, stub.url)
        server_load = time.perf_counter() - start
        s_took, s_answers = _time(server.decide, subset)
        server.close()
    finally:
        stub.stop()
    if any(canonical(a) != canonical(b) for a, b in zip(s_answers, r_answers)):
        raise AssertionError("the OPA REST path disagrees with the embedded engine")

    rows = {"regorus (embedded)": (_quantiles(r_took), len(docs), regorus_load),
            "OPA in-process (Go engine)": (_quantiles(o_took), len(docs), opa_load),
            "OPA over REST (opa-python-client, loopback)": (_quantiles(s_took), len(subset), server_load)}
    denied = sum(not a["allow"] for a in r_answers)
    lines = ["| engine | decisions | mean ms | p50 ms | p95 ms | total s | load + compile s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, (q, count, load) in rows.items():
        lines.append(f"| {name} | {count:,} | {q['mean']:.2f} | {q['p50']:.2f} | {q['p95']:.2f} | "
                     f"{q['total_s']:.2f} | {load:.2f} |")
    ratio = rows["OPA in-process (Go engine)"][0]["mean"] / rows["regorus (embedded)"][0]["mean"]
    text = "\n".join(lines) + (
        f"\n\nThe same {len(docs):,} decision inputs (seed {SEED}: mutations of the sample requests and the Rego "
        f"fixtures, {denied:,} denied) against the sample org model; every decision identical across the engines "
        f"({agree:,}/{len(docs):,}). OPA in-process takes {ratio:.1f}x regorus's time per decision. The REST row "
        "runs the first 300 inputs through opa-python-client to a loopback server that decides with the same "
        "in-process OPA (no `opa` binary can be installed here); in CI the server is the real `opa run --server`. "
        "Times are wall clock on a shared 2-core machine, so compare rows, not runs.")
    figures = {name: {**q, "decisions": count, "load_s": load} for name, (q, count, load) in rows.items()}
    return {"title": "Rego engines: regorus and OPA on the same inputs", "markdown": text, "figures": figures}


if __name__ == "__main__":
    print(main()["markdown"])
