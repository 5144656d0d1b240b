"""CI decides with OPA: every job that runs `accessctl check-pr` first starts
a real OPA server in the same job (pinned setup-opa, `opa run --server` bound
to localhost, started empty) and points check-pr at it with
ACCESSCTL_OPA_URL. check-pr then loads the base commit's policies and data
into that server and publishes its decision; when the server cannot answer,
the check fails closed with one clear line.
"""
from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml

from conftest import PROJECT, git
from fakes.opa_stub import OpaStub

WORKFLOWS = sorted((PROJECT / ".github/workflows").glob("*.y*ml"))
PINNED_SETUP_OPA = re.compile(r"^open-policy-agent/setup-opa@[0-9a-f]{40}$")


def decision_jobs() -> list[tuple[str, str, list[dict]]]:
    """(workflow, job, steps) of every job with a step running check-pr."""
    out = []
    for path in WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        for job, body in (doc.get("jobs") or {}).items():
            steps = body.get("steps", [])
            if any(re.search(r"\baccessctl\s+check-pr\b", s.get("run", "")) for s in steps):
                out.append((path.name, job, steps))
    return out


def opa_server_command(script: str) -> list[str] | None:
    """The words of the `opa run` command, up to its first redirection."""
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = []
        for token in lexer:
            if token and all(c in "();<>|&" for c in token):
                break
            words.append(token)
        if words[:2] == ["opa", "run"]:
            return words
    return None


def test_the_pr_check_and_the_review_recheck_decide_with_opa():
    names = {name for name, _, _ in decision_jobs()}
    assert {"pr-check.yml", "review-recheck.yml"} <= names


@pytest.mark.parametrize("workflow, job, steps", decision_jobs(), ids=[f"{w}:{j}" for w, j, _ in decision_jobs()])
def test_check_pr_talks_to_an_opa_server_started_in_the_same_job(workflow, job, steps):
    index = {id(s): i for i, s in enumerate(steps)}
    decide = next(s for s in steps if re.search(r"\baccessctl\s+check-pr\b", s.get("run", "")))
    setup = [s for s in steps if str(s.get("uses", "")).startswith("open-policy-agent/setup-opa@")]
    assert setup and all(PINNED_SETUP_OPA.match(s["uses"]) for s in setup), "setup-opa pinned by full SHA"
    start = [s for s in steps if opa_server_command(s.get("run", ""))]
    assert len(start) == 1, "one step starts the OPA server"
    words = opa_server_command(start[0]["run"])
    assert "--server" in words
    addr = next(w.split("=", 1)[1] for w in words if w.startswith("--addr="))
    host, port = addr.rsplit(":", 1)
    assert host == "127.0.0.1", "bound to localhost only"
    # Started empty: no policy, data or bundle path; check-pr loads the base's.
    assert [w for w in words[2:] if not w.startswith("-")] == [], words
    assert not any(w in ("--bundle", "-b", "--watch", "-w") for w in words)
    assert index[id(setup[0])] < index[id(start[0])] < index[id(decide)]
    assert decide.get("env", {}).get("ACCESSCTL_OPA_URL") == f"http://{host}:{port}"
    # Fails closed: the start step waits for /health and errors out otherwise.
    assert f"http://{host}:{port}/health" in start[0]["run"] and "exit 1" in start[0]["run"]
    assert "ACCESSCTL_OPA_URL" not in json.dumps([s.get("env", {}) for s in steps if s is not decide])


def pr_context(repo, base: str, files: dict[str, str]) -> str:
    head = git(repo.root, "rev-parse", "HEAD").strip()
    ctx = {"number": 8, "author": "carol-acme", "head_sha": head, "base_sha": base, "reviews": [],
           "files": [{"path": p, "status": s} for p, s in files.items()]}
    path = repo.root.parent / "pr.json"
    path.write_text(json.dumps(ctx))
    return str(path)


def test_check_pr_loads_only_the_base_rules_into_the_server_and_publishes_its_decision(repo, capsys, monkeypatch):
    stub = OpaStub().start()
    try:
        carol = "requests/aws/acme-staging/carol-poweruser.yaml"
        base = git(repo.root, "rev-parse", "HEAD").strip()
        repo.write(carol, repo.read(carol).replace("2026-12-15", "2027-06-01"))
        repo.write("policies/access/rules/expiry/expiry.rego", "package access.rules.expiry\n\ndeny := set()\n")
        repo.commit("the PR: a longer expiry and a policy that would let it through")
        monkeypatch.setenv("ACCESSCTL_OPA_URL", stub.url)
        ctx = pr_context(repo, base, {carol: "modified", "policies/access/rules/expiry/expiry.rego": "modified"})
        result = repo.run("check-pr", "--pr-context", ctx, "--format", "json", capsys=capsys)
        assert result.code == 1, result.err
        verdict = json.loads(result.out)
        assert verdict["engine"] == "opa-server"
        rules = {v["rule"] for f in verdict["files"] for v in f["violations"]}
        assert "expiry-too-long" in rules  # the base's rule decided, not the PR's
        expiry = stub.policies["accessctl/policies/access/rules/expiry/expiry.rego"]
        assert "expiry-too-long" in expiry and expiry == git(repo.root, "show", f"{base}:policies/access/rules/expiry/expiry.rego")
        assert stub.errors == []
    finally:
        stub.stop()


def test_check_pr_fails_closed_when_the_opa_server_does_not_answer(repo):
    carol = "requests/aws/acme-staging/carol-poweruser.yaml"
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(carol, repo.read(carol).replace("2026-12-15", "2026-12-20"))
    repo.commit("the PR")
    ctx = pr_context(repo, base, {carol: "modified"})
    result = repo.run_process("check-pr", "--pr-context", ctx, env={"ACCESSCTL_OPA_URL": "http://127.0.0.1:9"})
    assert result.code == 2 and "Traceback" not in result.err
    assert "OPA server at http://127.0.0.1:9: cannot connect" in result.err
    assert len(result.err.strip().splitlines()) == 1
