package access.rules.principals_test

import data.access.fixtures
import data.access.rules.principals

_as(type, id) := fixtures.with_request({"principal": {"type": type, "id": id, "ref": sprintf("%s:%s", [type, id])}})

test_allow_principal_active_person if {
	inp := fixtures.input_for(fixtures.user_request)
	count(principals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_principal_team_group if {
	inp := fixtures.input_for(_as("group", "platform"))
	count(principals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_principal_defined_service_account if {
	inp := fixtures.input_with_state(_as("serviceAccount", "acme-dev/billing-deployer"), [fixtures.ci_role_grant])
	count(principals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_principal_public_all_users if {
	inp := fixtures.input_for(_as("user", "allUsers"))
	expected := {fixtures.violation(principals._rules, "principal-public", "user:allUsers is a public principal")}
	principals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_principal_public_wildcard if {
	inp := fixtures.input_for(_as("user", "*@acme.example"))
	expected := {fixtures.violation(principals._rules, "principal-public", "user:*@acme.example is a public principal")}
	principals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_principal_external_domain if {
	inp := fixtures.input_for(_as("user", "eve@gmail.example"))
	expected := {fixtures.violation(principals._rules, "principal-external", "user:eve@gmail.example is outside the organisation's domains (acme.example)")}
	principals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_principal_external_service_account if {
	inp := fixtures.input_for(_as("serviceAccount", "other-corp/deployer"))
	expected := {fixtures.violation(principals._rules, "principal-external", `serviceAccount:other-corp/deployer is in "other-corp", which is not an account or project of the organisation`)}
	principals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_principal_unknown_inactive_person if {
	inp := fixtures.input_for(_as("user", "mallory@acme.example"))
	expected := {fixtures.violation(principals._rules, "principal-unknown", "user:mallory@acme.example is not an active person")}
	principals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_principal_unknown_person if {
	inp := fixtures.input_for(_as("user", "zed@acme.example"))
	expected := {fixtures.violation(principals._rules, "principal-unknown", "user:zed@acme.example is not a person of the organisation")}
	principals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_principal_unknown_team if {
	inp := fixtures.input_for(_as("group", "everyone"))
	expected := {fixtures.violation(principals._rules, "principal-unknown", "group:everyone is not a team of the org model")}
	principals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_principal_unknown_service_account if {
	inp := fixtures.input_for(_as("serviceAccount", "acme-dev/ghost-runner"))
	expected := {fixtures.violation(principals._rules, "principal-unknown", "serviceAccount:acme-dev/ghost-runner is not defined by any ServiceAccount request")}
	principals.deny == expected with input as inp with data.org as fixtures.org
}
