"""Attack: use a waiver to get access nobody approved.

A waiver for `catalog-not-requestable` is legitimate data (an owner, an
expiry, a reason). The attacker then asks, in that waived file, for an
administrator role the catalog does not list, approves it themselves and
sets an expiry a year away. The waiver must remove that one violation and
nothing else: the grant is judged as the strictest tier, so owner and
security approvals, a ticket and the 12-hour limit still stand, and the PR
check does not turn green.
"""
from __future__ import annotations

import json

FILE = "requests/aws/acme-staging/mallory-vendor-admin.yaml"


def test_a_waived_catalog_violation_does_not_waive_approvals_or_expiry(repo, capsys):
    repo.write("policies/data/waivers.yaml", f"""waivers:
  - rule: catalog-not-requestable
    file: {FILE}
    owner: platform
    expires: "2027-01-01"
    reason: Vendor role pending catalog review; tracked in PLAT-900.
""")
    base = repo.commit("a legitimate waiver on main")
    repo.write(FILE, """apiVersion: accessctl/v1
kind: AccessRequest
principal: user:carol@acme.example
requester: carol-acme
justification: Vendor console access for the storage migration this quarter.
expires: "2027-11-01"
grants:
  - {kind: aws-sso-assignment, account: acme-staging, permission_set: VendorFullAdmin}
""")
    head = repo.commit("the attacker's PR")
    ctx = {"number": 66, "author": "carol-acme", "head_sha": head, "base_sha": base,
           "files": [{"path": FILE, "status": "added"}],
           "reviews": [{"user": "carol-acme", "state": "APPROVED", "commit_id": head, "teams": ["acme/platform"]},
                       {"user": "bob-acme", "state": "APPROVED", "commit_id": head, "teams": ["acme/platform"]}]}
    path = repo.root.parent / "pr.json"
    path.write_text(json.dumps(ctx))
    result = repo.run("check-pr", "--pr-context", str(path), "--format", "json", capsys=capsys)
    verdict = json.loads(result.out)
    assert result.code == 1 and verdict["verdict"] != "allowed"
    [f] = verdict["files"]
    assert [w["rule"] for w in f["waived"]] == ["catalog-not-requestable"]
    rules = {v["rule"] for v in f["violations"]}
    assert {"expiry-too-long", "privileged-ticket-required", "approval-security-missing"} <= rules
