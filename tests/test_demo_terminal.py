"""`accessctl demo` in a real terminal of 80 columns (tests/test_demo.py runs
it at 120): every line fits, and the values a reader acts on (principals, roles, request paths)
are never cut with an ellipsis, whether they sit in a table or in a block."""
from __future__ import annotations

import os
import sys

from conftest import PROJECT
from terminal import assert_reads_cleanly, in_terminal


def test_demo_reads_cleanly_in_a_narrow_terminal(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "ACCESSCTL_"))}
    env.update(PYTHONPATH=str(PROJECT), TMPDIR=str(tmp_path), NO_COLOR="1")
    code, out = in_terminal([sys.executable, "-m", "tools", "demo"], 80, PROJECT, env, timeout=300)
    assert code == 0, out[-3000:]
    assert_reads_cleanly(out, 80)
