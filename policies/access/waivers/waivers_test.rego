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

# Waiving catalog-not-requestable removes that one violation: the grant still
# needs its owners' approval and ends within the strictest tier's limit.
test_deny_waived_catalog_violation_keeps_approval_and_expiry_limit if {
	req := fixtures.with_request({"grants": [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "NotInCatalog"}]})
	inp := object.union(fixtures.input_for(req), {"pr": {
		"number": 3, "author": "bob-acme", "head_sha": "h", "base_sha": "b", "reviews": [],
		"files": [{"path": fixtures.file, "status": "added"}],
	}})
	org := _org([_waiver("catalog-not-requestable", "2026-12-01T00:00:00Z", "platform")])
	d := access.decision with input as inp with data.org as org
	d.allow == false
	[w.rule | some w in d.waived] == ["catalog-not-requestable"]
	rules := {v.rule | some v in d.violations}
	{"approval-owner-missing", "expiry-too-long", "privileged-ticket-required"} & rules == {"approval-owner-missing", "expiry-too-long", "privileged-ticket-required"}
	d.required_approvals == {"approvals": 2, "teams": ["platform"], "security": true, "fallback": []}
}

# Two waivers for the same rule and file: the first applies, no conflict error.
test_allow_duplicate_waivers_do_not_break_the_decision if {
	inp := fixtures.input_for(_prod)
	org := _org([
		_waiver("production-ticket-required", "2026-12-01T00:00:00Z", "platform"),
		_waiver("production-ticket-required", "2026-12-02T00:00:00Z", "platform"),
	])
	d := access.decision with input as inp with data.org as org
	d.allow == true
	[w.waiver.expires | some w in d.waived] == ["2026-12-01T00:00:00Z"]
}

# A waiver whose expiry Go's RFC 3339 parser refuses never applies (and
# never errors), whichever engine runs.
test_deny_waiver_with_unparsable_expiry_does_not_apply if {
	inp := fixtures.input_for(_prod)
	org := _org([_waiver("production-ticket-required", "2026-12-01 00:00:00Z", "platform")])
	d := access.decision with input as inp with data.org as org
	d.violations == [_violation]
}

# An inactive person stays without access whatever a waiver says: the
# principal-unknown violation cannot be waived.
test_deny_principal_unknown_cannot_be_waived if {
	req := fixtures.with_request({"principal": {"type": "user", "id": "mallory@acme.example", "ref": "user:mallory@acme.example"}})
	inp := fixtures.input_for(req)
	org := _org([_waiver("principal-unknown", "2026-12-01T00:00:00Z", "platform")])
	d := access.decision with input as inp with data.org as org
	d.allow == false
	"principal-unknown" in {v.rule | some v in d.violations}
	d.waived == []
}

# Nor an address outside the organisation's domains.
test_deny_principal_external_cannot_be_waived if {
	req := fixtures.with_request({"principal": {"type": "user", "id": "eve@evil.example", "ref": "user:eve@evil.example"}})
	inp := fixtures.input_for(req)
	org := _org([_waiver("principal-external", "2026-12-01T00:00:00Z", "platform")])
	d := access.decision with input as inp with data.org as org
	d.allow == false
	"principal-external" in {v.rule | some v in d.violations}
	d.waived == []
}

# A waiver for another file, or for another rule, waives nothing here.
test_deny_waiver_for_other_file_or_rule_does_not_apply if {
	inp := fixtures.input_for(_prod)
	other := object.union(_waiver("production-ticket-required", "2026-12-01T00:00:00Z", "platform"), {"file": "requests/aws/acme-dev/other.yaml"})
	org := _org([other, _waiver("expiry-too-long", "2026-12-01T00:00:00Z", "platform")])
	d := access.decision with input as inp with data.org as org
	d.violations == [_violation]
	d.waived == []
}
