"""Benchmark (not a test): `accessctl validate` on 10,000 generated request files.

Our path is the command's own code (``load_and_validate``: libyaml event
parsing with line tracking, one compiled JSON Schema validator, the org
model loaded once, cross-file checks over the whole repository). The
baseline is what a straightforward script does per file: PyYAML's
pure-Python ``SafeLoader``, ``jsonschema.validate`` (which re-checks the
schema and builds a validator every call) and the org model re-read for
every file. The baseline is measured on a sample and extrapolated, since
it re-parses a 5,000-person org model per file; the table says so.

Wall time and peak memory are measured in separate runs: tracemalloc slows
allocation-heavy code, so timing runs without it.

Run: ``python -m bench.validate [N]``.
"""
from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jsonschema
import yaml

from bench.synth import NOW, generate
from tools.core import orgmodel, yamlsafe
from tools.core.repo import Tree
from tools.request import load, validate

PROJECT = Path(__file__).resolve().parent.parent


@dataclass
class _Ctx:
    root: Path
    now = NOW
    format = "text"


@dataclass
class Run:
    label: str
    files: int
    seconds: float
    peak_mib: float
    measured_files: int

    @property
    def per_second(self) -> float:
        return self.files / self.seconds if self.seconds else float("inf")


def ours(root: Path) -> int:
    """The command's code path; returns the number of findings."""
    from tools.commands.validate import load_and_validate

    _, files = load_and_validate(_Ctx(root))
    return len(validate.findings(files))


def naive(root: Path, paths: list[str]) -> int:
    """Per file: re-read the org model, pure-Python YAML, fresh schema validator."""
    schema = load.schema()
    data_files = sorted((root / orgmodel.DATA_DIR).glob("*.yaml"))
    problems = 0
    for path in paths:
        raw: dict[str, Any] = {}
        for f in data_files:
            raw.update(yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.SafeLoader))
        org = orgmodel._build(raw)
        data = yaml.load((root / path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        try:
            jsonschema.validate(data, schema)
        except jsonschema.ValidationError:
            problems += 1
            continue
        rf = load.RequestFile(path, yamlsafe.Document(data))
        load._build(rf)
        validate.validate([rf], org, NOW)
        problems += len(rf.findings)
    return problems


def _measure(fn: Callable[[], int], traced: Callable[[], int] | None = None) -> tuple[float, float, int]:
    start = time.perf_counter()
    found = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    (traced or fn)()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, found


def main(requests: int = 10_000, naive_sample: int = 10, seed: int = 1) -> dict:
    with tempfile.TemporaryDirectory(prefix="accessctl-bench-validate-") as tmp:
        root = Path(tmp) / "access"
        start = time.perf_counter()
        org = generate(root, requests, seed)
        generated = time.perf_counter() - start
        load.schema.cache_clear()
        load._validator.cache_clear()
        seconds, peak, found = _measure(lambda: ours(root))
        if found:
            raise RuntimeError(f"{found} findings on generated files: the generator or validator is wrong")
        ours_run = Run("accessctl validate (this project)", org.files, seconds, peak, org.files)
        # a file naming a service account needs that account's file too, which a
        # per-file script never reads: time the baseline on files that stand alone
        alone = [p for p in org.requests if "principal: serviceAccount:" not in (root / p).read_text()]
        sample = alone[:: max(1, len(alone) // naive_sample)][:naive_sample]
        n_seconds, n_peak, n_found = _measure(lambda: naive(root, sample), lambda: naive(root, sample[:2]))
        if n_found:
            raise RuntimeError(f"the naive baseline found {n_found} problems in valid files")
        naive_run = Run("naive per-file script (extrapolated)", org.files,
                        n_seconds * org.files / len(sample), n_peak, len(sample))
        tree_files = len(Tree(root).list(load.REQUESTS_DIR))
    speedup = naive_run.seconds / ours_run.seconds
    rows = [
        "| path | files | measured on | wall time (s) | files/s | peak memory (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {r.label} | {r.files:,} | {r.measured_files:,} | {r.seconds:,.2f} | {r.per_second:,.{0 if r.per_second >= 10 else 2}f} "
          f"| {r.peak_mib:,.1f} |" for r in (ours_run, naive_run)),
    ]
    markdown = "\n".join([
        *rows, "",
        f"{org.files:,} request files ({len(org.access_requests):,} access requests with {org.grants:,} grants, "
        f"{len(org.service_accounts):,} service accounts; tiers {dict(sorted(org.tiers.items()))}) over "
        f"{org.people:,} people, {org.teams} teams, {len(org.accounts)} AWS accounts and {len(org.projects)} "
        f"GCP projects, generated in {generated:.1f}s (seed {seed}). All valid: 0 findings. "
        f"Ours is {speedup:,.0f}x faster than the per-file baseline, whose time is extrapolated from "
        f"{len(sample)} files (it re-parses the org model for each file). Peak memory is tracemalloc's "
        f"peak of Python allocations in a second, traced run (the baseline's on 2 files: its memory does "
        f"not grow with the file count). About half of our time is YAML parsing (libyaml's events built "
        f"into documents that keep every value's line), a tenth JSON Schema validation (jsonschema-rs; "
        f"jsonschema only words the errors of a failing file), as profiled on 2026-11-30.",
    ])
    assert tree_files == org.files
    return {"title": f"Validation of {org.files:,} request files", "markdown": markdown, "figures": {
        "files": org.files, "seconds": round(ours_run.seconds, 3), "files_per_second": round(ours_run.per_second),
        "peak_mib": round(ours_run.peak_mib, 1), "naive_seconds_extrapolated": round(naive_run.seconds, 1),
        "naive_files_per_second": round(naive_run.per_second, 3), "naive_peak_mib": round(naive_run.peak_mib, 1),
        "naive_sample": len(sample), "speedup": round(speedup, 1), "generate_seconds": round(generated, 2)}}


if __name__ == "__main__":  # pragma: no cover
    result = main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
    print(f"## {result['title']}\n\n{result['markdown']}")
