package access.rules.changes_test

import data.access.fixtures
import data.access.rules.changes

_pr(paths) := {
	"number": 12, "author": "bob-acme", "head_sha": "h1", "base_sha": "b1", "reviews": [],
	"files": [{"path": p, "status": "modified"} | some p in paths],
}

_input(paths) := object.union(fixtures.input_for(fixtures.user_request), {"pr": _pr(paths)})

test_allow_changes_requests_only if {
	inp := _input(["requests/aws/acme-dev/req.yaml", "requests/aws/acme-dev/other.yaml"])
	count(changes.deny) == 0 with input as inp with data.org as fixtures.org
}

test_allow_changes_rules_only if {
	inp := _input(["policies/access/decision.rego", ".github/CODEOWNERS"])
	count(changes.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_pr_mixes_rules_and_requests if {
	inp := _input(["requests/aws/acme-dev/req.yaml", "policies/data/tiers.yaml", "CODEOWNERS", "tools/policy.py"])
	expected := {fixtures.violation(changes._rules, "pr-mixes-rules-and-requests", "PR #12 changes request files and also CODEOWNERS, policies/data/tiers.yaml, tools/policy.py")}
	changes.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_pr_mixes_rules_and_requests_any_file_outside_requests if {
	inp := _input(["requests/aws/acme-dev/req.yaml", "pyproject.toml", "Makefile", "bench/run.py", "reviews/2026-q4.yaml"])
	expected := {fixtures.violation(changes._rules, "pr-mixes-rules-and-requests", "PR #12 changes request files and also Makefile, bench/run.py, pyproject.toml, reviews/2026-q4.yaml")}
	changes.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_pr_mixes_rules_and_requests_renamed_out_of_requests if {
	inp := object.union(fixtures.input_for(fixtures.user_request), {"pr": object.union(_pr([]), {"files": [
		{"path": "docs/old.yaml", "status": "renamed", "previous_path": "requests/aws/acme-dev/req.yaml"},
	]})})
	expected := {fixtures.violation(changes._rules, "pr-mixes-rules-and-requests", "PR #12 changes request files and also docs/old.yaml")}
	changes.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_review_pr_deleting_request_files_it_revokes if {
	inp := object.union(fixtures.input_for(fixtures.user_request), {"pr": object.union(_pr([]), {"files": [
		{"path": "reviews/2026-11-22/platform.yaml", "status": "added"},
		{"path": "requests/aws/acme-dev/req.yaml", "status": "removed"},
	]})})
	count(changes.deny) == 0 with input as inp with data.org as fixtures.org
}
