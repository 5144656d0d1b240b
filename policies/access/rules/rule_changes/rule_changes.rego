# Rule 10: a PR that changes the rules (any file outside requests/ and
# reviews/) re-routes every later decision, so it is judged like a request:
# it needs approvals on the head commit from people who are neither its
# author nor anyone it adds to a team or benefits through a waiver. How many
# and from whom comes from _org.rule_changes (the base commit's org
# model), never from this file.
#
# Only evaluated for the PR's one "rules" input, which carries `change`:
#   change.teams:   [{team, joins, leaves, leads_joins, leads_leaves}]
#   change.waivers: [{rule, file, owner, beneficiaries}] (added or changed)
#   change.errors:  [message] (the head's org model does not load)
package access.rules.rule_changes

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {
	"rules-change-approval-missing": {
		"title": "Rule change not approved",
		"description": "A change outside requests/ changes the rules every later request is judged by; it needs the approvals _org.rule_changes names, on the head commit, from people the change does not benefit.",
		"remediation": "Ask the named reviewers to approve the latest commit; the PR author and anyone the change adds to a team or benefits through a waiver cannot approve it.",
		"severity": "critical",
	},
	"rules-change-invalid": {
		"title": "Org model does not load",
		"description": "The org model at the PR head must load, or nothing can be judged after the merge.",
		"remediation": "Fix the org model file named in the message; run `accessctl validate` locally.",
		"severity": "critical",
	},
}

_is_rules if is_object(input.change)

_cfg := object.get(_org, "rule_changes", {})

_security := _org.organization.security_team

# The fail-safe when the org model names no threshold: the strictest.
_unset := 2

_outside(p) if {
	is_string(p)
	not startswith(p, "requests/")
	not startswith(p, "reviews/")
}

# _paths: every changed path outside requests/ and reviews/, both sides of a rename.
_paths contains p if {
	_is_rules
	some f in input.pr.files
	p := f.path
	_outside(p)
}

_paths contains p if {
	_is_rules
	some f in input.pr.files
	p := object.get(f, "previous_path", null)
	_outside(p)
}

_matches(e, p) if {
	is_string(e.prefix)
	startswith(p, e.prefix)
}

_matches(e, p) if {
	is_string(e.path)
	p == e.path
}

_matches(e, p) if {
	is_string(e.name)
	parts := split(p, "/")
	parts[count(parts) - 1] == e.name
}

_default_need := object.get(_cfg, ["default", "security"], _unset)

# _path_need(p): security approvals one changed path needs.
_path_need(p) := n if {
	ns := [m | some e in object.get(_cfg, "paths", []); _matches(e, p); m := object.get(e, "security", _unset)]
	count(ns) > 0
	n := max(ns)
} else := _default_need

_team_changes contains c if {
	_is_rules
	some c in object.get(input.change, "teams", [])
	moved := [x | some k in ["joins", "leaves", "leads_joins", "leads_leaves"]; some x in object.get(c, k, [])]
	count(moved) > 0
}

_waivers contains w if {
	_is_rules
	some w in object.get(input.change, "waivers", [])
}

_security_needs contains n if {
	some p in _paths
	n := _path_need(p)
}

_security_needs contains n if {
	some c in _team_changes
	c.team == _security
	n := object.get(_cfg, ["security_team_membership", "security"], _unset)
}

_security_needs contains n if {
	some c in _team_changes
	c.team != _security
	n := object.get(_cfg, ["team_membership", "security"], _unset)
}

_security_needs contains n if {
	count(_waivers) > 0
	n := object.get(_cfg, ["waivers", "security"], _unset)
}

# Leads of each other team whose membership changes; owners of each waiver.
_lead_slots[team] := n if {
	some c in _team_changes
	c.team != _security
	team := c.team
	n := object.get(_cfg, ["team_membership", "team_lead"], _unset)
}

_owner_slots[team] := n if {
	some w in _waivers
	team := w.owner
	is_string(team)
	n := object.get(_cfg, ["waivers", "owner_team"], _unset)
}

_logins(xs) := {u | some x in xs; is_string(x); u := lower(x)}

# Nobody approves their own rise: the author, whoever joins a team or
# becomes its lead, and whoever a new or changed waiver benefits.
_excluded contains u if {
	_is_rules
	u := lower(input.pr.author)
}

_excluded contains u if {
	some c in _team_changes
	some k in ["joins", "leads_joins"]
	some u in _logins(object.get(c, k, []))
}

_excluded contains u if {
	some w in _waivers
	some u in _logins(object.get(w, "beneficiaries", []))
}

_superseded(i, user) if {
	some j, r in input.pr.reviews
	j > i
	is_string(r.user)
	lower(r.user) == user
	r.state in {"CHANGES_REQUESTED", "DISMISSED"}
}

# approvers: logins (lower case) whose approval of the head commit counts.
approvers contains user if {
	_is_rules
	some i, r in input.pr.reviews
	r.state == "APPROVED"
	r.commit_id == input.pr.head_sha
	is_string(r.user)
	user := lower(r.user)
	not user in _excluded
	not _superseded(i, user)
}

# Membership always from the base org model, never from the PR or GitHub.
_members(team) := _logins(object.get(_org.teams, [team, "members"], []))

_leads(team) := _logins(object.get(_org.teams, [team, "leads"], []))

# A lead or owner slot nobody independent can fill (a new team, or every
# lead is excluded) falls to security, as for requests.
_lead_fallback contains team if {
	some team, _ in _lead_slots
	count(_leads(team) - _excluded) == 0
}

_owner_fallback contains team if {
	some team, _ in _owner_slots
	count(_members(team) - _excluded) == 0
}

_max_security := max(_security_needs) if count(_security_needs) > 0 else := 0

