"""The applier's least-privilege permissions, from what each connector declares.

Every connector operation lists the cloud permissions it needs
(``PERMISSIONS``); the union is the policy for the applier's own role.
``python -m connectors.permissions`` prints the README section; a test
keeps the README equal to it.
"""
from __future__ import annotations

import importlib
import json

from tools.core.connector import CONNECTORS


def declared(provider: str) -> dict[str, tuple[str, ...]]:
    module, _, cls = CONNECTORS[provider].partition(":")
    return dict(getattr(importlib.import_module(module), cls).PERMISSIONS)


def union(provider: str) -> list[str]:
    return sorted({p for perms in declared(provider).values() for p in perms})


def aws_policy() -> dict:
    actions = union("aws")
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
    print(markdown(), end="")
