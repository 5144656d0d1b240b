package access.rules.catalog_test

import data.access.fixtures
import data.access.rules.catalog

test_allow_catalog_managed_role if {
	inp := fixtures.input_for(fixtures.user_request)
	count(catalog.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_catalog_not_requestable_outside_catalog if {
	req := fixtures.with_request({"grants": [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "PowerUser"}]})
	inp := fixtures.input_for(req)
	expected := {fixtures.violation(catalog._rules, "catalog-not-requestable", `aws-sso-assignment "PowerUser" is not requestable in acme-dev`)}
	catalog.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_catalog_not_requestable_outside_managed_scope if {
	req := fixtures.with_request({"grants": [{"kind": "aws-iam-group", "target": "acme-dev", "entitlement": "admins"}]})
	inp := fixtures.input_for(req)
	expected := {fixtures.violation(catalog._rules, "catalog-not-requestable", `aws-iam-group "admins" is not requestable in acme-dev`)}
	catalog.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_catalog_unknown_target if {
	req := fixtures.with_request({"grants": [{"kind": "aws-sso-assignment", "target": "acme-moon", "entitlement": "ReadOnly"}]})
	inp := fixtures.input_for(req)
	expected := {fixtures.violation(catalog._rules, "catalog-unknown-target", `aws-sso-assignment "acme-moon" is not a known aws target`)}
	catalog.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_catalog_service_account_known_target if {
	inp := fixtures.input_for(fixtures.ci_role)
	count(catalog.deny) == 0 with input as inp with data.org as fixtures.org
}
