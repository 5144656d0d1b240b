"""Invariant: odd values never break the check. A null or missing optional
field (an imported file before its owners fill it in) and a date beyond the
policy engine's range give a denial saying what to fill in, for that PR and
every later one; never an internal error."""
from __future__ import annotations

import pytest

from approvals_rig import CAROL, carol, red, rig  # noqa: F401

IMPORTED = "requests/aws/acme-staging/dave-readonly.yaml"
INCOMPLETE = ("apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: user:dave@acme.example\nimported: true\n"
              "grants:\n  - {kind: aws-sso-assignment, account: acme-staging, permission_set: ReadOnly}\n")


def test_an_incomplete_imported_file_is_denied_with_what_to_fill_in(rig, capsys):
    rig.push({IMPORTED: INCOMPLETE}, author="dave-acme")
    rig.review("alice-acme")
    doc = red(rig, capsys)
    assert doc["verdict"] == "denied"
    rules = {v["rule"] for f in doc["files"] for v in f["violations"]}
    assert "request-incomplete" in rules
    assert "fill in `requester` and `justification` and `expires`" in doc["next_step"]


def test_a_later_pr_for_someone_with_an_incomplete_file_is_judged_normally(rig, capsys, monkeypatch):
    # carol's imported dev access, not yet answered, is part of her desired state at the base
    rig.repo.write("requests/aws/acme-dev/carol-readonly.yaml",
                   INCOMPLETE.replace("dave@", "carol@").replace("acme-staging", "acme-dev"))
    rig.base = rig.repo.commit("imported, not yet answered")
    monkeypatch.setenv("ACCESSCTL_BASE_SHA", rig.base)
    rig.push({CAROL: carol("2026-12-20")})
    assert red(rig, capsys)["headline"] == "Needs one more approval from @acme/platform"


@pytest.mark.parametrize("field", ["justification", "requester", "expires", "ticket"])
def test_a_null_field_is_denied_naming_the_field(rig, capsys, field):
    text = carol("2026-12-20", extra="ticket: OPS-1\n")
    lines = [f"{field}: null" if line.startswith(f"{field}:") else line for line in text.splitlines()]
    rig.push({CAROL: "\n".join(lines) + "\n"})
    rig.review("alice-acme")
    doc = red(rig, capsys)
    assert doc["verdict"] == "denied"
    assert f"{field} is empty (null)" in doc["headline"]
    assert f"fill in {field}" in doc["next_step"]


@pytest.mark.parametrize("expires", ["2300-01-01", "1600-01-01"])
def test_a_date_outside_the_engines_range_is_refused_at_validation(rig, capsys, expires):
    rig.push({CAROL: carol(expires)})
    rig.review("alice-acme")
    doc = red(rig, capsys)
    assert doc["verdict"] == "denied"
    assert "outside the dates the policy can judge" in doc["headline"]
    assert doc["next_step"].startswith("use a date within the role's maximum duration")


def test_validate_refuses_the_far_date_with_exit_1(rig, capsys):
    rig.repo.write(CAROL, carol("2300-01-01"))
    result = rig.repo.run("validate", capsys=capsys)
    assert result.code == 1 and "outside the dates the policy can judge" in result.out + result.err
