"""Invariant: an expired grant the pipeline created is revoked whatever the
target's mode (additive included), whether or not its request file is still
on main, and even if its principal is listed as protected. The durable
record carries the expiry once the file is gone."""
from __future__ import annotations

import json

from jobs_world import push, run_json, world  # noqa: F401

CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"  # expires 2026-12-15


def _carol_assignments(sb) -> int:
    s = sb.seeded
    sso = sb.aws.client("sso-admin")
    return len(sso.list_account_assignments(InstanceArn=s.instance_arn, AccountId="222222222222",
                                            PermissionSetArn=s.permission_sets["PowerUser"])["AccountAssignments"])


def test_expired_grant_whose_file_left_main_in_an_additive_target_for_a_protected_principal(world, capsys,
                                                                                             monkeypatch):
    repo, sb = world
    assert _carol_assignments(sb) == 1
    targets = repo.read("policies/data/targets.yaml")
    repo.write("policies/data/targets.yaml", targets.replace(
        'id: "222222222222"\n      environment: staging\n      owner: platform\n      mode: enforced',
        'id: "222222222222"\n      environment: staging\n      owner: platform\n      mode: additive'))
    org = repo.read("policies/data/organization.yaml")
    repo.write("policies/data/organization.yaml", org.replace(
        "  protected_principals:\n", "  protected_principals:\n    - user:carol@acme.example\n"))
    (repo.root / CAROL).unlink()  # the file leaves main before it expires
    repo.commit("staging becomes additive; carol's request file is removed")
    push(repo)
    code, doc = run_json(repo, capsys, "apply")
    assert code == 0, doc
    assert _carol_assignments(sb) == 1, "additive: the removed file's access is only reported, not removed"

    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-16T00:00:00Z")  # one day after carol's expiry
    code, doc = run_json(repo, capsys, "expire", "--no-github")
    assert code == 0, doc
    [revoked] = doc["revoked"]
    assert revoked["principal"] == "user:carol@acme.example" and revoked["ok"]
    assert "durable record" in revoked["reason"]
    assert _carol_assignments(sb) == 0, "expiry ended the access"


def test_expire_without_record_or_file_does_not_touch_unrelated_access(world, capsys, monkeypatch):
    repo, sb = world
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-01T00:00:00Z")  # before any expiry
    code, doc = run_json(repo, capsys, "expire", "--no-github")
    assert code == 0 and doc["revoked"] == []
    assert _carol_assignments(sb) == 1
