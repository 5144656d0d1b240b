package access.rules.approvals_test

import data.access.fixtures
import data.access.rules.approvals

_review(user, state, sha, teams) := {"user": user, "state": state, "commit_id": sha, "teams": teams}

_input(request, reviews, state) := object.union(fixtures.input_with_state(request, state), {"pr": {
	"number": 7, "author": "bob-acme", "head_sha": "headsha1234", "base_sha": "base", "files": [],
	"reviews": reviews,
}})

_alice := _review("alice-acme", "APPROVED", "headsha1234", ["acme/platform"])

_ivan := _review("ivan-acme", "APPROVED", "headsha1234", ["acme/security"])

_carol := _review("carol-acme", "APPROVED", "headsha1234", ["acme/platform"])

_admin := fixtures.with_request({
	"grants": [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "AdministratorAccess"}],
	"ticket": "OPS-1", "expires": "2026-11-22T20:00:00Z",
})

_msg(n, team, counted) := sprintf("needs %d distinct approval(s) of head commit headsha including team %s; counted: %s", [n, team, counted])

test_allow_approval_standard_one_owner if {
	inp := _input(fixtures.user_request, [_alice], [])
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_no_pr_context_no_approval_rule if {
	inp := fixtures.input_for(fixtures.user_request)
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
	approvals.required == {"approvals": 1, "teams": ["platform"], "security": false, "fallback": []} with input as inp with data.org as fixtures.org
}

test_deny_approval_owner_missing_author_self_approval if {
	inp := _input(fixtures.user_request, [_review("bob-acme", "APPROVED", "headsha1234", ["acme/platform"])], [])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "platform", "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_approval_owner_missing_stale_commit if {
	inp := _input(fixtures.user_request, [_review("alice-acme", "APPROVED", "oldsha", ["acme/platform"])], [])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "platform", "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_approval_owner_missing_superseded_by_change_request if {
	inp := _input(fixtures.user_request, [_alice, _review("alice-acme", "CHANGES_REQUESTED", "headsha1234", ["acme/platform"])], [])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "platform", "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_approval_owner_missing_wrong_team if {
	inp := _input(fixtures.user_request, [_review("dave-acme", "APPROVED", "headsha1234", ["acme/data"])], [])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "platform", "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

# The catalog names payments as the approver of the billing group: the
# target owner's approval alone is not enough.
test_deny_approval_owner_missing_every_owning_team if {
	req := fixtures.with_request({"grants": [
		{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "ReadOnly"},
		{"kind": "aws-iam-group", "target": "acme-dev", "entitlement": "billing"},
	]})
	inp := _input(req, [_alice], [])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "payments", "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_approval_privileged_owner_and_security if {
	inp := _input(_admin, [_alice, _ivan], [])
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_approval_owner_missing_privileged_needs_two if {
	inp := _input(_admin, [_ivan], [])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(2, "platform", "ivan-acme"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_approval_security_missing if {
	inp := _input(_admin, [_alice, _carol], [])
	expected := {fixtures.violation(approvals._rules, "approval-security-missing", "privileged access needs an approval of head commit headsha from team security")}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_approval_break_glass_single if {
	req := object.union(_admin, {"break_glass": true, "expires": "2026-11-22T15:00:00Z"})
	inp := _input(req, [_alice], [])
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
}

_sa_request := fixtures.with_request({
	"principal": {"type": "serviceAccount", "id": "acme-dev/billing-deployer", "ref": "serviceAccount:acme-dev/billing-deployer"},
	"requester": "dave-acme",
	"grants": [{"kind": "aws-role-policy", "target": "acme-dev", "entitlement": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
})

test_deny_approval_not_independent_service_account_owners_alone if {
	inp := _input(_sa_request, [_alice], [fixtures.ci_role_grant])
	expected := {
		fixtures.violation(approvals._rules, "approval-not-independent", "every counted approval (alice-acme) comes from platform, the team owning serviceAccount:acme-dev/billing-deployer"),
		fixtures.violation(approvals._rules, "approval-security-missing", _fallback_msg("platform", 1, "none")),
	}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

_fallback_msg(teams, n, counted) := sprintf("team(s) %s cannot approve independently (all beneficiaries, or owning both the service account and its target): needs %d approval(s) of head commit headsha from team security; counted: %s", [teams, n, counted])

# A service account owned by data, granted a role on platform's account:
# data (its owner) and platform (the target's) both approve.
_data_sa_grant := object.union(fixtures.ci_role_grant, {"attributes": {"owner": "data", "purpose": "Loads data."}})

test_deny_approval_owner_missing_service_account_owner_team if {
	inp := _input(_sa_request, [_alice], [_data_sa_grant])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "data", "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_approval_service_account_owner_and_target_owner if {
	inp := _input(_sa_request, [_alice, _review("erin-acme", "APPROVED", "headsha1234", [])], [_data_sa_grant])
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
	r := approvals.required with input as inp with data.org as fixtures.org
	r.teams == ["data", "platform"]
}

test_deny_approval_owner_missing_service_account_definition_needs_its_owner if {
	sa := object.union(fixtures.ci_role, {"owner": "data"})
	inp := _input(sa, [_carol], [])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "data", "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_approval_security_missing_service_account_definition_owned_by_target_owner if {
	inp := _input(fixtures.ci_role, [_carol], [])
	expected := {fixtures.violation(approvals._rules, "approval-security-missing", _fallback_msg("platform", 1, "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
	count(approvals.deny) == 0 with input as _input(fixtures.ci_role, [_ivan], []) with data.org as fixtures.org
}

# group:platform on platform's account: every platform member benefits, so
# none of them counts and the owner approval must come from security.
_group_request := fixtures.with_request({
	"principal": {"type": "group", "id": "platform", "ref": "group:platform"},
	"requester": "alice-acme",
})

test_deny_approval_security_missing_group_members_are_beneficiaries if {
	inp := _input(_group_request, [_carol], [])
	expected := {fixtures.violation(approvals._rules, "approval-security-missing", _fallback_msg("platform", 1, "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
	r := approvals.required with input as inp with data.org as fixtures.org
	r == {"approvals": 1, "teams": [], "security": true, "fallback": ["platform"]}
}

test_allow_approval_group_request_security_approves if {
	inp := _input(_group_request, [_ivan], [])
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_approval_owner_missing_group_member_of_another_team if {
	# group:data on platform's account: dave (data) cannot approve; platform can
	req := object.union(_group_request, {"principal": {"type": "group", "id": "data", "ref": "group:data"}})
	inp := _input(req, [_review("dave-acme", "APPROVED", "headsha1234", [])], [])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "platform", "none"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_approval_null_requester_is_no_error if {
	req := fixtures.with_request({"requester": null})
	inp := _input(req, [_alice], [])
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_approval_service_account_with_outside_reviewer if {
	inp := _input(_sa_request, [_alice, _ivan], [fixtures.ci_role_grant])
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
}

_integration_grant := fixtures.nhi_grant(fixtures.integration)

_to_integration := fixtures.with_request({"principal": {"type": "serviceAccount", "id": "acme-dev/pagerduty-sync", "ref": "serviceAccount:acme-dev/pagerduty-sync"}})

test_deny_approval_security_missing_for_an_integration_definition if {
	inp := _input(object.union(fixtures.integration, {"owner": "data"}), [_carol, _review("dave-acme", "APPROVED", "headsha1234", ["acme/data"])], [])
	expected := {fixtures.violation(approvals._rules, "approval-security-missing", "a third-party integration needs an approval of head commit headsha from team security")}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_approval_integration_definition_with_owner_and_security if {
	inp := _input(object.union(fixtures.integration, {"owner": "data"}), [_carol, _review("dave-acme", "APPROVED", "headsha1234", ["acme/data"]), _ivan], [])
	count(approvals.deny) == 0 with input as inp with data.org as fixtures.org
	approvals.required.security == true with input as inp with data.org as fixtures.org
}

test_deny_approval_security_missing_for_a_standard_grant_to_an_integration if {
	inp := _input(_to_integration, [_alice, _review("dave-acme", "APPROVED", "headsha1234", ["acme/data"])], [object.union(_integration_grant, {"attributes": {"owner": "data", "use": "integration"}})])
	expected := {fixtures.violation(approvals._rules, "approval-security-missing", "a third-party integration needs an approval of head commit headsha from team security")}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_approval_owner_missing_for_a_grant_to_an_integration_with_security_only if {
	inp := _input(_to_integration, [_alice, _ivan], [object.union(_integration_grant, {"attributes": {"owner": "data", "use": "integration"}})])
	expected := {fixtures.violation(approvals._rules, "approval-owner-missing", _msg(1, "data", "ivan-acme"))}
	approvals.deny == expected with input as inp with data.org as fixtures.org
}
