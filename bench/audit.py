"""Audit on a long history: one ``git log`` pass vs a process per file.

A synthetic access repository with 10,000 request files and 2,000 commits
(1,000 PRs adding ten requests each, then 1,000 renewing ten each) is
written with ``git fast-import`` in a second or two. Then, in one process:

* ``accessctl audit who-has`` for one account (the whole command:
  loading and validating 10,000 files, one ``git log`` pass, the rows);
* the provenance step alone, accessctl's single ``git log --name-status``;
* the naive baseline, ``git log -- <file>`` once per request file, timed
  on a sample of files and extrapolated to all 10,000 (said so in the output);
* ``audit history`` for one person (one ``git log -p`` pass).

Run: ``python bench/audit.py`` (or ``python -m bench.audit``).
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-22T12:00:00Z"
FILES, ADD_COMMITS, RENEW_COMMITS, PER_COMMIT = 10_000, 1_000, 1_000, 10
SAMPLE = 50
START_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z
# Standard-tier entitlements each target manages (valid for 90 days from NOW).
SLOTS = (("aws", "acme-dev", "aws-iam-group", "group", "developers"),
         ("aws", "acme-dev", "aws-iam-group", "group", "readonly"),
         ("aws", "acme-dev", "aws-sso-assignment", "permission_set", "ReadOnly"),
         ("aws", "acme-staging", "aws-iam-group", "group", "developers"),
         ("aws", "acme-staging", "aws-iam-group", "group", "readonly"),
         ("aws", "acme-staging", "aws-sso-assignment", "permission_set", "ReadOnly"),
         ("aws", "acme-prod", "aws-iam-group", "group", "readonly"),
         ("aws", "acme-prod", "aws-sso-assignment", "permission_set", "ReadOnly"),
         ("aws", "acme-payments", "aws-sso-assignment", "permission_set", "ReadOnly"),
         ("gcp", "acme-data-dev", "gcp-project-role", "role", "roles/bigquery.dataViewer"),
         ("gcp", "acme-data-dev", "gcp-project-role", "role", "roles/storage.objectViewer"),
         ("gcp", "acme-data-prod", "gcp-project-role", "role", "roles/bigquery.dataViewer"),
         ("gcp", "acme-data-prod", "gcp-project-role", "role", "roles/storage.objectViewer"),
         ("gcp", "acme-web-prod", "gcp-project-role", "role", "roles/browser"))


def _request(person: int, slot: tuple[str, ...], expires: str) -> tuple[str, str]:
    provider, target, kind, field, entitlement = slot
    where = "account" if provider == "aws" else "project"
    path = f"requests/{provider}/{target}/p{person:04d}-{entitlement.rsplit('/', 1)[-1].replace('.', '-')}.yaml"
    text = (f"apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: user:p{person:04d}@acme.example\n"
            f"requester: p{person:04d}-acme\njustification: Synthetic access for the audit benchmark run.\n"
            f"expires: \"{expires}\"\ngrants:\n  - kind: {kind}\n    {where}: {target}\n    {field}: {entitlement}\n")
    return path, text


def _people(n: int) -> str:
    rows = [f"  - {{email: p{i:04d}@acme.example, github: p{i:04d}-acme, name: Person {i}, active: true}}"
            for i in range(n)]
    return "people:\n" + "\n".join(rows) + "\n"


def _blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n%s\n" % (len(data), data)


def build(dest: Path, seed: int = 7) -> dict[str, Any]:
    """The synthetic repository; returns what was written."""
    rng = random.Random(seed)
    people = FILES // len(SLOTS) + 1
    files = [_request(i // len(SLOTS), SLOTS[i % len(SLOTS)], "2027-01-15") for i in range(FILES)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(dest)], check=True)
    out = io.BytesIO()
    seed_files = {p.relative_to(ROOT).as_posix(): p.read_text() for p in (ROOT / "policies" / "data").glob("*.yaml")}
    seed_files["policies/data/people.yaml"] = _people(people)
    when = START_EPOCH
    mark = 0

    def commit(message: str, changes: list[tuple[str, str]]) -> None:
        nonlocal when, mark
        mark += 1
        when += 600
        out.write(b"commit refs/heads/main\nmark :%d\n" % mark)
        out.write(b"committer Bench <bench@acme.example> %d +0000\n" % when)
        out.write(_blob(message))
        if mark > 1:
            out.write(b"from :%d\n" % (mark - 1))
        for path, text in changes:
            out.write(f"M 100644 inline {path}\n".encode())
            out.write(_blob(text))

    commit("Org model", sorted(seed_files.items()))
    for c in range(ADD_COMMITS):
        commit(f"Grant batch {c} (#{c + 1})", files[c * PER_COMMIT:(c + 1) * PER_COMMIT])
    for c in range(RENEW_COMMITS):
        picks = rng.sample(range(FILES), PER_COMMIT)
        renewed = [_request(i // len(SLOTS), SLOTS[i % len(SLOTS)], "2027-02-10") for i in picks]
        commit(f"Merge pull request #{ADD_COMMITS + c + 1} from acme/renew-{c}", renewed)
    subprocess.run(["git", "-C", str(dest), "fast-import", "--quiet"], input=out.getvalue(), check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", "-f", "main"], check=True)
    return {"files": FILES, "commits": mark, "people": people}


def _cli(root: Path, *args: str) -> tuple[int, float]:
    from tools.commands.cli import main as cli
    old = os.getcwd()
    os.chdir(root)
    try:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli(list(args))
        return code, time.perf_counter() - start
    finally:
        os.chdir(old)


def main() -> dict[str, Any]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("ACCESSCTL_NOW", NOW)
    from tools.audit import git as audit_git
    from tools.request.load import REQUESTS_DIR

    tmp = Path(tempfile.mkdtemp(prefix="accessctl-audit-bench-"))
    try:
        root = tmp / "access"
        start = time.perf_counter()
        made = build(root)
        build_s = time.perf_counter() - start

        start = time.perf_counter()
        found = audit_git.changes(root)
        one_pass_s = time.perf_counter() - start
        paths = sorted({fc.path for fc in found})
        assert len(paths) == FILES, len(paths)

        sample = random.Random(1).sample(paths, SAMPLE)
        start = time.perf_counter()
        for path in sample:
            subprocess.run(["git", "-C", str(root), "log", "--first-parent", audit_git.FORMAT, "--", path],
                           check=True, capture_output=True)
        sample_s = time.perf_counter() - start
        naive_s = sample_s / SAMPLE * len(paths)

        code, who_has_s = _cli(root, "audit", "who-has", "acme-dev", "--format", "json")
        assert code == 0, code
        code, history_s = _cli(root, "audit", "history", "user:p0007@acme.example", "--format", "json")
        assert code == 0, code
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    figures = {
        "request_files": made["files"], "commits": made["commits"], "file_changes": len(found),
        "build_seconds": round(build_s, 2),
        "one_pass_git_log_seconds": round(one_pass_s, 3),
        "naive_per_file_seconds_extrapolated": round(naive_s, 1),
        "naive_sample_files": SAMPLE, "naive_sample_seconds": round(sample_s, 2),
        "speedup": round(naive_s / one_pass_s, 1) if one_pass_s else None,
        "who_has_command_seconds": round(who_has_s, 2),
        "history_command_seconds": round(history_s, 2),
    }
    markdown = "\n".join([
        f"Synthetic repository: {made['files']:,} request files, {made['commits']:,} commits "
        f"({len(found):,} file changes under {REQUESTS_DIR}/), built with git fast-import in {build_s:.1f} s.",
        "",
        "| provenance of every request file | wall time (s) |",
        "| --- | ---: |",
        f"| accessctl: one `git log --name-status` pass | {one_pass_s:.3f} |",
        f"| naive: `git log -- <file>` per file (timed on {SAMPLE} files, extrapolated to {len(paths):,}) "
        f"| {naive_s:.1f} |",
        f"| `accessctl audit who-has acme-dev` (whole command: load + validate {made['files']:,} files, "
        f"git pass, rows) | {who_has_s:.2f} |",
        f"| `accessctl audit history <person>` (one `git log -p` pass) | {history_s:.2f} |",
        "",
        f"One pass is {figures['speedup']}x faster than a process per file on this history.",
    ])
    print(markdown)
    return {"title": "Audit provenance on a 10,000-request, 2,000-commit history", "markdown": markdown,
            "figures": figures}


if __name__ == "__main__":
    main()
