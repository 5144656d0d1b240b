"""`accessctl demo` in a real terminal of 80 and of 120 columns: every line
fits, and the values a reader acts on (principals, roles, request paths)
are never cut with an ellipsis, whether they sit in a table or in a block."""
from __future__ import annotations

import os
import sys

import pytest
from conftest import PROJECT
from terminal import in_terminal, joined

WHOLE = ("requests/gcp/acme-data-prod/frank-bigquery-admin.yaml", "serviceAccount:acme-data-prod/etl-runner",
         "requests/gcp/acme-data-prod/etl-runner-editor.yaml", "user:frank@acme.example", "roles/bigquery.admin",
         "approval-owner-missing", "privileged-ticket-required", "production-ticket-required",
         "Access history of user:frank@acme.example", "Who has access in gcp/acme-data-prod")


@pytest.mark.parametrize("cols", [80, 120])
def test_demo_reads_cleanly_in_a_terminal(tmp_path, cols):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "ACCESSCTL_"))}
    env.update(PYTHONPATH=str(PROJECT), TMPDIR=str(tmp_path), NO_COLOR="1")
    code, out = in_terminal([sys.executable, "-m", "tools", "demo"], cols, PROJECT, env, timeout=300)
    assert code == 0, out[-3000:]
    lines = out.splitlines()
    too_wide = [line for line in lines if len(line) > cols]
    assert not too_wide, too_wide[:3]
    cut = [line for line in lines if "…" in line]
    assert not cut, cut[:3]
    flat = joined(out)
    for value in WHOLE:
        assert value in flat, value
    assert "Traceback" not in out
