"""The scheduled jobs on the loopback emulators, as they run in production:
real boto3 and google-cloud clients against moto and the GCP fake, the
GitHub connector against the GitHub fake."""
from __future__ import annotations

import json

import pytest
from conftest import github_holding_main, make_repo

from tools.sandbox.sandbox import UNMANAGED_GCP


@pytest.fixture
def world(sandbox, tmp_path, monkeypatch):
    """A fresh repository, freshly seeded clouds with main applied, and GitHub."""
    sandbox.reseed()
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    repo = make_repo(tmp_path / "access")
    assert repo.run("apply").code == 0
    with github_holding_main(repo, monkeypatch) as gh:
        yield repo, sandbox, gh


def reconcile(repo, capsys, *args):
    res = repo.run("reconcile", "--format", "json", *args, capsys=capsys)
    return res.code, json.loads(res.out)


def drift_issues(gh):
    return [i for i in gh.issues.values() if "accessctl:issue:drift" in (i.get("body") or "")]


def test_console_grant_is_reported_then_fixed_and_the_issue_follows(world, capsys):
    repo, sb, gh = world
    iam = sb.aws.client("iam", "111111111111")
    iam.add_user_to_group(GroupName="developers", UserName="heidi@acme.example")

    code, doc = reconcile(repo, capsys)
    assert code == 1
    assert [(d["kind"], d["principal"], d["target"]) for d in doc["drift"]] == [
        ("extra", "user:heidi@acme.example", "developers")]
    [issue] = drift_issues(gh)
    assert issue["state"] == "open" and "heidi@acme.example" in issue["body"]

    code, doc = reconcile(repo, capsys, "--mode", "fix")
    assert code == 0 and doc["drift"][0]["outcome"] == "fixed"
    members = [u["UserName"] for u in iam.get_group(GroupName="developers")["Users"]]
    assert "heidi@acme.example" not in members
    assert len(drift_issues(gh)) == 1, "updated, never duplicated"

    code, doc = reconcile(repo, capsys)
    assert code == 0 and doc["drift"] == []
    [issue] = drift_issues(gh)
    assert issue["state"] == "closed", "closed when clean"


def test_deleted_managed_grant_is_restored(world, capsys):
    repo, sb, gh = world
    iam = sb.aws.client("iam", "111111111111")
    iam.remove_user_from_group(GroupName="developers", UserName="bob@acme.example")
    code, doc = reconcile(repo, capsys, "--mode", "fix")
    assert [(d["kind"], d["outcome"]) for d in doc["drift"]] == [("missing", "fixed")]
    assert "bob@acme.example" in [u["UserName"] for u in iam.get_group(GroupName="developers")["Users"]]


def test_stripped_gcp_expiry_condition_is_changed_then_fixed(world, capsys):
    repo, sb, gh = world
    policy = sb.gcp.policy("acme-data-prod")
    for b in policy["bindings"]:
        if b["role"] == "roles/bigquery.dataViewer":
            b.pop("condition")
    sb.gcp.seed_policy("acme-data-prod", policy["bindings"])
    code, doc = reconcile(repo, capsys)
    assert code == 1
    assert [(d["kind"], d["principal"]) for d in doc["drift"]] == [("changed", "user:erin@acme.example")]
    code, doc = reconcile(repo, capsys, "--mode", "fix")
    assert code == 0
    viewer = [b for b in sb.gcp.policy("acme-data-prod")["bindings"] if b["role"] == "roles/bigquery.dataViewer"]
    assert viewer and all('timestamp("2027-01-31T00:00:00Z")' in b["condition"]["expression"] for b in viewer)
    unmanaged = [b for b in sb.gcp.policy("acme-data-prod")["bindings"] if b["role"] in
                 {u["role"] for u in UNMANAGED_GCP}]
    assert unmanaged == UNMANAGED_GCP, "bindings outside the managed scope are untouched"


