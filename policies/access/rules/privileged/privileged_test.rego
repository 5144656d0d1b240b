package access.rules.privileged_test

import data.access.fixtures
import data.access.rules.privileged

_admin := [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "AdministratorAccess"}]

test_allow_privileged_with_ticket if {
	req := fixtures.with_request({"grants": _admin, "ticket": "OPS-1", "expires": "2026-11-22T20:00:00Z"})
	inp := fixtures.input_for(req)
	count(privileged.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_privileged_ticket_required if {
	req := fixtures.with_request({"grants": _admin, "expires": "2026-11-22T20:00:00Z"})
	inp := fixtures.input_for(req)
	expected := {fixtures.violation(privileged._rules, "privileged-ticket-required", "privileged access needs a ticket reference")}
	privileged.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_break_glass_within_four_hours_raises_review if {
	req := fixtures.with_request({"grants": _admin, "ticket": "INC-9", "break_glass": true, "expires": "2026-11-22T16:00:00Z"})
	inp := fixtures.input_for(req)
	count(privileged.deny) == 0 with input as inp with data.org as fixtures.org
	privileged.post_incident_review with input as inp with data.org as fixtures.org
}

test_deny_break_glass_too_long if {
	req := fixtures.with_request({"grants": _admin, "ticket": "INC-9", "break_glass": true, "expires": "2026-11-22T17:00:00Z"})
	inp := fixtures.input_for(req)
	expected := {fixtures.violation(privileged._rules, "break-glass-too-long", "break-glass access may last at most 4 hours, this one lasts 5 hours")}
	privileged.deny == expected with input as inp with data.org as fixtures.org
}

# tiers.*.ticket_required is data: another tier can require a ticket ...
test_deny_privileged_ticket_required_read_from_data if {
	org := json.patch(fixtures.org, [{"op": "replace", "path": "/tiers/sensitive/ticket_required", "value": true}])
	req := fixtures.with_request({"grants": [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "DeployProd"}]})
	inp := fixtures.input_for(req)
	expected := {fixtures.violation(privileged._rules, "privileged-ticket-required", "sensitive access needs a ticket reference")}
	privileged.deny == expected with input as inp with data.org as org
}

# ... and the privileged tier need not, when the data says so.
test_allow_privileged_without_ticket_when_data_does_not_require_it if {
	org := json.patch(fixtures.org, [{"op": "replace", "path": "/tiers/privileged/ticket_required", "value": false}])
	req := fixtures.with_request({"grants": _admin, "expires": "2026-11-22T20:00:00Z"})
	inp := fixtures.input_for(req)
	count(privileged.deny) == 0 with input as inp with data.org as org
}
