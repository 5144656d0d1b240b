"""Benchmark (not a test): policy evaluation at 10,000 request files.

Measures, in one process on the synthetic organisation of bench/synth.py:
  * whole-state evaluation of every request file (one engine, compiled once);
  * a PR touching 10 files in that repository, judged against its base
    commit (policies, org model and existing state read from git);
  * the naive baseline, a fresh engine per file, on a sample, extrapolated.
Run: ``python -m bench.evaluate [N]``. Prints a markdown table.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)

def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def main(argv: list[str] | None = None) -> dict:
    from bench.synth import generate as synth
    from tools.core import orgmodel
    from tools.core.pr_context import ChangedFile, PRContext
    from tools.core.repo import Tree
    from tools.policy.engines import RegorusEngine, load_bundle
    from tools.policy.evaluate import evaluate_files

    n = int((argv or sys.argv[1:] or ["10000"])[0])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "access"
        t = time.perf_counter()
        org_files = synth(root, n)  # the large synthetic organisation (5,000 people, 100 targets)
        paths = org_files.access_requests
        total = len(org_files.requests)
        gen_s = time.perf_counter() - t

        t = time.perf_counter()
        whole = evaluate_files(root, None, now=NOW)
        whole_s = time.perf_counter() - t
        assert len(whole.decisions) == total, len(whole.decisions)

        base = git(root, "rev-parse", "HEAD").strip()
        changed = paths[:: max(1, len(paths) // 10)][:10]
        for p in changed:
            text = (root / p).read_text()
            (root / p).write_text(text.replace("justification: ", "justification: Renewed: ", 1))
        git(root, "-c", "user.email=b@acme.example", "-c", "user.name=bench", "commit", "-qam", "pr")
        head = git(root, "rev-parse", "HEAD").strip()
        ctx = PRContext(1, "bench", head, base, tuple(ChangedFile(p, "modified") for p in changed))
        t = time.perf_counter()
        pr = evaluate_files(root, pr_context=ctx, now=NOW)
        pr_s = time.perf_counter() - t
        assert len(pr.decisions) == 10

        sample = 200
        org = orgmodel.load(Tree(root))
        bundle = load_bundle(Tree(root), org)
        docs = [d for d in evaluate_files(root, paths[:sample], now=NOW, keep_input=True).decisions]
        t = time.perf_counter()
        for d in docs:
            RegorusEngine(bundle).decide(d.input)
        naive_per_file = (time.perf_counter() - t) / sample

    result = {
        "files": total,
        "generate_s": round(gen_s, 2),
        "whole_state_s": round(whole_s, 2),
        "whole_state_ms_per_file": round(1000 * whole_s / total, 3),
        "denied": sum(not d.allow for d in whole.decisions),
        "pr_10_files_s": round(pr_s, 3),
        "naive_ms_per_file": round(1000 * naive_per_file, 2),
        "naive_whole_state_s_extrapolated": round(naive_per_file * total, 1),
    }
    markdown = "\n".join([
        "| measure | value |", "| --- | --- |",
        f"| request files (synthetic org: 5,000 people, 50 accounts, 50 projects) | {result['files']} |",
        f"| whole-state evaluation (one engine, compiled once) | {result['whole_state_s']} s "
        f"({result['whole_state_ms_per_file']} ms/file, {result['denied']} denied) |",
        f"| PR touching 10 files, judged against its base commit | {result['pr_10_files_s']} s |",
        f"| naive: fresh engine per file ({sample}-file sample) | {result['naive_ms_per_file']} ms/file, "
        f"~{result['naive_whole_state_s_extrapolated']} s for all |"])
    print(markdown)
    return {"title": "Policy evaluation", "markdown": markdown, "figures": result}

if __name__ == "__main__":
    main()