def test_shards_together_read_every_target_once(world, capsys):
    repo, sb, gh = world
    seen = []
    for i in (1, 2, 3):
        code, doc = reconcile(repo, capsys, "--shard", f"{i}/3", "--no-issue")
        seen.append(doc["summary"]["targets"])
    assert sum(seen) == len(sb.org.targets)


def test_expired_request_is_revoked_and_one_cleanup_pr_removes_exactly_its_file(world, capsys, monkeypatch):
    repo, sb, gh = world
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-16T00:00:00Z")
    res = repo.run("expire", "--format", "json", capsys=capsys)
    assert res.code == 0, res.out + res.err
    doc = json.loads(res.out)
    assert doc["expired_requests"] == ["requests/aws/acme-staging/carol-poweruser.yaml"]
    assert [(r["principal"], r["target"], r["ok"]) for r in doc["revoked"]] == [
        ("user:carol@acme.example", "PowerUser", True)]
    pulls = [p for p in gh.pulls.values() if p.head_ref.startswith("accessctl/expired-")]
    assert len(pulls) == 1
    # opened with the App's token (as expire.yml does): GitHub starts the PR check on it
    assert pulls[0].starts_workflows and pulls[0].author == "accessctl[bot]"
    branch = gh.branches[pulls[0].head_ref]["files"]
    assert "requests/aws/acme-staging/carol-poweruser.yaml" not in branch
    assert set(gh.branches["main"]["files"]) - set(branch) == {"requests/aws/acme-staging/carol-poweruser.yaml"}
    # the daily job runs again: nothing more is revoked, no second PR
    res = repo.run("expire", "--format", "json", capsys=capsys)
    assert json.loads(res.out)["revoked"] == []
    assert len([p for p in gh.pulls.values() if p.head_ref.startswith("accessctl/expired-")]) == 1


def test_reminder_is_sent_once_as_a_renew_pr(world, capsys, monkeypatch):
    repo, sb, gh = world
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-10T00:00:00Z")  # carol's access ends 2026-12-15
    res = repo.run("expire", "--format", "json", capsys=capsys)
    doc = json.loads(res.out)
    assert [r["request"] for r in doc["reminders"]] == ["requests/aws/acme-staging/carol-poweruser.yaml"]
    renew = [p for p in gh.pulls.values() if p.head_ref.startswith("accessctl/renew/")]
    assert len(renew) == 1 and "@carol-acme" in renew[0].body
    text = gh.branches[renew[0].head_ref]["files"]["requests/aws/acme-staging/carol-poweruser.yaml"].decode()
    assert 'expires: "2027-01-09"' in text  # 30 days (PowerUser is sensitive) from the reminder
    assert text.replace('expires: "2027-01-09"', 'expires: "2026-12-15"') == \
        repo.read("requests/aws/acme-staging/carol-poweruser.yaml"), "only the expiry line changes"
    # closed without merging: still never reminded twice
    renew[0].state = "closed"
    res = repo.run("expire", "--format", "json", capsys=capsys)
    assert json.loads(res.out)["reminders"] == []
    assert len([p for p in gh.pulls.values() if p.head_ref.startswith("accessctl/renew/")]) == 1


def test_import_round_trip_on_the_emulators(world, capsys):
    repo, sb, gh = world
    sso = sb.aws.client("sso-admin")
    seeded = sb.seeded
    sso.create_account_assignment(InstanceArn=seeded.instance_arn, TargetId="222222222222",
                                  TargetType="AWS_ACCOUNT", PermissionSetArn=seeded.permission_sets["ReadOnly"],
                                  PrincipalType="GROUP", PrincipalId=seeded.groups["data"])
    res = repo.run("import", "--provider", "aws", "--format", "json", capsys=capsys)
    assert json.loads(res.out)["written"] == ["requests/aws/acme-staging/imported-data.yaml"]
    plan = json.loads(repo.run("plan", "--provider", "aws", "--format", "json", capsys=capsys).out)
    assert plan["changes"] == []
