"""Security invariants of .github/workflows, checked by parsing the files.

Each rule is a small function returning problems, run over every workflow,
and also over a hand-made bad workflow so each rule is shown to catch what
it exists for. actionlint and GitHub's JSON schema run on top.
"""
from __future__ import annotations

import json
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
# GitHub writes of the PR check and of expire go through the App's token, so
# their workflow tokens only read.
ALLOWED: dict[str, dict[str, str]] = {
    "pr-check.yml": {"contents": "read", "id-token": "write"},
    "review-recheck.yml": {"contents": "read", "id-token": "write"},
    "review-submitted.yml": {},
    "lint.yml": {"contents": "read"},
    # contents: write for the applied marker and the accessctl-record branch
    "apply.yml": {"contents": "read", "id-token": "write", "pull-requests": "write", "issues": "write"},
    "reconcile.yml": {"contents": "read", "id-token": "write", "issues": "write"},
    "expire.yml": {"contents": "read", "id-token": "write"},
}
# The pipeline App's id and key: environment secrets, used only to mint its token.
APP_SECRETS = {"ACCESSCTL_APP_CLIENT_ID", "ACCESSCTL_APP_PRIVATE_KEY"}
APP_TOKEN_ACTION = "actions/create-github-app-token@"
APP_ENVIRONMENTS = {"accessctl-check", "production"}
# Triggers whose runs hold secrets or a write token while a PR's content is
# around: allowed only under the untrusted-data rules of check_untrusted_head.
PRIVILEGED = ("pull_request_target", "workflow_run")
# The one shape of command allowed to run with the PR head as working directory:
# the accessctl installed from the default branch, reading the head as data.
ACCESSCTL_ONLY = re.compile(r"^accessctl [a-z-]+( --[a-z-]+)*$")
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
    """pull_request_target / workflow_run only with the head as data (the
    rules below); pull_request and pull_request_review (which run the PR's
    own workflow file) only without secrets, environments or write scopes."""
    out = []
    on = triggers(doc)
    if on & {"pull_request", "pull_request_review"}:
        for job, body in doc.get("jobs", {}).items():
            perms = body.get("permissions") or {}
            writes = [k for k, v in perms.items() if v == "write"] if isinstance(perms, dict) else [perms]
            if body.get("environment") or "secrets." in str(body) or writes:
                out.append(f"{job}: a pull_request(_review) run uses the PR's own workflow file: no "
                           f"environment, secrets or write scopes ({', '.join(map(str, writes)) or 'secrets'})")
    if on & set(PRIVILEGED):
        out += check_untrusted_head(doc)
    return out


def _head_paths(body: dict) -> tuple[set[str], set[str]]:
    """(paths of checkouts of the PR head, paths of checkouts of the default branch)."""
    heads, bases = set(), set()
    for step in body.get("steps", []):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            w = step.get("with") or {}
            (bases if w.get("ref") == "${{ github.sha }}" else heads).add(str(w.get("path", ".")))
    return heads, bases


def check_untrusted_head(doc: dict) -> list[str]:
    """With a privileged trigger the PR head is data only: checked out into
    its own folder without credentials, and nothing from it is executed,
    installed or sourced; accessctl comes from the default branch."""
    out = []
    for job, body in doc.get("jobs", {}).items():
        heads, bases = _head_paths(body)
        if "." in heads:
            out.append(f"{job}: the PR head must be checked out into its own path, not the workspace")
        if body.get("environment") and body.get("environment") not in APP_ENVIRONMENTS:
            out.append(f"{job}: environment {body.get('environment')} is not one the App's key lives in")
        mentions = [re.compile(rf"(^|[\s'\"=:./]){re.escape(h)}(/|\s|$)") for h in heads if h != "."]
        for key, value in (body.get("env") or {}).items():
            if any(m.search(str(value)) for m in mentions):
                out.append(f"{job}: env {key} points into the PR head")
        for step in body.get("steps", []):
            uses, run = str(step.get("uses", "")), step.get("run")
            where = str(step.get("working-directory", "."))
            if uses.startswith("./"):
                out.append(f"{job}: {uses} runs an action from a checkout")
            values = {**(step.get("with") or {}), **(step.get("env") or {})}
            if uses and not uses.startswith("actions/checkout@"):
                for key, value in values.items():
                    if any(m.search(str(value)) for m in mentions):
                        out.append(f"{job}: {uses} input {key} reads the PR head")
            if run is None:
                continue
            for key, value in (step.get("env") or {}).items():
                if any(m.search(str(value)) for m in mentions):
                    out.append(f"{job}: env {key} points into the PR head")
            lines = [ln.strip() for ln in str(run).splitlines() if ln.strip() and not ln.strip().startswith("#")]
            if where.strip("./") in {h.strip("./") for h in heads}:
                for ln in lines:
                    if not ACCESSCTL_ONLY.match(ln):
                        out.append(f"{job}: `{ln}` runs in the PR head; only `accessctl <command>` may")
            elif any(m.search(str(run)) for m in mentions):
                out.append(f"{job}: `{run.strip()}` touches the PR head outside accessctl")
            for ln in lines:
                if re.search(r"\b(pip|pipx|uv|npm|make|source)\b|^\. ", ln) and not any(
                        ln.endswith(f" ./{b}") for b in bases):
                    out.append(f"{job}: `{ln}` installs or sources something other than the default branch")
    return out


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
    out += [f"secrets.{s} referenced: workflows need no stored secrets but the App's key"
            for s in sorted(set(re.findall(r"secrets\.(\w+)", text)) - APP_SECRETS)]
    for job, body in doc.get("jobs", {}).items():
        for step in body.get("steps", []):
            if "secrets." not in str(step):
                continue
            if not str(step.get("uses", "")).startswith(APP_TOKEN_ACTION):
                out.append(f"{job}: the App's key may only reach {APP_TOKEN_ACTION.rstrip('@')}")
            if body.get("environment") not in APP_ENVIRONMENTS:
                out.append(f"{job}: the App's key is an environment secret: the job needs environment "
                           f"{' or '.join(sorted(APP_ENVIRONMENTS))}")
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
        base = [p for p, w in checkouts.items() if w.get("ref") == "${{ github.sha }}"]
        if not base:
            out.append(f"{job}: accessctl must come from a checkout of the default branch (ref: ${{{{ github.sha }}}})")
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


