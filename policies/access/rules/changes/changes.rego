# Rule 8: a PR that changes request files may change nothing outside
# requests/: an allow-list, not a list of protected folders, so nothing
# (pyproject.toml, the Makefile, bench/) rides along with a request into
# the main branch that later installs and runs it. A rule change is always
# a PR of its own, judged by rules/rule_changes.
package access.rules.changes

import data.access.lib

_rules := {"pr-mixes-rules-and-requests": {
	"title": "Request PR changes other files",
	"description": "A PR that changes request files may change nothing outside requests/.",
	"remediation": "Split the PR; keep only the files under requests/ here and open a separate PR for the other files (security reviews it).",
	"severity": "critical",
}}

_request_path(p) if {
	is_string(p)
	startswith(p, "requests/")
}

_other_files contains p if {
	some f in input.pr.files
	p := f.path
	is_string(p)
	not _request_path(p)
	not _review_path(p)
}

_other_files contains p if {
	some f in input.pr.files
	p := object.get(f, "previous_path", null)
	is_string(p)
	not _request_path(p)
	not _review_path(p)
}

_request_files contains p if {
	some f in input.pr.files
	p := f.path
	_request_path(p)
}

_request_files contains p if {
	some f in input.pr.files
	p := object.get(f, "previous_path", null)
	_request_path(p)
}

# A review PR adds a file under reviews/ and may delete the request files
# it revokes: when every request-file change of the PR is a deletion,
# reviews/ is not "other" here, and rules/access_reviews judges the PR with
# its own, narrower allow-list. A PR adding or changing a request file
# still may not touch reviews/.
_review_path(p) if {
	startswith(p, "reviews/")
	_only_request_deletions
}

_only_request_deletions if {
	every f in input.pr.files {
		_deletion_or_not_request(f)
	}
}

_deletion_or_not_request(f) if {
	is_string(f.path)
	not _request_path(f.path)
	not _request_path(object.get(f, "previous_path", null))
}

_deletion_or_not_request(f) if {
	f.status == "removed"
	object.get(f, "previous_path", null) == null
}

_pr_number := n if {
	n := input.pr.number
	is_number(n)
} else := 0

# METADATA
# title: Request PR changes other files
# description: A PR that changes request files may change nothing outside requests/.
# custom:
#   id: pr-mixes-rules-and-requests
#   severity: critical
#   remediation: Split the PR; keep only the files under requests/ here and open a separate PR for the other files (security reviews it).
deny contains v if {
	count(_other_files) > 0
	count(_request_files) > 0
	msg := sprintf("PR #%d changes request files and also %s", [_pr_number, concat(", ", sort(_other_files))])
	v := lib.violation(_rules["pr-mixes-rules-and-requests"], "pr-mixes-rules-and-requests", msg, input.file)
}
