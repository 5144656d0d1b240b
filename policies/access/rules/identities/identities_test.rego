package access.rules.identities_test

import data.access.fixtures
import data.access.rules.identities

_ref := "serviceAccount:acme-dev/billing-deployer"

test_allow_identity_ci_role if {
	inp := fixtures.input_for(fixtures.ci_role)
	count(identities.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_identity_ci_role_tag_pattern if {
	inp := fixtures.input_for(object.union(fixtures.ci_role, {"oidc": {"repository": "acme/billing-service", "ref": "refs/tags/v*"}}))
	count(identities.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_identity_owner_unknown if {
	inp := fixtures.input_for(object.union(fixtures.ci_role, {"owner": "nobody"}))
	expected := {fixtures.violation(identities._rules, "identity-owner-unknown", sprintf(`owner team "nobody" of %s does not exist`, [_ref]))}
	identities.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_identity_expiry_too_long if {
	inp := fixtures.input_for(object.union(fixtures.ci_role, {"expires": "2027-11-22T13:00:00Z"}))
	expected := {fixtures.violation(identities._rules, "identity-expiry-too-long", sprintf("%s may live at most 8760 hours, this one lasts 8761 hours", [_ref]))}
	identities.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_identity_oidc_trust_wildcard_repository if {
	inp := fixtures.input_for(object.union(fixtures.ci_role, {"oidc": {"repository": "acme/*", "ref": "refs/heads/main"}}))
	expected := {fixtures.violation(identities._rules, "identity-oidc-trust", sprintf(`%s: repository "acme/*" is not exactly one owner/name`, [_ref]))}
	identities.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_identity_oidc_trust_any_ref if {
	inp := fixtures.input_for(object.union(fixtures.ci_role, {"oidc": {"repository": "acme/billing-service", "ref": "*"}}))
	expected := {fixtures.violation(identities._rules, "identity-oidc-trust", sprintf(`%s: ref "*" is not a branch, tag or environment pattern`, [_ref]))}
	identities.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_identity_oidc_trust_missing if {
	inp := fixtures.input_for(object.union(fixtures.ci_role, {"oidc": null}))
	expected := {fixtures.violation(identities._rules, "identity-oidc-trust", sprintf("%s: it names no OIDC repository and ref", [_ref]))}
	identities.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_identity_user_managed_keys if {
	inp := fixtures.input_for(object.union(fixtures.ci_role, {"user_managed_keys": true}))
	expected := {fixtures.violation(identities._rules, "identity-user-managed-keys", sprintf("%s asks for user-managed keys", [_ref]))}
	identities.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_identity_agent_trusting_a_runtime_role_needs_no_oidc if {
	inp := fixtures.input_for(fixtures.agent_role)
	count(identities.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_identity_oidc_trust_of_an_agent_is_judged_like_ci if {
	inp := fixtures.input_for(object.union(fixtures.agent_role, {"oidc": {"repository": "acme/*", "ref": "refs/heads/main"}}))
	expected := {fixtures.violation(identities._rules, "identity-oidc-trust", `serviceAccount:acme-dev/triage-agent: repository "acme/*" is not exactly one owner/name`)}
	identities.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_identity_integration_key_is_the_one_exception if {
	inp := fixtures.input_for(fixtures.integration)
	count(identities.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_identity_user_managed_keys_credential_on_an_agent if {
	inp := fixtures.input_for(object.union(fixtures.agent_role, {"credential": {"type": "access-key", "store": "secrets-manager", "rotate_days": 30}}))
	expected := {fixtures.violation(identities._rules, "identity-user-managed-keys", "serviceAccount:acme-dev/triage-agent asks for a key (credential) but is not a third-party integration")}
	identities.deny == expected with input as inp with data.org as fixtures.org
}
