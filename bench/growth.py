"""How each stage's cost grows with the number of request files (issue 18).

At 1,000, 10,000 and 50,000 request files of bench/synth.py's synthetic
organisation (5,000 people and 40 teams at every size; 50 AWS accounts and
50 GCP projects up to 10,000 files, then one target per 100 files, see
``targets_for``: GCP refuses the project policies a 50,000-file org would
need on 50 projects):

* validate: ``accessctl validate`` as a user runs it (a child process);
* evaluate: ``accessctl evaluate`` of the whole state (a child process);
* plan: the whole-state plan against the loopback emulators seeded with
  every grant (``build_plan``, the real connectors);
* reconcile: 1% drift injected out of band, then report + fix + verify
  (as bench/scale.py measures it);
* impact: ``accessctl evaluate --rules main`` after a rules change in the
  working tree (the sensitive tier's maximum lowered, a role taken out of
  the catalog): every file of main judged under both rule sets.

Time is wall clock and CPU time (the machine is shared, so wall time
depends on what else runs: the load average when each stage started is in
the table); "per 1,000 files" divides by the size in thousands, so a
stage that grows linearly keeps those columns flat (CPU time is the fairer
column on a shared machine). CPU time
of a child process includes its worker processes. Peak memory is the
child's own maximum resident set for validate and evaluate (its main
process: evaluate's forked workers share its pages), and the benchmark
process's for plan and reconcile (it holds the emulators too: an upper
bound). Run: ``python -m bench.growth [SIZE…]``.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-22T12:00:00Z"
SIZES = (1_000, 10_000, 50_000)


# The child reports its own peak (VmHWM of its address space) on exit: the
# parent's wait4 ru_maxrss would include the benchmark process's pages, which
# Linux carries across the fork and exec into the child's maximum.
_CHILD = ("import atexit, sys\n"
          "def _peak():\n"
          "    for line in open('/proc/self/status'):\n"
          "        if line.startswith('VmHWM:'):\n"
          "            sys.stderr.write('GROWTH_PEAK_KB ' + line.split()[1] + '\\n')\n"
          "atexit.register(_peak)\n"
          "from tools.commands.cli import main\n"
          "sys.exit(main(sys.argv[1:]))\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + _children_cpu()


def _cli(root: Path, *args: str) -> dict[str, float]:
    """Wall and CPU seconds, peak RSS MiB of its main process, and the load
    average at the start, of ``accessctl ARGS`` in ``root``."""
    env = {**os.environ, "ACCESSCTL_NOW": NOW, "PYTHONPATH": str(ROOT)}
    load = os.getloadavg()[0]
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=root, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError(f"accessctl {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    peaks = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("GROWTH_PEAK_KB ")]
    if not peaks:
        raise RuntimeError(f"accessctl {' '.join(args)} did not report its peak memory")
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mib": max(peaks) / 1024, "load": load}


def rules_change(root: Path) -> None:
    """A rules PR's working tree: the sensitive tier's maximum lowered and a
    role taken out of the catalog (the impact stage judges it)."""
    tiers = root / "policies/data/tiers.yaml"
    tiers.write_text(tiers.read_text().replace("max_hours: 720 ", "max_hours: 300 ", 1))
    catalog = root / "policies/data/catalog.yaml"
    catalog.write_text("\n".join(line for line in catalog.read_text().splitlines()
                                 if "roles/logging.viewer" not in line) + "\n")


# Request files per target at 10,000 files (50 accounts, 50 projects). Past
# that the targets grow with the files: at 50 projects a 50,000-file org puts
# about 500 time-bound bindings in each project's policy, about 200 KB, which
# GCP refuses (the fake's 64 KiB bound, tools/sandbox/gcp_rules.py), so such an
# org cannot exist and its plan and reconcile would measure refused writes.
FILES_PER_TARGET = 100


def targets_for(n: int) -> dict[str, int]:
    """Accounts and projects of the synthetic org at ``n`` files: 50 of each
    up to 10,000 files, then one per FILES_PER_TARGET files on either cloud."""
    each = max(50, -(-n // (2 * FILES_PER_TARGET)))
    return {"accounts": each, "projects": each}


def one_size(n: int, work: Path, clouds: bool = True, **org_shape: int) -> dict[str, Any]:
    """Every stage at ``n`` files; ``org_shape`` (people, teams, accounts,
    projects) shrinks the organisation for the smoke test. Without
    ``clouds`` the plan and reconcile stages (on the emulators) are left out."""
    from bench import seed_scale, synth
    from bench.scale import Meter, _factory
    from tools.core import orgmodel
    from tools.core.repo import Tree
    from tools.provision.apply import build_plan, desired_state, execute, guard
    from datetime import datetime, timezone

    now = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
    root = synth.generate(work / f"org-{n}", n, **(org_shape or targets_for(n))).root
    rows: dict[str, dict[str, float]] = {}
    for stage, args in (("validate", ("validate",)), ("evaluate", ("evaluate", "--format", "json"))):
        rows[stage] = _cli(root, *args)
    org = orgmodel.load(Tree(root))
    grants = list(desired_state(Tree(root), org, now).grants)
    if not clouds:
        rules_change(root)
        rows["impact"] = _cli(root, "evaluate", "--rules", "main", "--format", "json")
        return {"files": n, "grants": len(grants), "stages": rows}
    emu = seed_scale.start(org, grants)
    saved = dict(os.environ)
    try:
        os.environ.update(emu.env())
        os.environ["ACCESSCTL_NOW"] = NOW
        seed_scale.seed_live(emu, grants)
        meter = Meter(emu)
        make = _factory(meter)
        load, cpu = os.getloadavg()[0], _own_cpu()
        with meter.stage(f"plan {n}") as fig:
            planned = build_plan(root, now, factory=make)
        if planned.plan.changes:
            raise RuntimeError(f"the seeded clouds should match main: {len(planned.plan.changes)} changes planned")
        rows["plan"] = {"seconds": fig.seconds, "cpu_seconds": _own_cpu() - cpu, "peak_mib": fig.peak_rss_mb,
                        "load": load}
        injected = seed_scale.inject_drift(emu, grants)
        load, cpu = os.getloadavg()[0], _own_cpu()
        with meter.stage(f"reconcile {n}") as fig:
            planned = build_plan(root, now, factory=make)
            guard(planned.org).check(planned.plan)
            results = execute(planned.plan, planned.connectors)
            again = build_plan(root, now, factory=make)
        if not results or again.plan.changes or not all(r.ok for r in results):
            raise RuntimeError(f"reconcile did not converge: {sum(injected.values())} drifted, "
                               f"{len(again.plan.changes)} left")
        rows["reconcile"] = {"seconds": fig.seconds, "cpu_seconds": _own_cpu() - cpu, "peak_mib": fig.peak_rss_mb,
                             "load": load}
    finally:
        emu.stop()
        os.environ.clear()
        os.environ.update(saved)
    rules_change(root)
    rows["impact"] = _cli(root, "evaluate", "--rules", "main", "--format", "json")
    return {"files": n, "grants": len(grants), "stages": rows}


STAGES = ("validate", "evaluate", "plan", "reconcile", "impact")


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| stage | files | wall time (s) | CPU time (s) | wall per 1,000 files (s) | CPU per 1,000 files (s) "
             "| peak memory (MiB) | load average at start |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for stage in STAGES:
        for r in results:
            if stage not in r["stages"]:
                continue
            s = r["stages"][stage]
            per = r["files"] / 1000
            lines.append(f"| {stage} | {r['files']:,} | {s['seconds']:.2f} | {s['cpu_seconds']:.2f} "
                         f"| {s['seconds'] / per:.3f} | {s['cpu_seconds'] / per:.3f} | {s['peak_mib']:.0f} "
                         f"| {s['load']:.1f} |")
    return "\n".join(lines)


def main(sizes: tuple[int, ...] | None = None) -> dict:
    sizes = sizes or tuple(int(a) for a in sys.argv[1:] if a.isdigit()) or SIZES
    clouds = "--no-clouds" not in sys.argv[1:]  # validate, evaluate and impact only
    results = []
    with tempfile.TemporaryDirectory(prefix="accessctl-growth-") as tmp:
        for n in sizes:
            print(f"[growth] {n:,} files …", file=sys.stderr, flush=True)
            results.append(one_size(n, Path(tmp), clouds))
            print(f"[growth] {n:,} files done: {json.dumps(results[-1])}", file=sys.stderr, flush=True)
    table = markdown(results)
    print(table)
    return {"title": "Growth: cost per 1,000 request files", "markdown": table + "\n\n" + (
        "Synthetic organisation of bench/synth.py at each size (people and teams fixed; 50 accounts and 50 "
        "projects up to 10,000 files, then one target per 100 files, as GCP refuses a project policy with "
        "about 500 time-bound bindings). validate and evaluate run as `accessctl` child processes (peak memory: the "
        "child's own maximum resident set, its main process); plan and reconcile run in the benchmark process against the loopback "
        "emulators seeded with every grant (peak memory includes the emulators; CPU time is the benchmark "
        "process's, emulators included). impact is `accessctl evaluate --rules main` after a rules change "
        "in the working tree. A flat per-1,000 column means linear growth."), "figures": {"sizes": list(sizes), "results": results}}


if __name__ == "__main__":
    main()
