package access.rules.production_test

import data.access.fixtures
import data.access.rules.production

_prod := [{"kind": "aws-sso-assignment", "target": "acme-prod", "entitlement": "ReadOnly"}]

test_allow_production_with_ticket if {
	inp := fixtures.input_for(fixtures.with_request({"grants": _prod, "ticket": "OPS-7"}))
	count(production.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_dev_without_ticket if {
	inp := fixtures.input_for(fixtures.user_request)
	count(production.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_production_ticket_required if {
	inp := fixtures.input_for(fixtures.with_request({"grants": _prod, "ticket": ""}))
	expected := {fixtures.violation(production._rules, "production-ticket-required", "acme-prod is production and needs a ticket reference")}
	production.deny == expected with input as inp with data.org as fixtures.org
}
