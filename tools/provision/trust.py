"""Apply's re-verification as a step of the run: where GitHub comes from,
what is saved, and how a held change is made visible.

Why separate from ``verify``: that module judges; this one decides when
judging is possible at all (a starting commit, a GitHub context, a usable
token), keeps the held list, and reports — the output, the apply record
and one "unapproved change on main" issue, found again by its marker like
the drift issue, so it is updated rather than duplicated.

Without a GitHub context the check cannot run. Outside GitHub Actions
(a laptop, the demo) apply says it was skipped and why; inside Actions it
refuses (exit 2): there the check is the last line of defence, and a
missing token must not quietly switch it off.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Mapping

from tools.core import github_context
from tools.core.errors import UsageError
from tools.core.mdsafe import code, md
from tools.core.model import as_json
from tools.core.repo import git
from tools.provision import unapproved
from tools.provision import verify
from tools.provision.unapproved import TrustedView

ISSUE_KEY = "unapproved-change"
ISSUE_TITLE = "accessctl: unapproved change on main"


def _known(root: Path, ref: str | None) -> bool:
    return bool(ref and ref.strip("0") and git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
                                                 check=False).strip())


def verify_before_apply(root: Path, since: str | None, now: datetime, *, save: bool = True,
                        env: Mapping[str, str] | None = None, pulls: verify.PullSource | None = None
                        ) -> verify.Verification:
    """Verify every change since ``since``; update (and, unless ``save`` is
    False, store) the held list. Raises UsageError in GitHub Actions when
    GitHub cannot be asked."""
    env = os.environ if env is None else env
    state = unapproved.load(root)
    if not _known(root, since):
        why = ("no starting commit (--since not given)" if not since else
               f"the starting commit {since[:12]} is not in this checkout (first push, or fetch-depth too small)")
        return verify.skipped(f"{why}: changes were not re-verified; held files stay held", state, since)
    if pulls is None:
        pulls = github_context.client()
    if pulls is None:
        if env.get("GITHUB_ACTIONS") == "true":
            raise UsageError("apply refuses to run in GitHub Actions without a GitHub token: it must verify that "
                             "every change on main since the last apply came through an approved pull request; "
                             "give the job GITHUB_TOKEN (permissions: pull-requests: read, issues: write)")
        return verify.skipped("no GitHub context (GITHUB_REPOSITORY and GITHUB_TOKEN unset; this is not "
                              "GitHub Actions): approvals of the changes since "
                              f"{since[:12]} were not re-verified", state, since)
    head = git(root, "rev-parse", "HEAD").strip()
    result = verify.verify_range(root, since, head, pulls, state, now, dict(env))
    if save:
        unapproved.save(root, result.state)
    return result


def view_of(root: Path, result: verify.Verification) -> TrustedView:
    return unapproved.view(root, result.state)


def record_lines(result: verify.Verification, now: datetime, run: str | None) -> list[dict]:
    """Apply-record lines for the changes this run held (same shape as a change's line)."""
    return [{"v": 1, "time": as_json(now), "run": run, "action": "held", "grant": {}, "reason": v.why,
             "request": v.path, "commit": v.commit, "pr": v.pr, "approvers": None,
             "actor": os.environ.get("GITHUB_ACTOR"),
             "approved_commit": v.approved_commit, "rules_commit": result.rules_commit,
             "result": {"ok": False, "error": f"held: {v.why}", "calls": 0}} for v in result.held_now]


def issue_markdown(result: verify.Verification) -> str:
    state = result.state
    lines = ["Changes reached `main` without an approved pull request (a direct push, an admin merge "
             "or a forged status). `accessctl apply` and `reconcile --mode fix` keep the last approved "
             "content of each file below as the desired state until a pull request approves its "
             "current content.", "",
             "| file | commit | PR | why | desired state stays at |", "|---|---|---|---|---|"]
    for h in [*state.rules_held, *(state.files[p] for p in sorted(state.files))]:
        lines.append(f"| {code(h.path)} | {code(h.held_commit[:12])} | {f'#{h.pr}' if h.pr else '—'} | "
                     f"{md(h.why, 300)} | {code(h.approved_commit[:12])} |")
    if state.rules_held:
        lines += ["", f"Rules and org model are taken from the last approved rules commit "
                      f"{code((state.rules_commit or '')[:12])} for every decision."]
    lines += ["", "_Updated by `accessctl apply` on every run; closed when nothing is held._"]
    return "\n".join(lines) + "\n"


def publish(result: verify.Verification, gh=None) -> int | None:
    """Open or update the one issue while anything is held; close it when nothing is."""
    if not result.checked:
        return None
    gh = gh or github_context.client()
    if gh is None:
        return None
    held = result.state.anything_held
    return gh.upsert_issue(ISSUE_KEY, ISSUE_TITLE, issue_markdown(result) if held else
                           "Nothing is held: every change on main came through an approved pull request.\n",
                           open_=held)


def text_lines(result: verify.Verification) -> list[str]:
    """Plain lines for the human output (callers escape for rich)."""
    out = []
    if not result.checked:
        out.append(f"re-verification skipped: {result.skipped}")
    for v in result.held_now:
        out.append(f"HELD {v.path}: {v.why}; its desired state stays as at "
                   f"{(v.approved_commit or '')[:12]} until a pull request approves its current content")
    if any(not r.approved for r in result.rules):
        out.append(f"rules changed without approval: every decision uses the rules of "
                   f"{(result.rules_commit or '')[:12]}")
    earlier = sorted(set(result.state.files) - {v.path for v in result.held_now})
    if earlier:
        out.append(f"{len(earlier)} file(s) still held from earlier runs: {', '.join(earlier)}")
    return out