_security_count := n if {
	extra_leads := sum([m | some team, m in _lead_slots; team in _lead_fallback])
	extra_owners := sum([m | some team, m in _owner_slots; team in _owner_fallback])
	n := (_max_security + extra_leads) + extra_owners
}

_security_approvers := approvers & _members(_security)

_lead_approvers(team) := approvers & _leads(team)

_owner_approvers(team) := approvers & _members(team)

_leads_needed[team] := n if {
	some team, n in _lead_slots
	not team in _lead_fallback
}

_owners_needed[team] := n if {
	some team, n in _owner_slots
	not team in _owner_fallback
}

_total_slots := n if {
	n := (_security_count + sum([m | some _, m in _leads_needed])) + sum([m | some _, m in _owners_needed])
}

_counted contains u if some u in _security_approvers

_counted contains u if {
	some team, _ in _leads_needed
	some u in _lead_approvers(team)
}

_counted contains u if {
	some team, _ in _owners_needed
	some u in _owner_approvers(team)
}

_names(s) := concat(", ", sort(s)) if count(s) > 0

_names(s) := "none" if count(s) == 0

_short_head := substring(input.pr.head_sha, 0, 7)

_what := concat(", ", sort(_paths)) if count(_paths) > 0 else := "the org model"

# required: what the comment's approvals table shows for the rules change.
required := {
	"kind": "rules",
	"security": _security_count,
	"leads": _leads_needed,
	"owners": _owners_needed,
	"excluded": sort(_excluded),
	"approvers": sort(approvers),
} if _is_rules

_violation(id, msg, missing) := object.union(
	data.access.lib.violation(_rules[id], id, msg, input.file),
	{"missing": missing},
)

# METADATA
# title: Rule change not approved
# description: A change outside requests/ changes the rules every later request is judged by; it needs the approvals _org.rule_changes names, on the head commit, from people the change does not benefit.
# custom:
#   id: rules-change-approval-missing
#   severity: critical
#   remediation: Ask the named reviewers to approve the latest commit; the PR author and anyone the change adds to a team or benefits through a waiver cannot approve it.
deny contains v if {
	_is_rules
	input.pr
	have := count(_security_approvers)
	have < _security_count
	missing := {"count": _security_count - have, "from": [_security], "role": "member"}
	msg := sprintf("%s needs %d approval(s) of head commit %s from team %s; counted: %s", [_what, _security_count, _short_head, _security, _names(_security_approvers)])
	v := _violation("rules-change-approval-missing", msg, missing)
}

# METADATA
# title: Rule change not approved
# description: A change outside requests/ changes the rules every later request is judged by; it needs the approvals _org.rule_changes names, on the head commit, from people the change does not benefit.
# custom:
#   id: rules-change-approval-missing
#   severity: critical
#   remediation: Ask the named reviewers to approve the latest commit; the PR author and anyone the change adds to a team or benefits through a waiver cannot approve it.
deny contains v if {
	_is_rules
	input.pr
	some team, n in _leads_needed
	found := _lead_approvers(team)
	count(found) < n
	missing := {"count": n - count(found), "from": [team], "role": "lead"}
	msg := sprintf("membership of team %s changes: needs %d approval(s) of head commit %s from a lead of %s; counted: %s", [team, n, _short_head, team, _names(found)])
	v := _violation("rules-change-approval-missing", msg, missing)
}

# METADATA
# title: Rule change not approved
# description: A change outside requests/ changes the rules every later request is judged by; it needs the approvals _org.rule_changes names, on the head commit, from people the change does not benefit.
# custom:
#   id: rules-change-approval-missing
#   severity: critical
#   remediation: Ask the named reviewers to approve the latest commit; the PR author and anyone the change adds to a team or benefits through a waiver cannot approve it.
deny contains v if {
	_is_rules
	input.pr
	some team, n in _owners_needed
	found := _owner_approvers(team)
	count(found) < n
	missing := {"count": n - count(found), "from": [team], "role": "member"}
	msg := sprintf("a waiver owned by team %s is added or changed: needs %d approval(s) of head commit %s from %s; counted: %s", [team, n, _short_head, team, _names(found)])
	v := _violation("rules-change-approval-missing", msg, missing)
}

# Every slot met on its own, but one person filled two of them.
# METADATA
# title: Rule change not approved
# description: A change outside requests/ changes the rules every later request is judged by; it needs the approvals _org.rule_changes names, on the head commit, from people the change does not benefit.
# custom:
#   id: rules-change-approval-missing
#   severity: critical
#   remediation: Ask the named reviewers to approve the latest commit; the PR author and anyone the change adds to a team or benefits through a waiver cannot approve it.
deny contains v if {
	_is_rules
	input.pr
	count(_security_approvers) >= _security_count
	every team, n in _leads_needed {
		count(_lead_approvers(team)) >= n
	}
	every team, n in _owners_needed {
		count(_owner_approvers(team)) >= n
	}
	count(_counted) < _total_slots
	missing := {"count": _total_slots - count(_counted), "from": [_security], "role": "member"}
	msg := sprintf("needs %d distinct approvals of head commit %s, one person cannot fill two; counted: %s", [_total_slots, _short_head, _names(_counted)])
	v := _violation("rules-change-approval-missing", msg, missing)
}

# METADATA
# title: Org model does not load
# description: The org model at the PR head must load, or nothing can be judged after the merge.
# custom:
#   id: rules-change-invalid
#   severity: critical
#   remediation: Fix the org model file named in the message; run `accessctl validate` locally.
deny contains v if {
	_is_rules
	some e in object.get(input.change, "errors", [])
	is_string(e)
	v := data.access.lib.violation(_rules["rules-change-invalid"], "rules-change-invalid", e, input.file)
}
