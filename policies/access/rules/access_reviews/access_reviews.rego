# Rule 12: access reviews (recertification) are their own kind of PR.
# A review PR adds reviews/<yyyy-mm-dd>/<team>.yaml and may delete the
# request files it revokes; nothing else. The request-PR allow-list
# (rules/changes) and the rules-change table (rules/rule_changes) do not
# apply to it; these rules do. The owning team's approval of the head
# commit is the attestation, with the same independence as for requests:
# nobody attests access they benefit from, and privileged grants also need
# the security team. Only evaluated for a review input, which carries
# `review` (built from git by tools/provision/review_inputs.py):
#   review.team: the team named by the file's path;
#   review.status: the file's status in the PR (added, modified, removed, renamed);
#   review.problems: why (part of) the file cannot be read;
#   review.entries[]: request, decision, and from the BASE commit: known
#     (the grant is in that request file), owner (its owning team), tier,
#     beneficiaries (logins: the requester and the principal, or every
#     member of a group principal).
package access.rules.access_reviews

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {
	"review-pr-scope": {
		"title": "Review PR changes other files",
		"description": "A review PR adds one file under reviews/ and may delete only the request files it revokes.",
		"remediation": "Keep only the review file (and deletions of the request files it marks revoke); open other changes as their own PRs.",
		"severity": "critical",
	},
	"review-file-invalid": {
		"title": "Review file invalid",
		"description": "A review file is added once, is readable, and lists only grants its team owns as they are on main.",
		"remediation": "Restore the file as `accessctl review open` wrote it; change only `decision` values.",
		"severity": "high",
	},
	"review-partial-revoke": {
		"title": "Review revokes part of a request",
		"description": "A request file is one approval, so its grants are kept or revoked together.",
		"remediation": "Mark every grant of the request file revoke (and request again what is still needed), or keep them all.",
		"severity": "medium",
	},
	"review-approval-missing": {
		"title": "Review not attested",
		"description": "The owning team attests each grant by approving the head commit; nobody attests access they benefit from; privileged grants also need the security team.",
		"remediation": "Ask an independent member of the owning team (and for privileged grants, of the security team) to approve the latest commit.",
		"severity": "high",
	},
}

_security := _org.organization.security_team

_review := input.review if is_object(input.review)

_entries := [e | some e in _review.entries; is_object(e)]

default _author := ""

_author := lower(input.pr.author) if is_string(input.pr.author)

_logins(xs) := {u | some x in xs; is_string(x); u := lower(x)}

_members(team) := _logins(object.get(_org.teams, [team, "members"], [])) if is_string(team)

_members(team) := set() if not is_string(team)

_superseded(i, user) if {
	some j, r in input.pr.reviews
	j > i
	is_string(r.user)
	lower(r.user) == user
	r.state in {"CHANGES_REQUESTED", "DISMISSED"}
}

# Approvals of the head commit, each reviewer's last word.
approvers contains user if {
	_review
	some i, r in input.pr.reviews
	r.state == "APPROVED"
	r.commit_id == input.pr.head_sha
	is_string(r.user)
	user := lower(r.user)
	user != _author
	not _superseded(i, user)
}

_revoked contains e.request if {
	some e in _entries
	e.decision == "revoke"
}

_allowed_path(f) if {
	is_string(f.path)
	startswith(f.path, "reviews/")
	object.get(f, "previous_path", null) == null
}

_allowed_path(f) if {
	f.status == "removed"
	f.path in _revoked
}

_outside contains p if {
	some f in input.pr.files
	not _allowed_path(f)
	p := f.path
}

# METADATA
# title: Review PR changes other files
# description: A review PR adds one file under reviews/ and may delete only the request files it revokes.
# custom:
#   id: review-pr-scope
#   severity: critical
#   remediation: Keep only the review file (and deletions of the request files it marks revoke); open other changes as their own PRs.
deny contains v if {
	_review
	count(_outside) > 0
	msg := sprintf("review PR #%v may add reviews/ files and delete the request files it revokes; it also changes %s", [input.pr.number, concat(", ", sort(_outside))])
	v := lib.violation(_rules["review-pr-scope"], "review-pr-scope", msg, input.file)
}

