"""Benchmarks: figures at the scale the pipeline must handle, not tests.

``make bench`` (``python -m bench [NAME…]``) runs the modules in ``MODULES``
in order and writes ``bench/results.md``: a heading describing the machine
(CPU model, cores, memory, Python version, date), then one section per
module. The list is explicit, like the CLI's command map: nothing is found
by walking the file system, and a module not written yet is skipped with
the reason printed.

The contract for a benchmark module ``bench/<name>.py``:

* it has ``main()``, callable with no arguments, using its own defaults
  (the 10,000-request scale unless its docstring says otherwise);
* ``main()`` returns ``{"title": str, "markdown": str, "figures": dict}``:
  ``title`` heads its section, ``markdown`` is the body (a table and a few
  sentences saying what was measured and how), ``figures`` holds the key
  numbers as plain JSON values for other tools and for the project notes;
* it works offline on loopback only, builds its workload itself (usually with
  ``bench.synth.generate``) in a temporary directory it removes, and raises
  if the workload came out wrong (e.g. generated files that do not validate)
  rather than report a figure for less work than claimed.
"""
from __future__ import annotations

MODULES: tuple[str, ...] = (
    "bench.validate",        # load + validate 10,000 request files
    "bench.evaluate",        # Rego decisions over the whole desired state
    "bench.engines",         # regorus vs OPA latency on the same decision inputs
    "bench.gcp_calls",       # GCP IAM calls per change (read-modify-write, etags)
    "bench.sso_throughput",  # Identity Center assignment throughput under its limits
    "bench.scale",           # plan, apply (cold and --since) and reconcile at 10,000 requests
    "bench.audit",           # provenance queries over a long history
    "bench.growth",          # validate, evaluate, plan, reconcile at 1,000 / 10,000 / 50,000 files
)
