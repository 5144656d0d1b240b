package access.waivers_test

import data.access
import data.access.fixtures

_prod := fixtures.with_request({"grants": [{"kind": "aws-sso-assignment", "target": "acme-prod", "entitlement": "ReadOnly"}]})

_waiver(rule, expires, owner) := {
	"rule": rule, "file": fixtures.file, "owner": owner, "expires": expires,
	"reason": "Ticketing system migration; tickets are back on Monday.",
}

_org(waivers) := object.union(fixtures.org, {"waivers": waivers})

_violation := {
	"rule": "production-ticket-required", "title": "Production access without a ticket", "severity": "medium",
	"remediation": "Add `ticket` with the reference of the work this access is for, e.g. ticket: OPS-1234.",
	"message": "acme-prod is production and needs a ticket reference", "file": fixtures.file,
}

test_allow_waived_violation_reported_separately if {
	inp := fixtures.input_for(_prod)
	org := _org([_waiver("production-ticket-required", "2026-12-01T00:00:00Z", "platform")])
	d := access.decision with input as inp with data.org as org
	d.allow == true
	d.violations == []
	d.waived == [object.union(_violation, {"waiver": {
		"owner": "platform", "expires": "2026-12-01T00:00:00Z",
		"reason": "Ticketing system migration; tickets are back on Monday.",
	}})]
}

test_deny_expired_waiver_does_not_apply if {
	inp := fixtures.input_for(_prod)
	org := _org([_waiver("production-ticket-required", "2026-11-01T00:00:00Z", "platform")])
	d := access.decision with input as inp with data.org as org
	d.allow == false
	d.violations == [_violation]
	d.waived == []
}

test_deny_waiver_without_real_owner_does_not_apply if {
	inp := fixtures.input_for(_prod)
	org := _org([_waiver("production-ticket-required", "2026-12-01T00:00:00Z", "nobody")])
	d := access.decision with input as inp with data.org as org
	d.violations == [_violation]
}

test_deny_safety_rules_cannot_be_waived if {
	inp := object.union(fixtures.input_for(fixtures.user_request), {"pr": {
		"number": 3, "author": "bob-acme", "head_sha": "h", "base_sha": "b", "reviews": [],
		"files": [{"path": fixtures.file, "status": "added"}],
	}})
	org := _org([_waiver("approval-owner-missing", "2026-12-01T00:00:00Z", "platform")])
	d := access.decision with input as inp with data.org as org
	d.allow == false
	[v.rule | some v in d.violations] == ["approval-owner-missing"]
	d.waived == []
}
