"""Shared fixtures: a throwaway access repository and a CLI runner.

Every test works on a copy of the sample repository (policies/, requests/,
.github/) in a temporary git repository, with the clock frozen, so tests
never depend on today's date or on each other.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
NOW = "2026-11-22T12:00:00Z"
COPIED = ("policies", "requests", ".github")


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setenv("ACCESSCTL_NOW", NOW)
    for var in ("GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_TOKEN", "ACCESSCTL_GITHUB_TOKEN", "GITHUB_API_URL",
                "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "ACCESSCTL_OPA_URL",
                "AWS_ENDPOINT_URL", "ACCESSCTL_GCP_ENDPOINT", "ACCESSCTL_GCP_IAM_ENDPOINT", "ACCESSCTL_AWS_ASSUME_ROLE",
                "ACCESSCTL_CLOUDIDENTITY_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def github_contract():
    """Every response the GitHub sandbox gives during a test must match the
    schema GitHub's OpenAPI description documents for that operation."""
    from tests.contract import github_openapi
    from tools.sandbox import github as sandbox_github
    if github_openapi.observe not in sandbox_github.RESPONSE_HOOKS:
        sandbox_github.RESPONSE_HOOKS.append(github_openapi.observe)
    github_openapi.take()
    yield
    found = github_openapi.take()
    assert not found, "the GitHub sandbox answered outside GitHub's OpenAPI description:\n" + "\n".join(
        sorted(set(found))[:20])


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


@dataclass
class Result:
    code: int
    out: str
    err: str


class AccessRepo:
    """A git repository holding a copy of the sample access repository."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, path: str, text: str | bytes) -> Path:
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(text if isinstance(text, bytes) else text.encode())
        return full

    def read(self, path: str) -> str:
        return (self.root / path).read_text()

    def commit(self, message: str = "change") -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD").strip()

    def run(self, *args: str, capsys=None) -> Result:
        """Run accessctl in-process (fast) with the repository as cwd."""
        from tools.commands.cli import main
        old = os.getcwd()
        os.chdir(self.root)
        try:
            code = main(list(args))
        finally:
            os.chdir(old)
        if capsys is not None:
            captured = capsys.readouterr()
            return Result(code, captured.out, captured.err)
        return Result(code, "", "")

    def run_process(self, *args: str, env: dict | None = None) -> Result:
        """Run accessctl as a real process: proves no traceback reaches the user."""
        full_env = {**os.environ, "PYTHONPATH": str(PROJECT), **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "tools", *args], cwd=self.root, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, env=full_env, timeout=120)
        return Result(proc.returncode, proc.stdout, proc.stderr)


def make_repo(dest: Path) -> AccessRepo:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = PROJECT / name
        if src.exists():
            shutil.copytree(src, dest / name)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "config", "user.email", "test@acme.example")
    git(dest, "config", "user.name", "test")
    repo = AccessRepo(dest)
    repo.commit("initial")
    return repo


@contextmanager
def github_holding_main(repo: AccessRepo, monkeypatch):
    """The GitHub fake holding main's request files, named in the environment
    with the accessctl App's sandbox token, as the scheduled jobs see it."""
    from tools.core.repo import Tree
    from tools.sandbox.github import FakeGitHub
    gh = FakeGitHub().start()
    try:
        for path in Tree(repo.root).list("requests"):
            gh.set_file("main", path, repo.read(path))
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", gh.full_name)
        monkeypatch.setenv("GITHUB_TOKEN", "x")
        yield gh
    finally:
        gh.stop()


@pytest.fixture(scope="module")
def sandbox():
    """The loopback clouds (AWS, GCP, Cloud Identity), started once per test
    module: starting them is the slow part, and each test's world reseeds them."""
    from tools.core.orgmodel import load
    from tools.core.repo import Tree
    from tools.sandbox.sandbox import Sandbox
    with Sandbox(load(Tree(PROJECT))) as sb:
        yield sb


@pytest.fixture
def repo(tmp_path) -> AccessRepo:
    return make_repo(tmp_path / "access")
