package access_test

import data.access
import data.access.fixtures

test_allow_decision_clean_request if {
	inp := fixtures.input_for(fixtures.user_request)
	access.decision == {
		"allow": true, "violations": [], "waived": [], "post_incident_review": false,
		"required_approvals": {"approvals": 1, "teams": ["platform"], "security": false, "fallback": []},
	} with input as inp with data.org as fixtures.org
}

test_deny_decision_gathers_every_rule_sorted if {
	req := fixtures.with_request({
		"principal": {"type": "user", "id": "eve@gmail.example", "ref": "user:eve@gmail.example"},
		"grants": [{"kind": "aws-sso-assignment", "target": "acme-prod", "entitlement": "PowerUser"}],
	})
	inp := fixtures.input_for(req)
	d := access.decision with input as inp with data.org as fixtures.org
	d.allow == false
	[v.rule | some v in d.violations] == ["catalog-not-requestable", "principal-external", "production-ticket-required"]
}

test_allow_decision_break_glass_asks_for_post_incident_review if {
	req := fixtures.with_request({
		"grants": [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "AdministratorAccess"}],
		"ticket": "INC-4", "break_glass": true, "expires": "2026-11-22T15:00:00Z",
	})
	inp := fixtures.input_for(req)
	d := access.decision with input as inp with data.org as fixtures.org
	d.allow == true
	d.post_incident_review == true
	d.required_approvals == {"approvals": 1, "teams": ["platform"], "security": false, "fallback": []}
}

_removal_input(paths) := {
	"version": 1, "file": "requests/aws/acme-dev/old.yaml", "now": fixtures.now,
	"request": {"kind": "RequestRemoval"}, "state": {"grants": [], "related": []},
	"pr": {
		"number": 7, "author": "bob-acme", "head_sha": "h", "base_sha": "b", "reviews": [],
		"files": [{"path": p, "status": status} | some p, status in paths],
	},
}

# A PR whose request changes are all removals is still judged as a PR: mixed
# with a rule change it is denied, and nothing else is asked of a removal.
test_deny_decision_pr_mixes_rules_and_requests_with_removals_only if {
	inp := _removal_input({"requests/aws/acme-dev/old.yaml": "removed", "policies/data/tiers.yaml": "modified"})
	d := access.decision with input as inp with data.org as fixtures.org
	d.allow == false
	[v.rule | some v in d.violations] == ["pr-mixes-rules-and-requests"]
}

test_allow_decision_removal_alone if {
	inp := _removal_input({"requests/aws/acme-dev/old.yaml": "removed"})
	d := access.decision with input as inp with data.org as fixtures.org
	d.allow == true
	d.violations == []
}
