package access.rules.removals_test

import data.access.fixtures
import data.access.rules.removals

_ok(user) := {"user": user, "state": "APPROVED", "commit_id": "headsha1234"}

_input(request, author, reviews) := {
	"version": 1, "file": fixtures.file, "now": fixtures.now,
	"removal": {"request": request},
	"pr": {"number": 3, "author": author, "head_sha": "headsha1234", "base_sha": "base", "files": [], "reviews": reviews},
}

_msg(team, counted) := sprintf("removing %s ends access: needs 1 approval(s) of head commit headsha from team %s; counted: %s", [fixtures.file, team, counted])

test_allow_removal_by_the_beneficiary if {
	inp := _input(fixtures.user_request, "bob-acme", [])
	count(removals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_removal_approval_missing_by_someone_else if {
	inp := _input(fixtures.user_request, "dave-acme", [_ok("dave-acme"), _ok("ivan-acme")])
	expected := {fixtures.violation(removals._rules, "removal-approval-missing", _msg("platform", "none"))}
	removals.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_removal_owner_approves if {
	inp := _input(fixtures.user_request, "dave-acme", [_ok("alice-acme")])
	count(removals.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_removal_approval_missing_sole_owner_member_is_the_author if {
	req := object.union(fixtures.user_request, {"target": {"owner": "payments"}})
	inp := _input(req, "grace-acme", [_ok("grace-acme")])
	expected := {fixtures.violation(removals._rules, "removal-approval-missing", _msg("security", "none"))}
	removals.deny == expected with input as inp with data.org as fixtures.org
	count(removals.deny) == 0 with input as _input(req, "grace-acme", [_ok("judy-acme")]) with data.org as fixtures.org
}

test_allow_removal_rule_silent_for_requests if {
	inp := fixtures.input_for(fixtures.user_request)
	count(removals.deny) == 0 with input as inp with data.org as fixtures.org
}
