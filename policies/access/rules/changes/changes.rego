# Rule 8: a PR either changes the rules or asks for access, never both, so a
# rule change is always reviewed on its own (by security, via CODEOWNERS).
package access.rules.changes

import data.access.lib

_rules := {"pr-mixes-rules-and-requests": {
	"title": "Rule change mixed with requests",
	"description": "A PR that changes policies/, .github/, connectors/, tools/ or CODEOWNERS must not also change request files.",
	"remediation": "Split the PR; merge the rule or pipeline change on its own first (security reviews it), then open the access request.",
	"severity": "critical",
}}

_protected_prefixes := ["policies/", ".github/", "connectors/", "tools/"]

_protected(path) if {
	some prefix in _protected_prefixes
	startswith(path, prefix)
}

_protected(path) if {
	parts := split(path, "/")
	parts[count(parts) - 1] == "CODEOWNERS"
}

_rule_files contains f.path if {
	some f in input.pr.files
	_protected(f.path)
}

_request_files contains f.path if {
	some f in input.pr.files
	startswith(f.path, "requests/")
}

# METADATA
# title: Rule change mixed with requests
# description: A PR that changes policies/, .github/, connectors/, tools/ or CODEOWNERS must not also change request files.
# custom:
#   id: pr-mixes-rules-and-requests
#   severity: critical
#   remediation: Split the PR; merge the rule or pipeline change on its own first (security reviews it), then open the access request.
deny contains v if {
	count(_rule_files) > 0
	count(_request_files) > 0
	msg := sprintf("PR #%d changes request files and also %s", [input.pr.number, concat(", ", sort(_rule_files))])
	v := lib.violation(_rules["pr-mixes-rules-and-requests"], "pr-mixes-rules-and-requests", msg, input.file)
}
