"""Shared set-up for the writer-safety tests: the emulators with main applied,
and an access repository with a local bare ``origin`` (as in a CI checkout).

Imported by test modules (``from jobs_world import world``; ``sandbox`` is conftest's) rather
than placed in a conftest, so each module opts in explicitly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import AccessRepo, git, make_repo



@pytest.fixture
def world(sandbox, tmp_path, monkeypatch):
    """A fresh repository pushed to a bare ``origin``, clouds seeded, main applied."""
    sandbox.reseed()
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    repo = make_repo(tmp_path / "access")
    add_origin(repo, tmp_path / "origin.git")
    assert repo.run("apply").code == 0
    return repo, sandbox


def add_origin(repo: AccessRepo, bare: Path) -> Path:
    git(repo.root, "clone", "-q", "--bare", str(repo.root), str(bare))
    git(repo.root, "remote", "add", "origin", str(bare))
    git(repo.root, "fetch", "-q", "origin")
    return bare


def push(repo: AccessRepo) -> str:
    git(repo.root, "push", "-q", "origin", "HEAD:refs/heads/main")
    return git(repo.root, "rev-parse", "HEAD").strip()


def clone(bare: Path, dest: Path) -> AccessRepo:
    git(dest.parent, "clone", "-q", str(bare), str(dest))
    git(dest, "config", "user.email", "test@acme.example")
    git(dest, "config", "user.name", "test")
    return AccessRepo(dest)


def run_json(repo: AccessRepo, capsys, *args: str) -> tuple[int, dict]:
    capsys.readouterr()  # drop what earlier runs printed
    res = repo.run(*args, "--format", "json", capsys=capsys)
    try:
        return res.code, json.loads(res.out)
    except ValueError:
        return res.code, {"_out": res.out, "_err": res.err}


def group_members(sb, account: str, group: str) -> list[str]:
    return sorted(u["UserName"] for u in sb.aws.client("iam", account).get_group(GroupName=group)["Users"])
