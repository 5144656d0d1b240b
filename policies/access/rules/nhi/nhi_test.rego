package access.rules.nhi_test

import data.access.fixtures
import data.access.rules.nhi

_agent_ref := "serviceAccount:acme-dev/triage-agent"

_integration_ref := "serviceAccount:acme-dev/pagerduty-sync"

# _grant_to: a request granting `grants` to the agent or integration `sa`,
# judged with the identity's own grant in the desired state.
_grant_to(sa, overrides) := fixtures.input_with_state(object.union(_request_for(sa), overrides), [fixtures.nhi_grant(sa)])

_request_for(sa) := fixtures.with_request({
	"principal": {"type": "serviceAccount", "id": substring(sa.ref, 15, -1), "ref": sa.ref},
	"justification": "Task: triage new on-call tickets and open incidents.",
	"expires": "2027-01-15T00:00:00Z",
})

test_allow_nhi_agent_definition if {
	inp := fixtures.input_for(fixtures.agent_role)
	count(nhi.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_nhi_gcp_agent_definition if {
	inp := fixtures.input_for(fixtures.gcp_agent)
	count(nhi.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_nhi_integration_definition if {
	inp := fixtures.input_for(fixtures.integration)
	count(nhi.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_nhi_agent_standard_grant_naming_its_task if {
	inp := _grant_to(fixtures.agent_role, {})
	count(nhi.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_nhi_ci_role_grant_needs_no_task if {
	req := fixtures.with_request({
		"principal": {"type": "serviceAccount", "id": "acme-dev/billing-deployer", "ref": "serviceAccount:acme-dev/billing-deployer"},
		"expires": "2027-01-15T00:00:00Z",
	})
	inp := fixtures.input_with_state(req, [fixtures.ci_role_grant])
	count(nhi.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_nhi_expiry_too_long_agent if {
	inp := fixtures.input_for(object.union(fixtures.agent_role, {"expires": "2027-02-20T13:00:00Z"}))
	expected := {fixtures.violation(nhi._rules, "nhi-expiry-too-long", sprintf("%s (use: agent) may live at most 2160 hours, this one lasts 2161 hours", [_agent_ref]))}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_nhi_expiry_too_long_integration_follows_the_tier_setting if {
	org := json.patch(fixtures.org, [{"op": "replace", "path": "/tiers/integration/max_hours", "value": 720}])
	inp := fixtures.input_for(fixtures.integration)
	expected := {fixtures.violation(nhi._rules, "nhi-expiry-too-long", sprintf("%s (use: integration) may live at most 720 hours, this one lasts 1692 hours", [_integration_ref]))}
	nhi.deny == expected with input as inp with data.org as org
}

test_deny_nhi_runtime_external_aws_account if {
	inp := fixtures.input_for(object.union(fixtures.agent_role, {"runtime": "arn:aws:iam::999999999999:role/agent-runtime"}))
	expected := {fixtures.violation(nhi._rules, "nhi-runtime-external", sprintf(`%s: runtime "arn:aws:iam::999999999999:role/agent-runtime" is not in an account or project of the organisation`, [_agent_ref]))}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_nhi_runtime_external_gcp_project if {
	inp := fixtures.input_for(object.union(fixtures.gcp_agent, {"runtime": "serviceAccount:agent-runtime@other-corp.iam.gserviceaccount.com"}))
	expected := {fixtures.violation(nhi._rules, "nhi-runtime-external", `serviceAccount:acme-data-prod/triage-agent: runtime "serviceAccount:agent-runtime@other-corp.iam.gserviceaccount.com" is not in an account or project of the organisation`)}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_nhi_session_too_long_on_gcp if {
	inp := fixtures.input_for(object.union(fixtures.gcp_agent, {"max_session_minutes": 120}))
	expected := {fixtures.violation(nhi._rules, "nhi-session-too-long", "serviceAccount:acme-data-prod/triage-agent asks for 120-minute sessions; GCP impersonation tokens last 60 minutes")}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_nhi_long_session_on_aws if {
	inp := fixtures.input_for(object.union(fixtures.agent_role, {"max_session_minutes": 720}))
	count(nhi.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_nhi_rotation_too_long if {
	inp := fixtures.input_for(object.union(fixtures.integration, {"credential": {"type": "access-key", "store": "secrets-manager", "rotate_days": 45}}))
	expected := {fixtures.violation(nhi._rules, "nhi-rotation-too-long", sprintf("%s rotates its key every 45 days, over the limit of 30", [_integration_ref]))}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_nhi_agent_privileged if {
	inp := _grant_to(fixtures.agent_role, {
		"grants": [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "AdministratorAccess"}],
		"expires": "2026-11-22T20:00:00Z",
	})
	expected := {fixtures.violation(nhi._rules, "nhi-agent-privileged", sprintf(`%s is an AI agent; aws-sso-assignment "AdministratorAccess" is privileged tier`, [_agent_ref]))}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_nhi_agent_privileged_also_for_a_role_outside_the_catalog if {
	inp := _grant_to(fixtures.agent_role, {
		"grants": [{"kind": "aws-role-policy", "target": "acme-dev", "entitlement": "arn:aws:iam::aws:policy/IAMFullAccess"}],
		"expires": "2026-11-22T20:00:00Z",
	})
	expected := {fixtures.violation(nhi._rules, "nhi-agent-privileged", sprintf(`%s is an AI agent; aws-role-policy "arn:aws:iam::aws:policy/IAMFullAccess" is privileged tier`, [_agent_ref]))}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_nhi_grant_too_long_for_the_agent_tier if {
	org := json.patch(fixtures.org, [{"op": "replace", "path": "/tiers/agent/max_hours", "value": 168}])
	inp := _grant_to(fixtures.agent_role, {})
	expected := {fixtures.violation(nhi._rules, "nhi-grant-too-long", sprintf("%s is an agent: its access lasts at most 168 hours, this request lasts 1284 hours", [_agent_ref]))}
	nhi.deny == expected with input as inp with data.org as org
}

test_deny_nhi_grant_too_long_for_an_integration if {
	inp := _grant_to(fixtures.integration, {"expires": "2027-03-01T00:00:00Z"})
	expected := {fixtures.violation(nhi._rules, "nhi-grant-too-long", sprintf("%s is an integration: its access lasts at most 2160 hours, this request lasts 2364 hours", [_integration_ref]))}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_nhi_agent_task_missing if {
	inp := _grant_to(fixtures.agent_role, {"justification": "The assistant needs to read the tickets of the team."})
	expected := {fixtures.violation(nhi._rules, "nhi-agent-task", sprintf(`the justification for %s does not name the agent's task (a sentence starting with "Task:")`, [_agent_ref]))}
	nhi.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_nhi_agent_task_word_inside_another_word_does_not_count if {
	inp := _grant_to(fixtures.agent_role, {"justification": "Multitask: the assistant reads the tickets."})
	count(nhi.deny) == 1 with input as inp with data.org as fixtures.org
}
