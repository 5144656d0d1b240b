"""Invariant: deleting, moving or renaming a request file ends someone's
access, so the owners of the target it leaves approve it; only the
beneficiary may remove their own request alone."""
from __future__ import annotations

from approvals_rig import CAROL, green, red, rig  # noqa: F401

SRE = "requests/aws/acme-prod/sre-readonly.yaml"


def test_deleting_someone_elses_request_needs_the_target_owner(rig, capsys):
    rig.push({SRE: None}, author="dave-acme")
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs one more approval from @acme/sre"
    rig.review("dave-acme")  # the author
    rig.review("alice-acme")  # not sre
    red(rig, capsys)
    rig.review("olivia-acme")
    green(rig, capsys)


def test_moving_a_request_to_another_folder_needs_the_owner_it_leaves(rig, capsys):
    text = rig.repo.read(SRE)
    rig.push({SRE: None, "requests/aws/acme-dev/sre-readonly.yaml": text.replace("acme-prod", "acme-dev")},
             author="dave-acme")
    rig.review("alice-acme")  # platform owns acme-dev (the new home), not acme-prod
    doc = red(rig, capsys)
    assert any(f["file"] == SRE and f["status"] == "needs-approval" for f in doc["files"])


def test_the_beneficiary_removes_their_own_request_alone(rig, capsys):
    rig.push({CAROL: None}, author="carol-acme")
    green(rig, capsys)
