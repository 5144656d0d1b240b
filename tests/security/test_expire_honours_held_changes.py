"""Invariant: ``expire`` judges main as apply verified it. An unapproved change
on main (held by apply) never keeps access alive past its approved expiry, and
a held rules change cannot hide a target from expiry; expiry still always
ends access, held file or not.

What that means for a held file: its desired state is its last approved
content (or nothing, when no approved content exists), for expire as for
apply and reconcile. So a direct push that extends ``expires`` is ignored
(the approved expiry ends the access), a pushed new file that re-requests an
expired grant keeps nothing, and a pushed deletion of an expired file does
not stop its revocation. While a rules change is held, expire reads the org
model of the last approved rules commit.
"""
from __future__ import annotations

from apply_world import world  # noqa: F401 (fixtures)
from jobs_world import add_origin, push, run_json

from tools.provision import unapproved

CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"  # expires 2026-12-15
AFTER = "2026-12-16T00:00:00Z"  # one day after carol's approved expiry


def _carol(sb) -> int:
    s = sb.seeded
    sso = sb.aws.client("sso-admin")
    return len(sso.list_account_assignments(InstanceArn=s.instance_arn, AccountId="222222222222",
                                            PermissionSetArn=s.permission_sets["PowerUser"])["AccountAssignments"])


def _pushed_and_held(repo, capsys, tmp_path, change) -> str:
    """origin, an applied starting point, then ``change`` pushed straight to main and held by apply."""
    add_origin(repo, tmp_path / "origin.git")
    since = push(repo)
    change(repo)
    repo.commit("direct push")
    push(repo)
    code, doc = run_json(repo, capsys, "apply", "--since", since)
    assert code == 1, doc
    return since


def test_a_pushed_extension_of_expires_does_not_keep_the_access(world, capsys, tmp_path, monkeypatch):
    repo, sb, _ = world
    _pushed_and_held(repo, capsys, tmp_path,
                     lambda r: r.write(CAROL, r.read(CAROL).replace('expires: "2026-12-15"', 'expires: "2026-12-31"')))
    assert CAROL in unapproved.load(repo.root).files
    assert _carol(sb) == 1
    monkeypatch.setenv("ACCESSCTL_NOW", AFTER)
    code, doc = run_json(repo, capsys, "expire", "--no-github")
    assert code == 0, doc
    [revoked] = doc["revoked"]
    assert revoked["principal"] == "user:carol@acme.example" and revoked["ok"]
    assert _carol(sb) == 0, "the approved expiry ended the access; the pushed one counted for nothing"
    assert any(CAROL in n and "last approved content" in n for n in doc["notes"]), "the output says why"


def test_a_pushed_new_file_re_requesting_an_expired_grant_keeps_nothing(world, capsys, tmp_path, monkeypatch):
    repo, sb, _ = world
    copy = "requests/aws/acme-staging/carol-poweruser-again.yaml"
    _pushed_and_held(repo, capsys, tmp_path, lambda r: (
        r.write(copy, r.read(CAROL).replace('expires: "2026-12-15"', 'expires: "2027-01-10"')),
        (r.root / CAROL).unlink()))
    monkeypatch.setenv("ACCESSCTL_NOW", AFTER)
    code, doc = run_json(repo, capsys, "expire", "--no-github")
    assert code == 0, doc
    assert [r["principal"] for r in doc["revoked"]] == ["user:carol@acme.example"]
    assert _carol(sb) == 0
    assert CAROL in doc["expired_requests"], "the deleted file counts at its approved (expired) content"


def test_a_held_rules_change_cannot_hide_a_target_from_expiry(world, capsys, tmp_path, monkeypatch):
    repo, sb, _ = world
    targets = repo.read("policies/data/targets.yaml")
    start = targets.index("    - name: acme-staging")
    end = targets.index("    - name: acme-prod")
    _pushed_and_held(repo, capsys, tmp_path,
                     lambda r: r.write("policies/data/targets.yaml", targets[:start] + targets[end:]))
    state = unapproved.load(repo.root)
    assert [h.path for h in state.rules_held] == ["policies/data/targets.yaml"]
    monkeypatch.setenv("ACCESSCTL_NOW", AFTER)
    code, doc = run_json(repo, capsys, "expire", "--no-github")
    assert code == 0, doc
    assert [r["principal"] for r in doc["revoked"]] == ["user:carol@acme.example"]
    assert _carol(sb) == 0, "judged by the last approved org model, where acme-staging is still managed"
    assert any("rules change is held" in n for n in doc["notes"])


def test_an_approved_expiry_that_has_not_come_yet_is_not_shortened_by_a_held_change(world, capsys, tmp_path,
                                                                                    monkeypatch):
    """The other direction: holding is not revoking. A pushed, shorter expiry is held like any
    unapproved content; the approved one stays in force until it passes."""
    repo, sb, _ = world
    _pushed_and_held(repo, capsys, tmp_path,
                     lambda r: r.write(CAROL, r.read(CAROL).replace('expires: "2026-12-15"', 'expires: "2026-12-01"')))
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-05T00:00:00Z")
    code, doc = run_json(repo, capsys, "expire", "--no-github")
    assert code == 0 and doc["revoked"] == [], doc
    assert _carol(sb) == 1
