"""The decisions a PR needs besides its request files.

A PR is judged by its effect, not only by the request files it adds:

- a change to any file outside ``requests/`` (and ``reviews/``) changes the
  rules every later request is judged by, so the policy decides on it
  (``access.rules.rule_changes``), with what the change does to the org
  model spelled out: who joins or leaves which team, which waivers it adds;
- a request file it deletes, moves or renames ends someone's access, so
  the owners of the target it leaves decide (``access.rules.removals``).

The policy inputs are built by ``tools.policy.pr_inputs`` (apply's
re-verification builds the same ones); this module adds what the comment
shows. The policy decides. Team membership is compared
between the base and head org models; the head's model is data here, never
the rules that judge.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from tools.core.orgmodel import OrgModel
from tools.core.pr_context import PRContext
# The inputs live in the policy layer: apply's re-verification builds the
# same ones (tools/provision/verify.py), so both judges ask the same policy.
from tools.policy.pr_inputs import (NOT_RULES, RULES_FILE, removal_input, removal_inputs, rule_paths,
                                    rules_input, team_changes, waiver_changes)


def membership_lines(change: dict[str, Any]) -> list[str]:
    """Plain sentences for the comment: per team, who joins and who leaves."""
    lines = []
    for c in change.get("teams", []):
        parts = []
        for key, label in (("joins", "joins"), ("leaves", "leaves"), ("leads_joins", "becomes a lead"),
                           ("leads_leaves", "stops being a lead")):
            if c.get(key):
                parts.append(f"{', '.join(c[key])} {label}")
        lines.append(f"team {c['team']}: " + "; ".join(parts))
    for w in change.get("waivers", []):
        who = ", ".join(w.get("beneficiaries") or []) or "nobody known"
        lines.append(f"waiver of {w.get('rule')} for {w.get('file')} (owner {w.get('owner') or '?'}), "
                     f"benefits {who}")
    return lines


def with_org_teams(pr: PRContext, org: OrgModel) -> PRContext:
    """Reviewers' teams from the base org model (teams.yaml), replacing
    whatever GitHub said: approvals count by the model, at the base."""
    return replace(pr, reviews=tuple(replace(r, teams=org.teams_by_login.get(r.user.lower(), ()))
                                     for r in pr.reviews))


__all__ = ["RULES_FILE", "NOT_RULES", "rule_paths", "team_changes", "waiver_changes", "rules_input",
           "removal_input", "removal_inputs", "membership_lines", "with_org_teams"]