def test_the_gate_runs_from_the_default_branch_with_the_apps_token():
    pr_check = load((PROJECT / ".github/workflows/pr-check.yml").read_text())
    assert triggers(pr_check) == {"pull_request_target"}
    assert "edited" in pr_check["on"]["pull_request_target"]["types"]  # the base changed: re-check
    submitted = load((PROJECT / ".github/workflows/review-submitted.yml").read_text())
    assert triggers(submitted) == {"pull_request_review"}
    [job] = submitted["jobs"].values()
    assert job["permissions"] == {} and all(set(s) == {"run"} and s["run"].startswith("echo ")
                                            for s in job["steps"])  # runs nothing
    recheck = load((PROJECT / ".github/workflows/review-recheck.yml").read_text())
    assert recheck["on"] == {"workflow_run": {"workflows": [submitted["name"]], "types": ["completed"]}}
    for doc in (pr_check, recheck):
        job = doc["jobs"]["check-pr"]
        assert job["environment"] == "accessctl-check"
        app = [s for s in job["steps"] if str(s.get("uses", "")).startswith(APP_TOKEN_ACTION)]
        assert len(app) == 1 and app[0]["id"] == "app"
        [check] = [s for s in job["steps"] if s.get("run") == "accessctl check-pr"]
        assert check["env"]["ACCESSCTL_GITHUB_TOKEN"] == "${{ steps.app.outputs.token }}"
        assert "GITHUB_TOKEN" not in check["env"]
    expire = load((PROJECT / ".github/workflows/expire.yml").read_text())["jobs"]["expire"]
    [run] = [s for s in expire["steps"] if s.get("run") == "accessctl expire"]
    # Its PRs start workflows: the App's token takes precedence over GITHUB_TOKEN,
    # which is there for git alone (the freshness fetch, the durable record's push).
    assert run["env"]["ACCESSCTL_GITHUB_TOKEN"] == "${{ steps.app.outputs.token }}"
    assert set(run["env"]) <= {"ACCESSCTL_GITHUB_TOKEN", "GITHUB_TOKEN"}
    apply = load((PROJECT / ".github/workflows/apply.yml").read_text())
    assert apply["on"] == {"push": {"branches": ["main"]}}
    job = apply["jobs"]["apply"]
    assert job["environment"] == "production" and apply["concurrency"]["cancel-in-progress"] is False
    assert any("accessctl apply --since-marker" in str(s.get("run")) for s in job["steps"])
    reconcile = load((PROJECT / ".github/workflows/reconcile.yml").read_text())
    assert reconcile["jobs"]["reconcile"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert {"schedule", "workflow_dispatch"} <= triggers(reconcile)


HEAD_RUNS = [
    ("      - run: python -m pip install --quiet ./pr\n", "installs or sources something other than"),
    ("      - run: pip install -r pr/requirements.txt\n", "touches the PR head outside accessctl"),
    ("      - run: make test\n        working-directory: pr\n", "`make test` runs in the PR head"),
    ("      - run: python -m tools check-pr\n        working-directory: pr\n", "runs in the PR head"),
    ("      - run: source pr/env.sh\n", "touches the PR head outside accessctl"),
    ("      - run: bash ./pr/scripts/x.sh\n", "touches the PR head outside accessctl"),
    ("      - uses: ./pr/.github/actions/evil\n", "runs an action from a checkout"),
    ("      - run: accessctl check-pr\n        working-directory: pr\n        env:\n          PYTHONPATH: pr\n",
     "env PYTHONPATH points into the PR head"),
    ("      - uses: actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c # v6.0.0\n        with:\n"
     "          cache-dependency-path: pr/requirements.txt\n", "input cache-dependency-path reads the PR head"),
]


@pytest.mark.parametrize("workflow", ["pr-check.yml", "review-recheck.yml"])
@pytest.mark.parametrize("step,expected", HEAD_RUNS, ids=[e for _, e in HEAD_RUNS])
def test_a_privileged_trigger_is_refused_once_anything_runs_from_the_head(workflow, step, expected):
    """pull_request_target and workflow_run hold the App's key: a single step
    that executes, installs or sources the PR head turns that into a
    takeover, so the rule set must catch each way of doing it."""
    text = (PROJECT / ".github/workflows" / workflow).read_text()
    assert problems(workflow, text) == []
    anchor = "      - name: Install accessctl from the default branch\n"
    assert anchor in text
    bad = text.replace(anchor, step + anchor)
    assert expected in "\n".join(problems(workflow, bad)), problems(workflow, bad)


def test_a_pr_triggered_workflow_may_not_hold_secrets_or_write():
    lint = (PROJECT / ".github/workflows/lint.yml").read_text()
    assert problems("lint.yml", lint) == []
    bad = lint.replace("      contents: read\n", "      contents: read\n      pull-requests: write\n", 1)
    assert "no environment, secrets or write scopes (pull-requests)" in "\n".join(problems("lint.yml", bad))


def _action_inputs(uses: str) -> dict[str, dict]:
    name, sha = uses.split("@")
    path = PROJECT / "tests/data/actions" / f"{name.split('/')[-1]}@{sha}.action.yml"
    return yaml.safe_load(path.read_text())["inputs"]


def test_artifact_uploads_match_the_actions_documented_inputs():
    """actions/upload-artifact skips files and folders whose names start with
    "." unless include-hidden-files is true (its action.yml at the pinned
    commit, vendored in tests/data/actions): the apply record lives in
    .accessctl/, so it must be told."""
    uploads = [(p.name, step) for p in WORKFLOWS for _, step in steps(load(p.read_text()))
               if str(step.get("uses", "")).startswith("actions/upload-artifact@")]
    assert uploads
    for name, step in uploads:
        inputs = _action_inputs(step["uses"].split()[0])
        given = step.get("with") or {}
        assert set(given) <= set(inputs), f"{name}: unknown inputs {set(given) - set(inputs)}"
        hidden = any(part.startswith(".") for part in str(given["path"]).split("/"))
        effective = str(given.get("include-hidden-files", inputs["include-hidden-files"]["default"])).lower()
        assert not hidden or effective == "true", f"{name}: {given['path']} would be skipped as hidden"
        assert 1 <= int(given.get("retention-days", 90)) <= 90, f"{name}: retention over the documented 90 days"
    apply = [s for n, s in uploads if n == "apply.yml"][0]
    assert apply["with"]["path"] == ".accessctl/apply-record.jsonl"


def test_app_token_step_uses_the_actions_real_inputs():
    for p in WORKFLOWS:
        for _, step in steps(load(p.read_text())):
            if str(step.get("uses", "")).startswith(APP_TOKEN_ACTION):
                inputs = _action_inputs(step["uses"].split()[0])
                assert set(step["with"]) <= set(inputs) and "deprecationMessage" not in inputs["client-id"]
def test_every_writer_shares_one_concurrency_group():
    """apply, reconcile and expire never overlap (tools.provision.freshness
    stops a writer on an old checkout; the group stops two writers at once)."""
    groups = {name: load((PROJECT / ".github/workflows" / name).read_text())["concurrency"]
              for name in ("apply.yml", "reconcile.yml", "expire.yml")}
    assert {g["group"] for g in groups.values()} == {"accessctl-writers"}
    assert all(g["cancel-in-progress"] is False for g in groups.values())


RECORD_TOKEN = "${{ steps.record.outputs.token }}"
WRITER_STEP = {"apply.yml": "accessctl apply", "reconcile.yml": "accessctl reconcile", "expire.yml": "accessctl expire"}


@pytest.mark.parametrize("name", sorted(WRITER_STEP))
def test_a_killed_or_failed_writer_still_pushes_its_journal(name):
    """After the writer's step, an ``if: always()`` step pushes the local
    journal to the durable record (tools.provision.durable.push_journal): a
    process killed mid-run never reached its own publish. It runs on the
    writer's job (same checkout), with the token git needs and nothing else."""
    doc = load((PROJECT / ".github/workflows" / name).read_text())
    for job in doc["jobs"].values():
        steps = job.get("steps", [])
        writer = next((i for i, s in enumerate(steps) if WRITER_STEP[name] in s.get("run", "")
                       and "--publish" not in s.get("run", "")), None)
        if writer is None:
            continue
        push = [s for s in steps[writer + 1:] if "accessctl audit push-record" in s.get("run", "")]
        assert len(push) == 1, f"{name}: no journal push after {WRITER_STEP[name]}"
        assert str(push[0].get("if", "")).replace("${{", "").replace("}}", "").strip() == "always()"
        assert push[0].get("env", {}) == {"GITHUB_TOKEN": RECORD_TOKEN}
        # The workflow token cannot push at all: the record goes with the App's token.
        assert job["permissions"].get("contents") == "read"
        return
    pytest.fail(f"{name}: no step runs {WRITER_STEP[name]}")


@pytest.mark.parametrize("name", sorted(WRITER_STEP))
def test_the_writer_pushes_the_record_with_the_apps_token(name):
    """setup-repo lets only the App push accessctl-record (its held list
    decides what apply refuses): the writer step's git token is the App's,
    minted in the same job with contents: write and nothing more."""
    doc = load((PROJECT / ".github/workflows" / name).read_text())
    for job in doc["jobs"].values():
        steps = job.get("steps", [])
        writer = next((i for i, s in enumerate(steps) if WRITER_STEP[name] in s.get("run", "")), None)
        if writer is None:
            continue
        mint = [s for s in steps[:writer] if s.get("id") == "record"]
        assert len(mint) == 1 and str(mint[0]["uses"]).startswith(APP_TOKEN_ACTION)
        assert "if" not in mint[0], f"{name}: the record token must exist whenever the writer runs"
        assert {k: v for k, v in mint[0]["with"].items() if k.startswith("permission-")} == {
            "permission-contents": "write"}
        assert steps[writer]["env"]["GITHUB_TOKEN"] == RECORD_TOKEN
        assert "github.token" not in str(steps[writer]["env"].get("GITHUB_TOKEN"))
        return
    pytest.fail(f"{name}: no step runs {WRITER_STEP[name]}")


def test_teams_apply_records_its_writes_with_the_apps_token():
    """``teams apply`` appends its membership writes to the durable record, so
    its git token is the App's record token (never the workflow token), and the
    always() journal push comes after it."""
    steps = load((PROJECT / ".github/workflows/apply.yml").read_text())["jobs"]["apply"]["steps"]
    teams = next(i for i, s in enumerate(steps) if s.get("run", "").strip() == "accessctl teams apply")
    assert steps[teams]["env"]["GITHUB_TOKEN"] == RECORD_TOKEN
    assert any("accessctl audit push-record" in s.get("run", "") for s in steps[teams + 1:])


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
                     "the PR head must be checked out into its own path", "PR-controlled ${{github.event.pull_request.title}}",
                     "PR-controlled ${{github.head_ref}}", "long-lived cloud credential AWS_SECRET_ACCESS_KEY",
                     "secrets.AWS_SECRET_ACCESS_KEY referenced", "persist-credentials: false",
                     "accessctl must come from a checkout of the default branch", "fetch-depth: 0"]:
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


