"""The applier's least-privilege permissions, from what each connector declares.

Every connector operation lists the cloud permissions it needs
(``PERMISSIONS``); the union is the policy for the applier's own role.
``python -m connectors.permissions`` prints the README section; a test
keeps the README equal to it. ``--planner`` prints the read-only subset,
the PR check's planning identity.
"""
from __future__ import annotations

import importlib
import json

from tools.core.connector import CONNECTORS


def declared(provider: str) -> dict[str, tuple[str, ...]]:
    module, _, cls = CONNECTORS[provider].partition(":")
    return dict(getattr(importlib.import_module(module), cls).PERMISSIONS)


def union(provider: str, reads_only: bool = False) -> list[str]:
    return sorted({p for op, perms in declared(provider).items() if not reads_only or is_read(op) for p in perms})


def is_read(operation: str) -> bool:
    """Operations the PR check's planning identity performs: reads, and the
    session that reaches each account. Everything else writes."""
    return operation == "read" or operation.startswith(("read:", "session:"))


PLANNER_ROLE = "accessctl-planner"


def planner_aws_policy() -> dict:
    """The read-only planning identity of the PR check: what the connectors
    declare for reading, nothing that writes."""
    actions = union("aws", reads_only=True)
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccessctlPlanner", "Effect": "Allow",
         "Action": [a for a in actions if not a.startswith("sts:")], "Resource": "*"},
        {"Sid": "AssumePlannerRoleInEachAccount", "Effect": "Allow",
         "Action": [a for a in actions if a.startswith("sts:")],
         "Resource": f"arn:aws:iam::*:role/{PLANNER_ROLE}"},
    ]}


def planner_markdown() -> str:
    return (f"AWS (IAM policy of the planning role; `sts:AssumeRole` reaches the `{PLANNER_ROLE}` role in "
            "each account, which carries the same read actions):\n\n```json\n"
            + json.dumps(planner_aws_policy(), indent=2)
            + "\n```\n\nGCP (permissions of a custom role granted to the planning service account on each "
            "managed project):\n\n```text\n" + "\n".join(union("gcp", reads_only=True)) + "\n```\n")


# `accessctl teams apply` writes Identity Center group memberships with the
# applier's AWS credentials: its actions join the applier's policy.
TEAM_CONNECTORS_AWS = "connectors.team_members:IdentityCenterGroups"


def team_actions() -> list[str]:
    module, _, cls = TEAM_CONNECTORS_AWS.partition(":")
    return sorted({p for perms in getattr(importlib.import_module(module), cls).PERMISSIONS.values() for p in perms})


def aws_policy() -> dict:
    actions = sorted(set(union("aws")) | set(team_actions()))
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccessctlApplier", "Effect": "Allow",
         "Action": [a for a in actions if not a.startswith("sts:")], "Resource": "*"},
        {"Sid": "AssumeApplierRoleInEachAccount", "Effect": "Allow",
         "Action": [a for a in actions if a.startswith("sts:")],
         "Resource": "arn:aws:iam::*:role/accessctl-applier"},
    ]}


def markdown() -> str:
    return ("AWS (IAM policy of the applier's role; `sts:AssumeRole` reaches the "
            "`accessctl-applier` role in each account):\n\n```json\n"
            + json.dumps(aws_policy(), indent=2)
            + "\n```\n\nGCP (permissions of a custom role granted to the applier's service account "
            "on each managed project):\n\n```text\n" + "\n".join(union("gcp")) + "\n```\n")


if __name__ == "__main__":
    import sys
    print(planner_markdown() if sys.argv[1:] == ["--planner"] else markdown(), end="")
