"""Invariant: a rules PR's own rules are evaluated only to show their effect
on existing access; they never judge the PR, and they never reach the OPA
server that does.

The attacker loosens a rule (in Rego, or in the org model's data) in the
same PR as a request that only the loosened rule would pass, and collects
every approval a rules change needs. The request is still judged by the
base rules: denied. With a real OPA server judging, the server holds the
base modules only, while the impact section proves the head rules were
compiled (in their own embedded engine)."""
from __future__ import annotations

import json

import pytest
from conftest import git
from fakes.opa_stub import OpaStub
from test_check_pr import local_pr
from test_pr_lifecycle import request

from tools.core.repo import Tree
from tools.policy.engines import is_test_module, policy_id

PRIVILEGED = "policies/access/rules/privileged/privileged.rego"
TIERS = "policies/data/tiers.yaml"
ADMIN = "requests/aws/acme-prod/olivia-admin.yaml"
NO_TICKET = request("user:olivia@acme.example", "olivia-acme",
                    "  - {kind: aws-sso-assignment, account: acme-prod, permission_set: AdministratorAccess}\n",
                    "2026-11-22T20:00:00Z",
                    justification="Restore the payments queue after incident INC-12 broke the consumer.")
APPROVERS = [("niaj-acme", ["acme/sre"]), ("ivan-acme", ["acme/security"]), ("judy-acme", ["acme/security"])]


def loosen_rego(repo) -> dict[str, str]:
    text = repo.read(PRIVILEGED)
    old = "\tcount(_ticket_tiers) > 0\n\tnot lib.has_ticket(input.request)\n"
    assert old in text
    return {PRIVILEGED: text.replace(old, old + "\tfalse # tickets are a formality\n")}


def loosen_data(repo) -> dict[str, str]:
    text = repo.read(TIERS)
    old = "    security_approval: true\n    ticket_required: true\n"
    assert old in text
    return {TIERS: text.replace(old, "    security_approval: true\n    ticket_required: false\n")}


def attack(repo, capsys, loosen, *extra: str) -> dict:
    base = git(repo.root, "rev-parse", "HEAD").strip()
    changes = {**loosen(repo), ADMIN: NO_TICKET}
    for path, text in changes.items():
        repo.write(path, text)
    files = [(p, "added" if p == ADMIN else "modified") for p in changes]
    ctx = local_pr(repo, base, files, APPROVERS, author="olivia-acme")
    result = repo.run("check-pr", "--pr-context", ctx, "--format", "json", *extra, capsys=capsys)
    doc = json.loads(result.out)
    assert result.code == 1 and not doc["allow"], doc["headline"]
    return doc


@pytest.mark.parametrize("loosen", [loosen_rego, loosen_data], ids=["rego", "org-model"])
def test_a_rules_pr_cannot_pass_its_own_request_with_the_rule_it_loosens(repo, capsys, loosen):
    doc = attack(repo, capsys, loosen)
    mine = next(f for f in doc["files"] if f["file"] == ADMIN)
    assert not mine["allow"]
    assert "privileged-ticket-required" in {v["rule"] for v in mine["violations"]}
    assert doc["rules_from"] == f"commit {doc['pr']['base_sha']}"
    # the head rules were evaluated, for the reviewers only (requests on main, not the PR's)
    assert doc["impact"] is not None and doc["impact"]["errors"] == []
    assert doc["impact"]["head_rules"] == f"commit {doc['pr']['head_sha']}"
    assert ADMIN not in {d["file"] for d in doc["impact"]["decisions"]}


def test_the_head_rules_never_reach_the_opa_server_that_judges(repo, capsys, monkeypatch):
    stub = OpaStub().start()
    try:
        monkeypatch.setenv("ACCESSCTL_OPA_URL", stub.url)
        base = git(repo.root, "rev-parse", "HEAD").strip()
        doc = attack(repo, capsys, loosen_rego)
    finally:
        stub.stop()
    assert doc["engine"] == "opa-server" and stub.errors == []
    mine = next(f for f in doc["files"] if f["file"] == ADMIN)
    assert "privileged-ticket-required" in {v["rule"] for v in mine["violations"]}
    base_tree = Tree(repo.root, base)
    expected = {policy_id(p): base_tree.read_text(p) for p in base_tree.list("policies", (".rego",))
                if not is_test_module(p)}
    assert stub.policies == expected  # exactly the base modules, byte for byte
    assert not any("tickets are a formality" in src for src in stub.policies.values())
    assert doc["impact"] is not None and doc["impact"]["errors"] == []
