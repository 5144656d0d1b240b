"""Security invariants of .github/workflows, checked by parsing the files.

Each rule is a small function returning problems, run over every workflow,
and also over a hand-made bad workflow so each rule is shown to catch what
it exists for. actionlint and GitHub's JSON schema run on top.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.conftest import PROJECT

WORKFLOWS = sorted((PROJECT / ".github/workflows").glob("*.y*ml"))
BIN = Path(sys.executable).parent
OIDC_ACTIONS = ("aws-actions/configure-aws-credentials", "google-github-actions/auth")
# The most each workflow's jobs may be granted: least privilege, written down.
ALLOWED: dict[str, dict[str, str]] = {
    "pr-check.yml": {"contents": "read", "pull-requests": "write", "statuses": "write"},
    "review-recheck.yml": {"contents": "read", "pull-requests": "write", "statuses": "write"},
    # contents: write for the applied marker and the accessctl-record branch
    "apply.yml": {"contents": "write", "id-token": "write", "pull-requests": "write"},
    "reconcile.yml": {"contents": "write", "id-token": "write", "issues": "write"},
    "expire.yml": {"contents": "write", "id-token": "write", "issues": "write", "pull-requests": "write"},
}
LEVEL = {"none": 0, "read": 1, "write": 2}
# Text a PR author (or a pusher) controls: never expanded inside a shell script.
TAINTED = re.compile(
    r"github\.(head_ref|event\.(pull_request\.(title|body|head\.(ref|label|repo))|head_commit|commits"
    r"|review\.body|comment\.body|issue\.(title|body)|pages|workflow_run\.head_branch))")
SAFE_IN_RUN = re.compile(r"^\s*matrix\.\w+\s*$")  # workflow-defined values only
LONG_LIVED = re.compile(r"AWS_SECRET_ACCESS_KEY|aws-secret-access-key|AWS_ACCESS_KEY_ID|GOOGLE_CREDENTIALS"
                        r"|credentials_json|GOOGLE_APPLICATION_CREDENTIALS|service[_-]account[_-]key", re.I)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def steps(doc: dict) -> list[tuple[str, dict]]:
    return [(job, step) for job, body in doc.get("jobs", {}).items() for step in body.get("steps", [])]


def triggers(doc: dict) -> set[str]:
    on = doc.get("on")
    return {on} if isinstance(on, str) else set(on or [])


def check_pinned(name: str, doc: dict, text: str) -> list[str]:
    out = []
    for job, step in steps(doc):
        uses = step.get("uses")
        if uses and not uses.startswith("./") and not PINNED.match(uses):
            out.append(f"{job}: {uses} is not pinned by a full commit SHA")
    for line in text.splitlines():
        if re.search(r"uses:\s*[^.\s][^@\s]*@[0-9a-f]{40}", line) and not re.search(r"#\s*v\d", line):
            out.append(f"{line.strip()}: add a '# vX.Y.Z' comment naming the pinned release")
    return out


def check_permissions(name: str, doc: dict, text: str) -> list[str]:
    out = []
    top = doc.get("permissions", "missing")
    if top not in ({}, {"contents": "read"}):
        out.append(f"top-level permissions must be {{}} or contents: read, not {top}")
    allowed = ALLOWED.get(name)
    if allowed is None:
        return out + [f"{name} has no permission allow-list in tests/test_workflows.py"]
    for job, body in doc.get("jobs", {}).items():
        perms = body.get("permissions")
        if not isinstance(perms, dict):
            out.append(f"{job}: declare permissions per job (got {perms!r})")
            continue
        for scope, level in perms.items():
            if LEVEL.get(level, 3) > LEVEL.get(allowed.get(scope, "none"), 0):
                out.append(f"{job}: {scope}: {level} is more than {name} may grant")
        uses_oidc = any(str(s.get("uses", "")).startswith(OIDC_ACTIONS) for s in body.get("steps", []))
        if uses_oidc and perms.get("id-token") != "write":
            out.append(f"{job}: uses OIDC without id-token: write")
        if perms.get("id-token") == "write" and not uses_oidc:
            out.append(f"{job}: id-token: write without an OIDC login step")
    return out


def check_triggers(name: str, doc: dict, text: str) -> list[str]:
    bad = [t for t in ("pull_request_target", "workflow_run") if t in triggers(doc) or t in text]
    return [f"{t} runs with secrets on untrusted code: use pull_request" for t in bad]


def check_injection(name: str, doc: dict, text: str) -> list[str]:
    out = []
    for job, step in steps(doc):
        for expr in re.findall(r"\$\{\{(.*?)\}\}", str(step.get("run", ""))):
            if TAINTED.search(expr):
                out.append(f"{job}: PR-controlled ${{{{{expr.strip()}}}}} in run: pass it through env:")
            elif not SAFE_IN_RUN.match(expr):
                out.append(f"{job}: ${{{{{expr.strip()}}}}} in run: pass it through env:")
    return out


def check_secrets(name: str, doc: dict, text: str) -> list[str]:
    found = sorted(set(LONG_LIVED.findall(text)))
    out = [f"long-lived cloud credential {f} referenced: use OIDC" for f in found]
    out += [f"secrets.{s} referenced: workflows need no stored secrets"
            for s in sorted(set(re.findall(r"secrets\.(\w+)", text)))]
    return out


def check_checkouts(name: str, doc: dict, text: str) -> list[str]:
    out = [f"{job}: checkout without persist-credentials: false leaves a token on disk"
           for job, step in steps(doc) if str(step.get("uses", "")).startswith("actions/checkout@")
           and (step.get("with") or {}).get("persist-credentials") is not False]
    if "check-pr" not in text:
        return out
    for job, body in doc["jobs"].items():
        job_steps = body.get("steps", [])
        if not any("accessctl check-pr" in str(s.get("run", "")) for s in job_steps):
            continue
        checkouts = {(s.get("with") or {}).get("path"): s.get("with") or {} for s in job_steps
                     if str(s.get("uses", "")).startswith("actions/checkout@")}
        base = [p for p, w in checkouts.items() if w.get("ref") == "${{ github.event.pull_request.base.sha }}"]
        if not base:
            out.append(f"{job}: accessctl must come from a checkout of the base commit")
        elif not any(f"pip install --quiet ./{base[0]}" in str(s.get("run", "")) for s in job_steps):
            out.append(f"{job}: install accessctl from the base checkout ./{base[0]}, not the PR")
        if not any(w.get("fetch-depth") == 0 for w in checkouts.values()):
            out.append(f"{job}: fetch-depth: 0 is needed to read policies from the base commit")
    return out


RULES: list[Callable[[str, dict, str], list[str]]] = [
    check_pinned, check_permissions, check_triggers, check_injection, check_secrets, check_checkouts]


def problems(name: str, text: str) -> list[str]:
    doc = load(text)
    return [p for rule in RULES for p in rule(name, doc, text)]


def test_the_expected_workflows_exist():
    assert {p.name for p in WORKFLOWS} == set(ALLOWED)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_keeps_the_security_invariants(path):
    assert problems(path.name, path.read_text()) == []


def test_pr_check_runs_on_pull_request_and_review_recheck_on_reviews():
    assert triggers(load((PROJECT / ".github/workflows/pr-check.yml").read_text())) == {"pull_request"}
    assert triggers(load((PROJECT / ".github/workflows/review-recheck.yml").read_text())) == {"pull_request_review"}
    apply = load((PROJECT / ".github/workflows/apply.yml").read_text())
    assert apply["on"] == {"push": {"branches": ["main"]}}
    job = apply["jobs"]["apply"]
    assert job["environment"] == "production" and apply["concurrency"]["cancel-in-progress"] is False
    assert any("accessctl apply --since-marker" in str(s.get("run")) for s in job["steps"])
    reconcile = load((PROJECT / ".github/workflows/reconcile.yml").read_text())
    assert reconcile["jobs"]["reconcile"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert {"schedule", "workflow_dispatch"} <= triggers(reconcile)


def test_every_writer_shares_one_concurrency_group():
    """apply, reconcile and expire never overlap (tools.provision.freshness
    stops a writer on an old checkout; the group stops two writers at once)."""
    groups = {name: load((PROJECT / ".github/workflows" / name).read_text())["concurrency"]
              for name in ("apply.yml", "reconcile.yml", "expire.yml")}
    assert {g["group"] for g in groups.values()} == {"accessctl-writers"}
    assert all(g["cancel-in-progress"] is False for g in groups.values())


BAD = """
name: bad
on:
  pull_request_target:
