"""The policy keeps its own promises, seen through `accessctl evaluate`.

Each promise has a Rego unit test beside its rule; these are the same cases
as a user meets them: request files and org-model files in a repository,
judged by the CLI with the rules of the base commit.
"""
from __future__ import annotations

import json

from conftest import git

CUSTOM = "requests/aws/acme-staging/carol-custom.yaml"
REQUEST = """apiVersion: accessctl/v1
kind: AccessRequest
principal: user:carol@acme.example
requester: carol-acme
justification: Migrate the staging queues to the new event bus before the freeze.
expires: "2026-12-15"
grants:
  - {{kind: aws-sso-assignment, account: acme-staging, permission_set: {role}}}
"""


def decide(repo, capsys, *args: str) -> tuple[int, list[dict]]:
    result = repo.run("evaluate", *args, "--format", "json", capsys=capsys)
    return result.code, json.loads(result.out)


def pr_file(repo, base: str, files: dict[str, str]) -> str:
    head = git(repo.root, "rev-parse", "HEAD").strip()
    ctx = {"number": 9, "author": "carol-acme", "head_sha": head, "base_sha": base, "reviews": [],
           "files": [{"path": p, "status": s} for p, s in files.items()]}
    path = repo.root.parent / "pr.json"
    path.write_text(json.dumps(ctx))
    return str(path)


def rules(decision: dict) -> list[str]:
    return [v["rule"] for v in decision["violations"]]


def test_waiving_catalog_not_requestable_keeps_owner_approval_and_expiry_limit(repo, capsys):
    repo.write("policies/data/waivers.yaml", f"""waivers:
  - rule: catalog-not-requestable
    file: {CUSTOM}
    owner: platform
    expires: "2027-01-01"
    reason: Vendor role pending catalog review; tracked in PLAT-900.
""")
    repo.write(CUSTOM, REQUEST.format(role="VendorSupport"))
    base = repo.commit("waiver and request")
    code, [d] = decide(repo, capsys, "--pr-context", pr_file(repo, base, {CUSTOM: "added"}))
    assert code == 1 and d["allow"] is False
    assert [w["rule"] for w in d["waived"]] == ["catalog-not-requestable"]
    assert {"approval-owner-missing", "expiry-too-long"} <= set(rules(d))
    too_long = next(v for v in d["violations"] if v["rule"] == "expiry-too-long")
    assert "not in the catalog, so privileged tier: at most 12 hours" in too_long["message"]
    assert d["required_approvals"]["teams"] == ["platform"] and d["required_approvals"]["approvals"] == 2


def test_ticket_required_is_read_from_the_tiers_file(repo, capsys):
    (repo.root / "requests/aws/acme-staging/carol-poweruser.yaml").unlink()  # the sample holds this grant
    repo.write(CUSTOM, REQUEST.format(role="PowerUser"))  # sensitive tier, no ticket
    repo.commit("request")
    code, [d] = decide(repo, capsys, CUSTOM)
    assert code == 0 and d["allow"] is True, d
    tiers = repo.read("policies/data/tiers.yaml")
    sensitive = tiers.index("sensitive:")
    repo.write("policies/data/tiers.yaml", tiers[:sensitive] + tiers[sensitive:].replace(
        "ticket_required: false", "ticket_required: true", 1))
    repo.commit("sensitive needs a ticket")
    code, [d] = decide(repo, capsys, CUSTOM)
    assert code == 1 and rules(d) == ["privileged-ticket-required"]
    assert d["violations"][0]["message"] == "sensitive access needs a ticket reference"


def test_a_request_without_expiry_that_reaches_the_policy_is_denied_with_a_fix(repo, capsys):
    path = "requests/aws/acme-staging/frank-imported.yaml"
    repo.write(path, """apiVersion: accessctl/v1
kind: AccessRequest
imported: true
principal: user:carol@acme.example
grants:
  - {kind: aws-sso-assignment, account: acme-staging, permission_set: ReadOnly}
""")
    repo.commit("imported")
    code, [d] = decide(repo, capsys, path)
    assert code == 1 and "expiry-missing" in rules(d)
    missing = next(v for v in d["violations"] if v["rule"] == "expiry-missing")
    assert missing["message"] == "AccessRequest has no expiry" and "expires" in missing["remediation"]


def test_removals_mixed_with_a_rule_change_are_denied(repo, capsys):
    carol = "requests/aws/acme-staging/carol-poweruser.yaml"
    base = repo.commit("base")
    git(repo.root, "rm", "-q", carol)
    repo.write("policies/data/tiers.yaml", repo.read("policies/data/tiers.yaml").replace("max_hours: 12", "max_hours: 24"))
    repo.commit("remove access and relax a limit in one PR")
    mixed = pr_file(repo, base, {carol: "removed", "policies/data/tiers.yaml": "modified"})
    code, [d] = decide(repo, capsys, "--pr-context", mixed)
    assert code == 1 and d["file"] == carol and rules(d) == ["pr-mixes-rules-and-requests"]
    alone = pr_file(repo, base, {carol: "removed"})
    code, decisions = decide(repo, capsys, "--pr-context", alone)
    assert code == 0 and decisions == []


def test_explain_input_prints_input_and_data_when_the_engine_fails(repo, capsys):
    repo.write("policies/access/zz_broken.rego", 'package access.zz\n\nx := to_number("not a number")\n')
    repo.write("policies/access/decision.rego", repo.read("policies/access/decision.rego").replace(
        '"allow": count(_violations) == 0,', '"allow": data.access.zz.x == 1,'))
    carol = "requests/aws/acme-staging/carol-poweruser.yaml"
    result = repo.run("evaluate", carol, "--explain-input", capsys=capsys)
    assert result.code == 1
    explained = json.loads(result.out)
    assert explained["input"]["file"] == carol and explained["input"]["request"]["kind"] == "AccessRequest"
    assert explained["data"]["org"]["organization"]["security_team"] == "security"
    assert f"{carol}: policy evaluation failed" in result.err


def test_explain_input_prints_input_and_data_when_the_policy_does_not_compile(repo, capsys):
    repo.write("policies/access/zz_broken.rego", "package access.zz\n\nx := 1 +\n")
    carol = "requests/aws/acme-staging/carol-poweruser.yaml"
    result = repo.run("evaluate", carol, "--explain-input", capsys=capsys)
    assert result.code == 1 and json.loads(result.out)["input"]["file"] == carol
    assert "policy does not compile" in result.err and "policies/access/zz_broken.rego:" in result.err


def test_an_engine_failure_denies_the_file_instead_of_crashing(repo):
    repo.write("policies/access/zz_broken.rego", 'package access.zz\n\nx := to_number("not a number")\n')
    repo.write("policies/access/decision.rego", repo.read("policies/access/decision.rego").replace(
        '"allow": count(_violations) == 0,', '"allow": data.access.zz.x == 1,'))
    result = repo.run_process("evaluate", "requests/aws/acme-staging/carol-poweruser.yaml")
    assert result.code == 1 and "Traceback" not in result.err
    assert "DENY" in result.out and "policy-error" in result.out
