"""Invariant: a PR is judged by its effect on the desired state. A new file
re-defining an existing service account or CI role (which would make the
original silently invalid) is denied, naming both files."""
from __future__ import annotations

from approvals_rig import red, rig  # noqa: F401

ORIGINAL = "requests/aws/acme-dev/billing-deployer.yaml"
COPY = "requests/aws/acme-dev/billing-deployer-v2.yaml"


def test_a_second_definition_of_a_ci_role_is_denied_naming_both_files(rig, capsys):
    text = rig.repo.read(ORIGINAL).replace("acme/billing-service", "acme/attacker-repo")
    rig.push({COPY: text}, author="carol-acme")
    for reviewer in ("alice-acme", "ivan-acme", "judy-acme"):
        rig.review(reviewer)
    doc = red(rig, capsys)
    assert doc["verdict"] == "denied"
    messages = [m for f in doc["files"] for m in [x["message"] for x in f["validation"]] +
                [v["message"] for v in f["violations"]]]
    assert any(ORIGINAL in m and "serviceAccount:acme-dev/billing-deployer" in m for m in messages), messages
    assert doc["files"][0]["file"] == COPY
