"""Benchmark (not a test): policy evaluation at 10,000 request files.

Measures, in one process on a generated repository:
  * whole-state evaluation of every request file (one engine, compiled once);
  * a PR touching 10 files in that repository, judged against its base
    commit (policies, org model and existing state read from git);
  * the naive baseline, a fresh engine per file, on a sample, extrapolated.
Run: ``python -m bench.evaluate [N]``. Prints a markdown table.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)

# Standard-tier entitlements the sample org manages, per folder.
OFFER = [
    ("aws", "acme-dev", "aws-iam-group", "account", "group", "developers"),
    ("aws", "acme-dev", "aws-sso-assignment", "account", "permission_set", "ReadOnly"),
    ("aws", "acme-staging", "aws-iam-group", "account", "group", "readonly"),
    ("aws", "acme-staging", "aws-sso-assignment", "account", "permission_set", "PowerUser"),
    ("aws", "acme-prod", "aws-sso-assignment", "account", "permission_set", "ReadOnly"),
    ("gcp", "acme-data-dev", "gcp-project-role", "project", "role", "roles/bigquery.dataViewer"),
    ("gcp", "acme-data-prod", "gcp-project-role", "project", "role", "roles/storage.objectViewer"),
    ("gcp", "acme-web-prod", "gcp-project-role", "project", "role", "roles/viewer"),
]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def request_text(user: int, offer: tuple, expires: datetime) -> str:
    provider, target, kind, tfield, efield, ent = offer
    return (f"apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: user:user{user:05d}@acme.example\n"
            f"requester: user{user:05d}\njustification: Generated request number {user} for the benchmark.\n"
            f"ticket: BENCH-{user}\nexpires: \"{expires:%Y-%m-%d}\"\ngrants:\n"
            f"  - {{kind: {kind}, {tfield}: {target}, {efield}: \"{ent}\"}}\n")


def generate(root: Path, n: int) -> list[str]:
    """A copy of the sample repository with ``n`` generated requests, one
    grant each, spread over n/3 synthetic people (so each principal holds
    about three grants, as in a real organisation)."""
    for name in ("policies", "requests"):
        shutil.copytree(PROJECT / name, root / name)
    people = max(1, n // 3)
    with open(root / "policies/data/people.yaml", "a") as fh:
        for u in range(people):
            fh.write(f"  - {{email: user{u:05d}@acme.example, github: user{u:05d}, name: User {u}, active: true}}\n")
    paths = []
    for i in range(n):
        user, offer = i % people, OFFER[(i // people) % len(OFFER)]
        path = f"requests/{offer[0]}/{offer[1]}/gen-{i:05d}.yaml"
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(request_text(user, offer, NOW + timedelta(days=20 + i % 40)))
        paths.append(path)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.email=b@acme.example", "-c", "user.name=bench", "add", "-A")
    git(root, "-c", "user.email=b@acme.example", "-c", "user.name=bench", "commit", "-qm", "base")
    return paths


def main(argv: list[str] | None = None) -> dict:
    from tools import orgmodel
    from tools.policy import RegorusEngine, load_bundle
    from tools.policy_eval import evaluate_files
    from tools.pr_context import ChangedFile, PRContext
    from tools.repo import Tree

    n = int((argv or sys.argv[1:] or ["10000"])[0])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "access"
        root.mkdir()
        t = time.perf_counter()
        paths = generate(root, n)
        gen_s = time.perf_counter() - t

        t = time.perf_counter()
        whole = evaluate_files(root, None, now=NOW)
        whole_s = time.perf_counter() - t
        assert len(whole.decisions) == n + 8, len(whole.decisions)

        base = git(root, "rev-parse", "HEAD").strip()
        changed = paths[:: max(1, n // 10)][:10]
        for p in changed:
            (root / p).write_text((root / p).read_text().replace("Generated request", "Renewed request"))
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
        "files": n + 8,
        "generate_s": round(gen_s, 2),
        "whole_state_s": round(whole_s, 2),
        "whole_state_ms_per_file": round(1000 * whole_s / (n + 8), 3),
        "denied": sum(not d.allow for d in whole.decisions),
        "pr_10_files_s": round(pr_s, 3),
        "naive_ms_per_file": round(1000 * naive_per_file, 2),
        "naive_whole_state_s_extrapolated": round(naive_per_file * (n + 8), 1),
    }
    print("| measure | value |\n| --- | --- |")
    print(f"| request files | {result['files']} |")
    print(f"| whole-state evaluation (one engine, compiled once) | {result['whole_state_s']} s "
          f"({result['whole_state_ms_per_file']} ms/file, {result['denied']} denied) |")
    print(f"| PR touching 10 files, judged against its base commit | {result['pr_10_files_s']} s |")
    print(f"| naive: fresh engine per file ({sample}-file sample) | {result['naive_ms_per_file']} ms/file, "
          f"~{result['naive_whole_state_s_extrapolated']} s for all |")
    return result


if __name__ == "__main__":
    main()
