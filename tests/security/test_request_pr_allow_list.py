"""Invariant: a request PR changes nothing outside requests/. Whatever rides
along (pyproject.toml, the Makefile, bench/) would be installed and run by
main's jobs after the merge, so the check stays red whatever the approvals."""
from __future__ import annotations

import pytest

from approvals_rig import CAROL, carol, red, rig  # noqa: F401


@pytest.mark.parametrize("rider", ["pyproject.toml", "Makefile", "bench/run.py", "docs/notes.md"])
def test_a_file_riding_along_a_request_pr_keeps_it_red(rig, capsys, rider):
    rig.push({CAROL: carol("2026-12-20"), rider: "# harmless, surely\n"})
    for reviewer in ("alice-acme", "ivan-acme", "judy-acme"):
        rig.review(reviewer)
    doc = red(rig, capsys)
    assert doc["verdict"] == "denied"
    rules = {v["rule"] for f in doc["files"] for v in f["violations"]}
    assert "pr-mixes-rules-and-requests" in rules
    assert rider in doc["headline"] or any(rider in v["message"] for f in doc["files"] for v in f["violations"])


def test_the_changed_files_come_from_git_not_the_apis_truncatable_list(rig, capsys):
    rig.push({CAROL: carol("2026-12-20"), "pyproject.toml": "[project]\nname = 'x'\n"})
    pr = rig.gh.pulls[rig.number]
    pr.files = rig.gh._files([(CAROL, "modified")])  # as if the API's list stopped before pyproject.toml
    rig.review("alice-acme")
    doc = red(rig, capsys)
    assert "pyproject.toml" in doc["headline"]
