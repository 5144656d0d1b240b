package access.rules.rule_changes_test

import data.access.fixtures
import data.access.rules.rule_changes

_org := object.union(fixtures.org, {
	"teams": {
		"platform": {"github_team": "acme/platform", "leads": ["alice-acme"], "members": ["alice-acme", "bob-acme", "carol-acme"]},
		"data": {"github_team": "acme/data", "leads": ["dave-acme"], "members": ["dave-acme", "erin-acme"]},
		"payments": {"github_team": "acme/payments", "leads": ["grace-acme"], "members": ["grace-acme"]},
		"security": {"github_team": "acme/security", "leads": ["ivan-acme"], "members": ["ivan-acme", "judy-acme", "kim-acme"]},
	},
	"rule_changes": {
		"paths": [
			{"prefix": "policies/access/", "security": 2},
			{"path": "policies/data/tiers.yaml", "security": 2},
			{"prefix": ".github/", "security": 2},
			{"path": "pyproject.toml", "security": 2},
			{"path": "policies/data/people.yaml", "security": 1},
			{"name": "CODEOWNERS", "security": 1},
		],
		"security_team_membership": {"security": 2},
		"team_membership": {"security": 1, "team_lead": 1},
		"waivers": {"security": 1, "owner_team": 1},
		"default": {"security": 1},
	},
})

_ok(user) := {"user": user, "state": "APPROVED", "commit_id": "headsha1234"}

_input(paths, change, reviews) := {
	"version": 1, "file": "(rules)", "now": fixtures.now, "change": change,
	"pr": {
		"number": 9, "author": "bob-acme", "head_sha": "headsha1234", "base_sha": "base",
		"files": [{"path": p, "status": "modified"} | some p in paths],
		"reviews": reviews,
	},
}

_deny(paths, change, reviews) := d if {
	inp := _input(paths, change, reviews)
	d := rule_changes.deny with input as inp with data.org as _org
}

_missing_of(paths, change, reviews) := {m | some v in _deny(paths, change, reviews); m := v.missing}

test_allow_rules_change_docs_one_security if {
	count(_deny(["docs/setup.md"], {}, [_ok("ivan-acme")])) == 0
}

test_deny_rules_change_approval_missing_no_review if {
	_missing_of(["docs/setup.md"], {}, []) == {{"count": 1, "from": ["security"], "role": "member"}}
}

test_deny_rules_change_approval_missing_workflow_needs_two if {
	_missing_of([".github/workflows/pr-check.yml"], {}, [_ok("ivan-acme")]) == {{"count": 1, "from": ["security"], "role": "member"}}
}

test_allow_rules_change_workflow_two_security if {
	count(_deny([".github/workflows/pr-check.yml"], {}, [_ok("ivan-acme"), _ok("judy-acme")])) == 0
}

test_deny_rules_change_approval_missing_renamed_from_protected_path if {
	inp := object.union(_input(["docs/x.rego"], {}, [_ok("ivan-acme")]), {"pr": {"files": [
		{"path": "docs/x.rego", "status": "renamed", "previous_path": "policies/access/x.rego"},
	]}})
	ms := {m | some v in rule_changes.deny; m := v.missing} with input as inp with data.org as _org
	ms == {{"count": 1, "from": ["security"], "role": "member"}}
}

test_deny_rules_change_approval_missing_author_cannot_approve if {
	_missing_of(["policies/data/people.yaml"], {}, [_ok("bob-acme")]) == {{"count": 1, "from": ["security"], "role": "member"}}
}

test_deny_rules_change_approval_missing_stale_or_withdrawn if {
	reviews := [
		{"user": "ivan-acme", "state": "APPROVED", "commit_id": "oldsha"},
		_ok("judy-acme"),
		{"user": "judy-acme", "state": "CHANGES_REQUESTED", "commit_id": "headsha1234"},
	]
	_missing_of(["CODEOWNERS"], {}, reviews) == {{"count": 1, "from": ["security"], "role": "member"}}
}

