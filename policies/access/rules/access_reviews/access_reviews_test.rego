package access.rules.access_reviews_test

import data.access.fixtures
import data.access.rules.access_reviews

_file := "reviews/2026-11-22/platform.yaml"

_bob_req := "requests/aws/acme-dev/bob.yaml"

_admin_req := "requests/aws/acme-dev/carol-admin.yaml"

_entry(request, decision, tier, beneficiaries) := {
	"request": request, "principal": "user:x@acme.example", "kind": "aws-sso-assignment",
	"entitlement": "ReadOnly", "target": "111111111111", "decision": decision,
	"known": true, "owner": "platform", "tier": tier, "beneficiaries": beneficiaries,
}

_bob_keep := _entry(_bob_req, "keep", "standard", ["bob-acme"])

_ok(user) := {"user": user, "state": "APPROVED", "commit_id": "headsha1234"}

_added := {"path": _file, "status": "added"}

_input(entries, files, reviews) := {
	"version": 1, "file": _file, "now": fixtures.now,
	"review": {"team": "platform", "status": "added", "problems": [], "entries": entries},
	"pr": {
		"number": 9, "author": "accessctl[bot]", "head_sha": "headsha1234", "base_sha": "base",
		"files": files, "reviews": reviews,
	},
}

_v(id, msg) := object.union(fixtures.violation(access_reviews._rules, id, msg), {"file": _file})

_what(e) := sprintf("aws-sso-assignment ReadOnly for user:x@acme.example (%s)", [e.request])

test_allow_review_kept_by_an_independent_owner if {
	inp := _input([_bob_keep], [_added], [_ok("alice-acme")])
	count(access_reviews.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_review_approval_missing_when_the_reviewer_attests_their_own_access if {
	msg := sprintf("%s: needs an approval of head commit headsha from an independent member of team platform; counted: none", [_what(_bob_keep)])
	expected := {_v("review-approval-missing", msg)}
	inp := _input([_bob_keep], [_added], [_ok("bob-acme")])
	access_reviews.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_review_approval_missing_on_an_older_commit if {
	stale := {"user": "alice-acme", "state": "APPROVED", "commit_id": "older"}
	inp := _input([_bob_keep], [_added], [stale])
	count(access_reviews.deny) == 1 with input as inp with data.org as fixtures.org
}

test_deny_review_approval_missing_privileged_without_security if {
	e := _entry(_admin_req, "keep", "privileged", ["carol-acme"])
	msg := sprintf("%s: privileged, also needs an approval of head commit headsha from an independent member of team security", [_what(e)])
	expected := {_v("review-approval-missing", msg)}
	inp := _input([e], [_added], [_ok("alice-acme")])
	access_reviews.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_review_privileged_with_owner_and_security if {
	e := _entry(_admin_req, "keep", "privileged", ["carol-acme"])
	inp := _input([e], [_added], [_ok("alice-acme"), _ok("ivan-acme")])
	count(access_reviews.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_review_falls_back_to_security_when_the_whole_team_benefits if {
	e := _entry("requests/aws/acme-dev/platform.yaml", "keep", "standard", ["alice-acme", "bob-acme", "carol-acme"])
	inp := _input([e], [_added], [_ok("judy-acme")])
	count(access_reviews.deny) == 0 with input as inp with data.org as fixtures.org
	inp2 := _input([e], [_added], [_ok("alice-acme")])
	count(access_reviews.deny) == 1 with input as inp2 with data.org as fixtures.org
	inp3 := _input([e], [_added], [])
	access_reviews.required == {"kind": "review", "approvals": 1, "teams": ["security"], "security": true, "fallback": []} with input as inp3 with data.org as fixtures.org
}

test_deny_review_pr_scope_when_it_sneaks_in_a_request_file if {
	files := [_added, {"path": "requests/aws/acme-dev/mallory.yaml", "status": "added"}]
	msg := "review PR #9 may add reviews/ files and delete the request files it revokes; it also changes requests/aws/acme-dev/mallory.yaml"
	expected := {_v("review-pr-scope", msg)}
	inp := _input([_bob_keep], files, [_ok("alice-acme")])
	access_reviews.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_review_pr_scope_when_it_deletes_a_kept_request if {
	files := [_added, {"path": _bob_req, "status": "removed"}]
	inp := _input([_bob_keep], files, [_ok("alice-acme")])
	count(access_reviews.deny) == 1 with input as inp with data.org as fixtures.org
}

test_allow_review_pr_scope_deleting_a_revoked_request if {
	e := _entry(_bob_req, "revoke", "standard", ["bob-acme"])
	files := [_added, {"path": _bob_req, "status": "removed"}]
	inp := _input([e], files, [_ok("alice-acme")])
	count(access_reviews.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_review_approval_missing_for_an_unapproved_revoke if {
	e := _entry(_bob_req, "revoke", "standard", ["bob-acme"])
	inp := _input([e], [_added], [])
	count(access_reviews.deny) == 1 with input as inp with data.org as fixtures.org
}

test_deny_review_file_invalid_unknown_grant_or_other_team if {
	unknown := object.union(_bob_keep, {"known": false})
	other := object.union(_bob_keep, {"owner": "data"})
	inp := _input([unknown, other], [_added], [_ok("alice-acme")])
	msgs := {v.message | some v in access_reviews.deny} with input as inp with data.org as fixtures.org
	msgs == {
		"requests/aws/acme-dev/bob.yaml has no grant aws-sso-assignment ReadOnly for user:x@acme.example on main",
		"requests/aws/acme-dev/bob.yaml is owned by team data, not platform: it belongs in that team's review",
	}
}

test_deny_review_file_invalid_when_a_review_on_main_is_edited if {
	inp := object.union(_input([_bob_keep], [{"path": _file, "status": "modified"}], [_ok("alice-acme")]), {"review": {"status": "modified"}})
	expected := {_v("review-file-invalid", "review files are records: this PR modified one already on main")}
	access_reviews.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_review_partial_revoke if {
	a := _entry(_bob_req, "revoke", "standard", ["bob-acme"])
	b := object.union(_entry(_bob_req, "keep", "standard", ["bob-acme"]), {"kind": "aws-iam-group"})
	expected := {_v("review-partial-revoke", "requests/aws/acme-dev/bob.yaml has grants marked revoke and keep; a request is kept or revoked whole")}
	inp := _input([a, b], [_added], [_ok("alice-acme")])
	access_reviews.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_review_rules_silent_for_requests if {
	inp := fixtures.input_for(fixtures.user_request)
	count(access_reviews.deny) == 0 with input as inp with data.org as fixtures.org
}