_invalid contains msg if {
	_review.status != "added"
	msg := sprintf("review files are records: this PR %s one already on main", [_review.status])
}

_invalid contains msg if {
	some p in _review.problems
	msg := p
}

_invalid contains msg if {
	some e in _entries
	not e.known
	msg := sprintf("%s has no grant %v %v for %v on main", [e.request, e.kind, e.entitlement, e.principal])
}

_invalid contains msg if {
	some e in _entries
	e.known
	e.owner != _review.team
	msg := sprintf("%s is owned by team %v, not %v: it belongs in that team's review", [e.request, e.owner, _review.team])
}

# METADATA
# title: Review file invalid
# description: A review file is added once, is readable, and lists only grants its team owns as they are on main.
# custom:
#   id: review-file-invalid
#   severity: high
#   remediation: Restore the file as `accessctl review open` wrote it; change only `decision` values.
deny contains v if {
	_review
	some msg in _invalid
	v := lib.violation(_rules["review-file-invalid"], "review-file-invalid", msg, input.file)
}

# METADATA
# title: Review revokes part of a request
# description: A request file is one approval, so its grants are kept or revoked together.
# custom:
#   id: review-partial-revoke
#   severity: medium
#   remediation: Mark every grant of the request file revoke (and request again what is still needed), or keep them all.
deny contains v if {
	_review
	some path in _revoked
	some e in _entries
	e.request == path
	e.decision == "keep"
	msg := sprintf("%s has grants marked revoke and keep; a request is kept or revoked whole", [path])
	v := lib.violation(_rules["review-partial-revoke"], "review-partial-revoke", msg, input.file)
}

# Who may attest one entry: the owning team's members who do not benefit
# from it; when none is left, the security team's (as for requests).
_beneficiaries(e) := _logins(object.get(e, "beneficiaries", []))

_independent(team, e) := (_members(team) - _beneficiaries(e)) - {_author}

_attesters(e) := _independent(_review.team, e) if count(_independent(_review.team, e)) > 0

_attesters(e) := _independent(_security, e) if count(_independent(_review.team, e)) == 0

_names(s) := concat(", ", sort(s)) if count(s) > 0

_names(s) := "none" if count(s) == 0

_what(e) := sprintf("%v %v for %v (%s)", [e.kind, e.entitlement, e.principal, e.request])

_missing contains msg if {
	some e in _entries
	count(approvers & _attesters(e)) == 0
	msg := sprintf("%s: needs an approval of head commit %s from an independent member of team %v; counted: %s", [_what(e), substring(input.pr.head_sha, 0, 7), _review.team, _names(approvers & _attesters(e))])
}

_missing contains msg if {
	some e in _entries
	e.tier == "privileged"
	count(approvers & _independent(_security, e)) == 0
	msg := sprintf("%s: privileged, also needs an approval of head commit %s from an independent member of team %v", [_what(e), substring(input.pr.head_sha, 0, 7), _security])
}

# METADATA
# title: Review not attested
# description: The owning team attests each grant by approving the head commit; nobody attests access they benefit from; privileged grants also need the security team.
# custom:
#   id: review-approval-missing
#   severity: high
#   remediation: Ask an independent member of the owning team (and for privileged grants, of the security team) to approve the latest commit.
deny contains v if {
	_review
	input.pr
	some msg in _missing
	v := lib.violation(_rules["review-approval-missing"], "review-approval-missing", msg, input.file)
}

_privileged if {
	some e in _entries
	e.tier == "privileged"
}

default _needs_security := false

_needs_security if _privileged

_needs_security if {
	some e in _entries
	count(_independent(_review.team, e)) == 0
}

_required_teams contains _review.team if not _only_security

_required_teams contains _security if _needs_security

required := {
	"kind": "review",
	"approvals": 1,
	"teams": sort(_required_teams),
	"security": _needs_security,
	"fallback": [],
} if _review

_only_security if {
	count(_entries) > 0
	every e in _entries {
		count(_independent(_review.team, e)) == 0
	}
}
