"""Shared set-up for apply's re-verification attack tests: the emulators with
main applied, and the GitHub fake serving the repository with the App's token.

Imported by test modules (``from apply_world import apply, world``; ``sandbox`` is conftest's),
as ``tests/jobs_world.py`` is, so each module opts in explicitly."""
from __future__ import annotations

import json

import pytest
from conftest import make_repo

from tools.sandbox.github import FakeGitHub


@pytest.fixture
def world(sandbox, tmp_path, monkeypatch):
    """main applied to freshly seeded clouds, and GitHub with the repository."""
    sandbox.reseed()
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    repo = make_repo(tmp_path / "access")
    assert repo.run("apply").code == 0
    gh = FakeGitHub().start()
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", gh.full_name)
    monkeypatch.setenv("GITHUB_TOKEN", "x")  # the pipeline App's token in the fake
    yield repo, sandbox, gh
    gh.stop()


def apply(repo, capsys, since):
    res = repo.run("apply", "--since", since, "--format", "json", capsys=capsys)
    assert res.out, (res.code, res.err)
    return res.code, json.loads(res.out)
