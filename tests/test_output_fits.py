"""Day one, output: tables never cut what a user acts on (principal,
entitlement, request path), in a narrow terminal (a real pseudo-terminal)
or piped (whole, one row per line); --format markdown works wherever it is
offered; expire says what it did, what is due and what it skipped."""
from __future__ import annotations

import json
import os
import sys

import pytest
from conftest import NOW, PROJECT, make_repo
from terminal import in_terminal, joined


LONG = "requests/aws/acme-dev/billing-deployer-readonly-access-for-the-nightly-release.yaml"
ROLE_ARN = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
PRINCIPAL = "serviceAccount:acme-dev/billing-deployer"


def _applied_then_a_new_request(sandbox, root):
    """Main applied; then a new request (long path, long entitlement) committed, not yet applied."""
    sandbox.reseed()
    env = {**os.environ, **sandbox.env(), "PYTHONPATH": str(PROJECT), "ACCESSCTL_NOW": NOW}
    for var in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_ACTIONS", "GITHUB_EVENT_PATH"):
        env.pop(var, None)
    repo = make_repo(root)
    assert repo.run_process("apply", env=env).code == 0
    sample = repo.read("requests/aws/acme-dev/billing-deployer-readonly.yaml")
    repo.write(LONG, sample.replace("arn:aws:iam::aws:policy/ReadOnlyAccess", ROLE_ARN)
               .replace('"2027-02-01"', '"2026-12-20"'))
    repo.commit("a new request")
    return repo, env


@pytest.fixture(scope="module")
def seen(sandbox, tmp_path_factory):
    """One world for the tests that only read it (plan, reconcile's report, audit): built once,
    since building it is an apply. The read-only tests come first in this file: `world` reseeds the
    same emulators (moto's state is per process), and the check below fails if one ran before."""
    repo, env = _applied_then_a_new_request(sandbox, tmp_path_factory.mktemp("seen") / "access")
    sandbox.seen_generation = getattr(sandbox, "generation", 0)
    yield repo, env


@pytest.fixture
def view(seen, sandbox):
    assert getattr(sandbox, "generation", 0) == sandbox.seen_generation, "a test that writes ran before a read-only one"
    return seen


@pytest.fixture
def world(sandbox, tmp_path):
    """A world of its own, for tests that write (apply, expire)."""
    sandbox.generation = getattr(sandbox, "generation", 0) + 1
    return _applied_then_a_new_request(sandbox, tmp_path / "access")


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tools", *args]


def test_plan_piped_prints_every_row_whole(view):
    repo, env = view
    r = repo.run_process("plan", env={**env, "COLUMNS": "60"})
    assert r.code == 0, r.err
    rows = [line for line in r.out.splitlines() if PRINCIPAL in line]
    assert rows, r.out
    assert any(LONG in line and ROLE_ARN in line for line in rows), r.out
    assert "…" not in r.out


@pytest.mark.parametrize("command", [("plan",), ("apply", "--dry-run"), ("audit", "who-has", "acme-dev")])
def test_tables_in_a_narrow_terminal_wrap_instead_of_cutting(view, command):
    repo, env = view
    code, out = in_terminal(_cmd(*command), 60, repo.root, env)
    assert code in (0, 1), out
    assert "…" not in out, out
    assert max(len(line) for line in out.splitlines()) <= 60, out
    flat = joined(out)
    assert PRINCIPAL in flat and ROLE_ARN in flat, out
    if command[0] != "audit":
        assert LONG in flat, out


def test_tables_in_a_wide_terminal_are_tables(view):
    repo, env = view
    code, out = in_terminal(_cmd("plan"), 250, repo.root, env)
    assert code == 0, out
    assert "┃" in out and any(LONG in line and PRINCIPAL in line for line in out.splitlines()), out


def test_reconcile_table_keeps_the_drifted_principal_whole(view):
    repo, env = view
    code, out = in_terminal(_cmd("reconcile", "--no-issue"), 60, repo.root, env)
    assert code == 1, out  # the new request is drift until applied
    table = out[out.index("Drift"):]  # after the progress bar
    assert "…" not in table and PRINCIPAL in joined(table) and LONG in joined(table), out


@pytest.mark.parametrize("command", [
    ("plan",), ("reconcile", "--no-issue"), ("evaluate",), ("audit", "who-has", "acme-dev"),
    ("audit", "history", "alice-acme")])
def test_markdown_works_wherever_it_is_offered(view, command):
    repo, env = view
    assert_markdown(repo.run_process(*command, "--format", "markdown", env=env))


def test_markdown_summary_after_an_apply(world):
    repo, env = world
    assert repo.run_process("apply", env=env).code == 0
    assert_markdown(repo.run_process("audit", "summary", "--format", "markdown", env=env))


def assert_markdown(r) -> None:
    assert r.code in (0, 1), r.err
    assert "|" in r.out or "**" in r.out, r.out
    assert "┃" not in r.out and "━" not in r.out  # not the text table


@pytest.mark.parametrize("command", [("validate",), ("apply",), ("expire",), ("import", "--provider", "aws"),
                                     ("codeowners",), ("request", "new"), ("sandbox", "status")])
def test_markdown_is_not_offered_where_it_is_not_printed(repo, command):
    r = repo.run_process(*command, "--format", "markdown")
    assert r.code == 2 and "invalid choice: 'markdown'" in r.err, r.out + r.err


def test_expire_says_nothing_expired_and_what_it_skipped(world):
    repo, env = world
    r = repo.run_process("expire", env=env)
    assert r.code == 0, r.err
    assert "Nothing expired." in r.out
    assert "skipped no GITHUB_TOKEN / GITHUB_REPOSITORY: cleanup PR and reminders skipped" in r.out


def test_expire_lists_what_it_revoked_and_the_reminders_due(world):
    repo, env = world
    later = {**env, "ACCESSCTL_NOW": "2026-12-15T06:00:00Z"}
    r = repo.run_process("expire", env=later)
    assert r.code == 0, r.err
    doc = json.loads(repo.run_process("expire", "--dry-run", "--format", "json", env=later).out)
    assert doc["due"] and doc["skipped"]
    assert "1 expired request file(s): requests/aws/acme-staging/carol-poweruser.yaml" in r.out
    assert "revoked user:carol@acme.example PowerUser" in r.out
    assert f"{len(doc['due'])} reminder(s) due:" in r.out
    for due in doc["due"]:
        assert f"{due['request']}: @{due['requester']}, access ends {due['expires']}" in r.out
