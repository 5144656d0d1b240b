"""Decide many inputs on every core: whole-state evaluation of 10,000
request files is one independent decision per file, and the embedded
engine uses one core.

Why a forked pool and not a batch document: measured on the synthetic org
(bench/synth.py), one regorus call over a batch of inputs
(``decision with input as d`` for each) cost the same per file as one call
per file (2.55 vs 2.67 ms), since the rules, not the call, are the cost.
Forked workers inherit the compiled engine and the inputs, so nothing is
recompiled or sent to them but a range of indices; each result comes back
as the decision's JSON. Only the embedded engine is spread (an OPA server
decides concurrently on its own), and only past ``MIN_PER_WORKER`` inputs
per worker: below that the fork costs more than it saves.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any

from tools.core.errors import FindingError

MIN_PER_WORKER = 1000
WORKERS_ENV = "ACCESSCTL_WORKERS"  # 1 turns the pool off (e.g. a process with threads that must not fork)

_JOB: tuple[Any, list[dict[str, Any]]] | None = None  # (engine, inputs), inherited by the forked workers


def _one(engine: Any, doc: dict[str, Any]) -> dict[str, Any] | str:
    """The decision, or the engine's error message (the file is then denied)."""
    try:
        return engine.decide(doc)
    except FindingError as exc:
        return str(exc)


def _range(bounds: tuple[int, int]) -> list[dict[str, Any] | str]:
    assert _JOB is not None
    engine, docs = _JOB
    return [_one(engine, docs[i]) for i in range(*bounds)]


def worker_count(n: int, requested: int | None = None) -> int:
    """How many processes decide ``n`` inputs: ``requested``, else
    ``ACCESSCTL_WORKERS``, else one per core, never more than ``n`` /
    MIN_PER_WORKER, and 1 where fork is unavailable."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if requested is None:
        env = os.environ.get(WORKERS_ENV, "").strip()
        requested = int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)
    return max(1, min(requested, n // MIN_PER_WORKER if requested != 1 else 1))


def decide_all(engine: Any, docs: list[dict[str, Any]], workers: int | None = None,
               forkable: bool = True) -> list[dict[str, Any] | str]:
    """Each input's decision (or error message), in input order; the same
    result whatever the number of workers."""
    global _JOB
    count = worker_count(len(docs), workers) if forkable else 1
    if count < 2:
        return [_one(engine, d) for d in docs]
    step = -(-len(docs) // (count * 4))  # a few chunks per worker, so an unlucky one does not wait alone
    bounds = [(i, min(i + step, len(docs))) for i in range(0, len(docs), step)]
    _JOB = (engine, docs)
    try:
        with multiprocessing.get_context("fork").Pool(count) as pool:
            parts = pool.map(_range, bounds)
    finally:
        _JOB = None
    return [r for part in parts for r in part]


__all__ = ["MIN_PER_WORKER", "WORKERS_ENV", "decide_all", "worker_count"]