test_deny_rules_change_approval_missing_joiner_of_security if {
	change := {"teams": [{"team": "security", "joins": ["judy-acme"], "leaves": []}]}
	# judy is named as joining security: her approval cannot count, kim's does
	_missing_of(["policies/data/teams.yaml"], change, [_ok("ivan-acme"), _ok("judy-acme")]) == {{"count": 1, "from": ["security"], "role": "member"}}
	count(_deny(["policies/data/teams.yaml"], change, [_ok("ivan-acme"), _ok("kim-acme")])) == 0
}

test_deny_rules_change_approval_missing_team_lead if {
	change := {"teams": [{"team": "data", "joins": ["frank-acme"]}]}
	_missing_of(["policies/data/teams.yaml"], change, [_ok("ivan-acme")]) == {{"count": 1, "from": ["data"], "role": "lead"}}
	# erin is a member of data but not its lead
	_missing_of(["policies/data/teams.yaml"], change, [_ok("ivan-acme"), _ok("erin-acme")]) == {{"count": 1, "from": ["data"], "role": "lead"}}
	count(_deny(["policies/data/teams.yaml"], change, [_ok("ivan-acme"), _ok("dave-acme")])) == 0
}

test_deny_rules_change_approval_missing_lead_adds_self_falls_to_security if {
	# grace, payments' only lead, is named by the change (she joins its leads again, with dave):
	# nobody independent can fill the lead slot, so it goes to security
	change := {"teams": [{"team": "payments", "joins": ["dave-acme"], "leads_joins": ["grace-acme"]}]}
	_missing_of(["policies/data/teams.yaml"], change, [_ok("ivan-acme")]) == {{"count": 1, "from": ["security"], "role": "member"}}
	count(_deny(["policies/data/teams.yaml"], change, [_ok("ivan-acme"), _ok("judy-acme")])) == 0
}

test_deny_rules_change_approval_missing_waiver_owner if {
	change := {"waivers": [{"rule": "expiry-too-long", "file": "requests/x.yaml", "owner": "data", "beneficiaries": ["erin-acme"]}]}
	_missing_of(["policies/data/waivers.yaml"], change, [_ok("ivan-acme"), _ok("erin-acme")]) == {{"count": 1, "from": ["data"], "role": "member"}}
	count(_deny(["policies/data/waivers.yaml"], change, [_ok("ivan-acme"), _ok("dave-acme")])) == 0
}

test_deny_rules_change_approval_missing_one_person_two_slots if {
	# ivan leads security and is the only approver: the security slot and data's lead slot need two people
	org := object.union(_org, {"teams": {"data": {"github_team": "acme/data", "leads": ["ivan-acme"], "members": ["ivan-acme"]}}})
	inp := _input(["policies/data/teams.yaml"], {"teams": [{"team": "data", "joins": ["erin-acme"]}]}, [_ok("ivan-acme")])
	ms := {m | some v in rule_changes.deny; m := v.missing} with input as inp with data.org as org
	ms == {{"count": 1, "from": ["security"], "role": "member"}}
}

test_allow_rules_change_required_lists_slots if {
	change := {"teams": [{"team": "data", "joins": ["frank-acme"]}]}
	inp := _input(["policies/data/teams.yaml"], change, [_ok("dave-acme")])
	r := rule_changes.required with input as inp with data.org as _org
	r == {
		"kind": "rules", "security": 1, "leads": {"data": 1}, "owners": {},
		"excluded": ["bob-acme", "frank-acme"], "approvers": ["dave-acme"],
	}
}

test_allow_request_input_is_not_a_rules_change if {
	inp := fixtures.input_for(fixtures.user_request)
	count(rule_changes.deny) == 0 with input as inp with data.org as _org
}

test_deny_rules_change_invalid_head_org_model if {
	change := {"errors": ["policies/data/teams.yaml:3: duplicate key"]}
	rules := {v.rule | some v in _deny(["policies/data/teams.yaml"], change, [_ok("ivan-acme")])}
	rules == {"rules-change-invalid"}
}

test_allow_rules_change_missing_thresholds_fail_safe_two if {
	org := object.remove(_org, ["rule_changes"])
	inp := _input(["docs/setup.md"], {}, [_ok("ivan-acme")])
	ms := {m | some v in rule_changes.deny; m := v.missing} with input as inp with data.org as org
	ms == {{"count": 1, "from": ["security"], "role": "member"}}
}