permissions: write-all
jobs:
  x:
    runs-on: ubuntu-latest
    permissions:
      contents: write
      id-token: write
    steps:
      - uses: actions/checkout@v4
      - uses: aws-actions/configure-aws-credentials@a03048d87541d1d9fcf2ecf528a4a65ba9bd7838
        with:
          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
      - run: echo "${{ github.event.pull_request.title }}" && git log ${{ github.head_ref }}
      - run: accessctl check-pr
"""


def test_each_rule_catches_what_it_exists_for():
    found = "\n".join(problems("pr-check.yml", BAD))
    for expected in ["actions/checkout@v4 is not pinned", "add a '# vX.Y.Z' comment",
                     "top-level permissions", "contents: write is more than",
                     "pull_request_target runs with secrets", "PR-controlled ${{github.event.pull_request.title}}",
                     "PR-controlled ${{github.head_ref}}", "long-lived cloud credential AWS_SECRET_ACCESS_KEY",
                     "secrets.AWS_SECRET_ACCESS_KEY referenced", "persist-credentials: false",
                     "accessctl must come from a checkout of the base commit", "fetch-depth: 0"]:
        assert expected in found, expected
    no_oidc = BAD.replace("      id-token: write\n", "")
    assert "uses OIDC without id-token: write" in "\n".join(problems("apply.yml", no_oidc))
    assert "no permission allow-list" in "\n".join(problems("new.yml", BAD))


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return str(found)


def test_actionlint_finds_nothing():
    proc = subprocess.run([_tool("actionlint"), "-no-color", *map(str, WORKFLOWS)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_match_githubs_schema():
    proc = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
