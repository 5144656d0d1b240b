"""`make demo` as a newcomer runs it, in a terminal of 120 columns: the whole
loop, exit 0, nothing left behind. (tests/test_demo_terminal.py runs it at 80
columns; the demo is the slowest thing the suite runs, so the 120-column
layout checks share this run.)"""
from __future__ import annotations

import os
import re
import sys

from conftest import PROJECT
from terminal import assert_reads_cleanly, in_terminal


def _words(text: str) -> str:
    """The text without spaces or table borders, so a phrase the terminal
    wrapped over two lines still matches."""
    return re.sub(r"[\s│|]+", "", text)


def test_demo_runs_the_whole_loop_and_leaves_nothing_running(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "ACCESSCTL_"))}
    env.update(PYTHONPATH=str(PROJECT), TMPDIR=str(tmp_path), NO_COLOR="1")
    code, out = in_terminal([sys.executable, "-m", "tools", "demo"], 120, PROJECT, env, timeout=300)
    assert code == 0, out[-3000:]
    assert_reads_cleanly(out, 120)
    words = _words(out)
    for expected in ("Denied: gcp-project-role", "privileged-ticket-required",    # denied with a fix
                     "Needs one more approval from @acme/security",            # owners, not enough yet
                     "Allowed:", "accessctl/check-pr: success",                # approved
                     "2 API calls in total",                                   # merged and applied
                     'timestamp("2026-11-22T17:00:00Z")',                      # GCP enforces expiry
                     "extra user:heidi@acme.example", "fixed 1 drifted", "issue #",  # console drift
                     "revoked user:frank@acme.example", "expired access request",   # expiry + cleanup PR
                     "Who has access in gcp/acme-data-prod", "Access history of user:frank@acme.example",
                     "review open", "revoked by its owners in access review",      # access review: revoke
                     "reviewed 2026-11-23 by carol-acme", "access review overdue",  # keep; overdue enforced
                     "sessions of 60 minutes, boundary accessctl-agent-boundary",  # the agent's role
                     "rotated serviceAccount:acme-prod/pagerduty-sync",             # rotation past rotate_days
                     "deleted the old key of",                                      # after the grace period
                     "secrets left: 0, integration users left: 0",                  # expiry cleans up
                     "never appeared in any output",
                     # 13: the same on GCP, requested by PR with security and the owner team approving
                     "erin-acme (data, the owner team) and ivan-acme (security",
                     "etl-triage-agent: 0 key(s); roles/iam.serviceAccountTokenCreator only for",
                     "serviceAccount:agent-runtime@acme-data-dev.iam.gserviceaccount.com",
                     "in secret accessctl-fivetran-loader",
                     "rotated serviceAccount:acme-data-prod/fivetran-loader",   # past rotate_days
                     "1 key(s) on the account",                                 # old key gone after the grace
                     "keys left on fivetran-loader: 0, integration secrets left: 0",
                     "deleted service account serviceAccount:acme-data-dev/etl-triage-agent",
                     "never appeared, whole or in",
                     # 14: teams as code
                     "- GitHub team acme/payments: mallory-acme (inactive in people.yaml)",  # teams plan
                     "applied 3 change(s); 3 line(s) in the durable record",               # teams apply
                     "acme/security: dave-acme (not listed in teams.yaml): fixed",          # reconcile fix
                     "read again: 0 team membership(s) drifted"):
        assert _words(expected) in words, expected
    assert list(tmp_path.iterdir()) == [], "the temporary repository is removed"