def _record_guard_script() -> str:
    apply = load((PROJECT / ".github/workflows/apply.yml").read_text())
    [step] = [s for s in apply["jobs"]["apply"]["steps"] if "apply-record.jsonl" in str(s.get("run", ""))]
    assert step.get("if") == "always()" and step.get("shell") == "bash"
    return step["run"]


@pytest.mark.parametrize("results,record,code", [
    ([{"calls": 2, "ok": True}], "", 1),          # wrote, no record: fail loudly
    ([{"calls": 2, "ok": True}], '{"a": 1}\n', 0),  # wrote and recorded
    ([{"calls": 0, "ok": True}], "", 0),          # nothing written: no record expected
    (None, "", 0),                                # apply failed before printing: its own step failed
])
def test_apply_fails_loudly_when_it_wrote_but_left_no_record(tmp_path, results, record, code):
    if shutil.which("jq") is None:
        pytest.fail("jq is not installed (GitHub's runners have it)")
    if results is not None:
        (tmp_path / "apply.json").write_text(json.dumps({"results": results}))
    if record:
        (tmp_path / ".accessctl").mkdir()
        (tmp_path / ".accessctl/apply-record.jsonl").write_text(record)
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", _record_guard_script()], cwd=tmp_path,
                          env={"RUNNER_TEMP": str(tmp_path), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert proc.returncode == code, proc.stdout + proc.stderr
    if code:
        assert "::error::apply wrote to a cloud but .accessctl/apply-record.jsonl is missing" in proc.stdout
