"""``python -m bench [NAME…]``: run the benchmarks, write bench/results.md.

With names (``validate``, ``bench.scale`` …) only those run. A module not
present yet is skipped with the reason printed; one that fails is reported
in the results and makes the exit status 1, after the others have run.
"""
from __future__ import annotations

import importlib
import os
import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from bench import MODULES

RESULTS = Path(__file__).resolve().parent / "results.md"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine() -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{_cpu_model()}, {os.cpu_count()} cores, {_memory_gib()} memory, "
            f"Python {platform.python_version()} on {platform.system()} {platform.release()}, {now}")


def _selected(names: list[str]) -> list[str]:
    if not names:
        return list(MODULES)
    wanted = [n if n.startswith("bench.") else f"bench.{n}" for n in names]
    unknown = [n for n in wanted if n not in MODULES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(MODULES)}")
    return wanted


def _run(name: str) -> tuple[str, str]:
    """(section markdown, status) for one module."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        print(f"skip {name}: not written yet", flush=True)
        return "", "skipped"
    main = getattr(module, "main", None)
    if main is None:
        print(f"skip {name}: it has no main()", flush=True)
        return "", "skipped"
    print(f"run  {name} …", flush=True)
    start = time.perf_counter()
    argv, sys.argv = sys.argv, [name]  # modules that read sys.argv see no stray arguments
    try:
        result = main()
        if not (isinstance(result, dict) and {"title", "markdown", "figures"} <= set(result)):
            raise TypeError(f"{name}.main() must return title, markdown and figures (see bench/__init__.py)")
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        return f"## {name}\n\nFailed: `{type(exc).__name__}: {exc}`\n", "failed"
    finally:
        sys.argv = argv
    took = time.perf_counter() - start
    print(f"done {name} in {took:.1f}s", flush=True)
    return f"## {result['title']}\n\n_{name}, {took:.0f}s in total_\n\n{result['markdown'].strip()}\n", "ok"


def main(argv: list[str] | None = None) -> int:
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    os.environ.setdefault("ACCESSCTL_NOW", "2026-11-22T12:00:00Z")
    names = _selected(sys.argv[1:] if argv is None else argv)
    sections, statuses = [], {}
    for name in names:
        text, statuses[name] = _run(name)
        if text:
            sections.append(text)
    header = f"# Benchmark results\n\nMachine: {machine()}.\n\nRun with `make bench` (`python -m bench`).\n"
    skipped = [n for n, s in statuses.items() if s == "skipped"]
    if skipped:
        header += f"\nNot present yet: {', '.join(skipped)}.\n"
    RESULTS.write_text(header + "\n" + "\n".join(sections))
    print(f"wrote {RESULTS}")
    return 1 if "failed" in statuses.values() else 0


if __name__ == "__main__":
    sys.exit(main())
