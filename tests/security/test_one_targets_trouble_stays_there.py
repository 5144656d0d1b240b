"""Invariant: one target's trouble stays there. A read failure (AccessDenied)
on one project does not stop the others: they are planned and applied, the
failed target is named with its error, the exit code is 1. GCP server
errors (500/502/503/504) are retried with backoff on reads and on writes."""
from __future__ import annotations

from jobs_world import group_members, run_json, world  # noqa: F401

VIEWER = "roles/bigquery.dataViewer"


def _strip_erin(sb):
    policy = sb.gcp.policy("acme-data-prod")
    for b in policy["bindings"]:
        if b["role"] == VIEWER:
            b["members"] = [m for m in b["members"] if m != "user:erin@acme.example"]
    sb.gcp.seed_policy("acme-data-prod", [b for b in policy["bindings"] if b["members"]])


def _erin_bound(sb) -> bool:
    return any("user:erin@acme.example" in b["members"] for b in sb.gcp.policy("acme-data-prod")["bindings"]
               if b["role"] == VIEWER)


def test_access_denied_on_one_project_does_not_stop_the_accounts(world, capsys):
    repo, sb = world
    sb.aws.client("iam", "111111111111").remove_user_from_group(GroupName="developers", UserName="bob@acme.example")
    _strip_erin(sb)
    # the applier lost its role on one project: the first GCP read (acme-data-dev) is denied
    sb.gcp.inject("getIamPolicy", 403)
    code, doc = run_json(repo, capsys, "apply")
    assert code == 1
    assert [(f["provider"], f["target"]) for f in doc["failed_targets"]] == [("gcp", "acme-data-dev")]
    assert "403" in doc["failed_targets"][0]["error"]
    assert "bob@acme.example" in group_members(sb, "111111111111", "developers"), "the accounts were applied"
    assert _erin_bound(sb), "and so was the other project"
    code, doc = run_json(repo, capsys, "apply")  # the project is readable again: it converges
    assert code == 0 and doc["failed_targets"] == []


def test_reconcile_names_the_unreadable_target_and_checks_the_rest(world, capsys):
    repo, sb = world
    sb.aws.client("iam", "111111111111").add_user_to_group(GroupName="developers", UserName="heidi@acme.example")
    sb.gcp.inject("getIamPolicy", 403)
    code, doc = run_json(repo, capsys, "reconcile", "--mode", "fix", "--no-issue")
    assert code == 1
    assert any("acme-data-dev" in e and "cannot be read" in e for e in doc["errors"])
    assert [(d["principal"], d["outcome"]) for d in doc["drift"]] == [("user:heidi@acme.example", "fixed")]


def test_gcp_server_errors_are_retried_on_read_and_on_write(world, capsys):
    repo, sb = world
    _strip_erin(sb)
    for status in (500, 502, 503, 504):
        sb.gcp.inject("getIamPolicy", status)  # the read, then the read of the read-modify-write
    sb.gcp.inject("setIamPolicy", 503)  # the write: the whole read-modify-write restarts
    code, doc = run_json(repo, capsys, "reconcile", "--mode", "fix", "--no-issue")
    assert code == 0, doc
    assert [(d["principal"], d["outcome"]) for d in doc["drift"]] == [("user:erin@acme.example", "fixed")]
    assert _erin_bound(sb)
