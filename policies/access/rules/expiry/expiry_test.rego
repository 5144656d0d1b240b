package access.rules.expiry_test

import data.access.fixtures
import data.access.rules.expiry

test_allow_expiry_within_tier if {
	inp := fixtures.input_for(fixtures.with_request({"expires": "2027-02-20T12:00:00Z"}))
	count(expiry.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_expiry_missing if {
	inp := fixtures.input_for(object.remove(fixtures.user_request, ["expires"]))
	expected := {fixtures.violation(expiry._rules, "expiry-missing", "AccessRequest has no expiry")}
	expiry.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_expiry_past if {
	inp := fixtures.input_for(fixtures.with_request({"expires": "2026-11-22T12:00:00Z"}))
	expected := {fixtures.violation(expiry._rules, "expiry-past", "expires 2026-11-22T12:00:00Z is not after now (2026-11-22T12:00:00Z)")}
	expiry.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_expiry_too_long_for_standard if {
	inp := fixtures.input_for(fixtures.with_request({"expires": "2027-02-20T13:00:00Z"}))
	expected := {fixtures.violation(expiry._rules, "expiry-too-long", `aws-sso-assignment "ReadOnly" is standard tier: at most 2160 hours, but this request lasts 2161 hours (until 2027-02-20T13:00:00Z)`)}
	expiry.deny == expected with input as inp with data.org as fixtures.org
}

# The catalog may lower a tier's maximum for one role (DeployProd: 48 hours).
test_deny_expiry_too_long_for_role_limit if {
	req := fixtures.with_request({
		"expires": "2026-11-25T12:00:00Z",
		"grants": [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "DeployProd"}],
	})
	inp := fixtures.input_for(req)
	expected := {fixtures.violation(expiry._rules, "expiry-too-long", `aws-sso-assignment "DeployProd" is sensitive tier: at most 48 hours, but this request lasts 72 hours (until 2026-11-25T12:00:00Z)`)}
	expiry.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_expiry_numbers_come_from_data if {
	longer := json.patch(fixtures.org, [{"op": "replace", "path": "/tiers/standard/max_hours", "value": 4000}])
	inp := fixtures.input_for(fixtures.with_request({"expires": "2027-02-20T13:00:00Z"}))
	count(expiry.deny) == 0 with input as inp with data.org as longer
}

# A request that reaches the policy with `expires: null` (an imported file
# its owner has not answered for yet) is denied, not waved through.
test_deny_expiry_missing_when_null if {
	inp := fixtures.input_for(fixtures.with_request({"expires": null, "imported": true}))
	expected := {fixtures.violation(expiry._rules, "expiry-missing", "AccessRequest has no expiry")}
	expiry.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_expiry_missing_for_a_service_account if {
	inp := fixtures.input_for(object.union(fixtures.ci_role, {"expires": null}))
	expected := {fixtures.violation(expiry._rules, "expiry-missing", "ServiceAccount has no expiry")}
	expiry.deny == expected with input as inp with data.org as fixtures.org
}

# A role outside the catalog is judged by the strictest tier's limit.
test_deny_expiry_too_long_outside_the_catalog if {
	req := fixtures.with_request({
		"expires": "2026-11-23T12:00:00Z",
		"grants": [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "NotInCatalog"}],
	})
	inp := fixtures.input_for(req)
	expected := {fixtures.violation(expiry._rules, "expiry-too-long", `aws-sso-assignment "NotInCatalog" is not in the catalog, so privileged tier: at most 12 hours, but this request lasts 24 hours (until 2026-11-23T12:00:00Z)`)}
	expiry.deny == expected with input as inp with data.org as fixtures.org
}
