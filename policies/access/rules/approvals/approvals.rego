# Rule 7: who must approve, and which reviews count. Only evaluated with PR
# context. A review counts when it approves the head commit, its author is
# not the PR author, the requester or a beneficiary (the user principal, or
# any member of a group principal), and is not superseded by a later change
# request or dismissal from the same reviewer. Team membership comes from
# the base org model (teams.yaml), never from the PR or GitHub.
package access.rules.approvals

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {
	"approval-owner-missing": {
		"title": "Owner approval missing",
		"description": "Each team owning a target or role in the request must approve the head commit, with as many distinct approvals as the tier needs.",
		"remediation": "Ask the named team to review and approve the latest commit; approvals by the author, the requester or the beneficiary do not count.",
		"severity": "high",
	},
	"approval-security-missing": {
		"title": "Security approval missing",
		"description": "Privileged access, and a third-party integration or any grant to one, needs one of its approvals from the security team.",
		"remediation": "Ask a member of the security team to approve the latest commit.",
		"severity": "high",
	},
	"approval-not-independent": {
		"title": "Service-account owners approving alone",
		"description": "Access for a service account cannot be approved only by the team that owns it.",
		"remediation": "Get one more approval from a member of the approving team who is not in the service account's owning team, or from security.",
		"severity": "high",
	},
}

_security := _org.organization.security_team

_break_glass if input.request.break_glass == true

_tier := lib.request_tier(_org, input.request) if lib.is_access_request(input.request)

_tier := "standard" if lib.is_service_account(input.request)

_count := _org.break_glass.approvals if _break_glass

_count := _org.tiers[_tier].approvals if not _break_glass

default _needs_security := false

_needs_security if {
	not _break_glass
	object.get(_org.tiers[_tier], "security_approval", false) == true
}

_security_reason := "a third-party integration" if {
	lib.nhi_use(input.request, input.state) == "integration"
} else := "privileged access"

# A third-party integration's definition and every grant to it need security
# (tiers.yaml integration.security_approval), whatever the role's tier.
_needs_security if {
	use := lib.nhi_use(input.request, input.state)
	use == "integration"
	object.get(_org.tiers, ["integration", "security_approval"], true) == true
}

_owning contains team if {
	lib.is_access_request(input.request)
	some g in input.request.grants
	team := lib.approving_team(_org, g)
}

_owning contains t.owner if {
	lib.is_service_account(input.request)
	t := lib.target(_org, input.request.provider, input.request.target.name)
}

# The service account's own owner team approves its definition and every
# grant to it, in addition to the owners of the target and role.
_sa_owner := owner if {
	lib.is_service_account(input.request)
	owner := input.request.owner
	is_string(owner)
}

_sa_owner := owner if {
	lib.is_access_request(input.request)
	input.request.principal.type == "serviceAccount"
	owner := lib.service_account_owner(input.state, input.request.principal.ref)
	is_string(owner)
}

_teams_needed contains team if some team in _owning

_teams_needed contains team if team := _sa_owner

# A team cannot give the owner approval when nobody in it is independent
# (every member is a beneficiary, e.g. group:sre on an sre-owned account),
# nor when it owns both the service account and its target: that approval
# must come from security instead.
# A team all of whose members are excluded. It cannot be when it has more
# members than _excluded has logins (the usual case: a person's request
# excludes at most three); that is checked first because building a team's
# member set costs regorus a fraction of a millisecond.
_fallback contains team if {
	some team in _teams_needed
	count(_excluded) >= lib.team_size(_org, team)
	count(_team_members(team) - _excluded) == 0
}

_fallback contains team if {
	team := _sa_owner
	team in _owning
}

_direct := _teams_needed - _fallback

_team_members(team) := lib.team_members(_org, team)

default _security_needed := false

_security_needed if _needs_security

_security_needed if count(_fallback) > 0

# required: who must approve, also without PR context (for the PR comment).
required := {
	"approvals": _count,
	"teams": sort(_direct),
	"security": _security_needed,
	"fallback": sort(_fallback),
}

# Logins are folded in the body: a call in a set rule's head that is
# undefined (a null requester) makes regorus error where OPA skips it.
_excluded contains login if login := lib.fold(input.pr.author)

_excluded contains login if login := lib.fold(input.request.requester)

_excluded contains login if {
	input.request.principal.type == "user"
	p := lib.person(_org, input.request.principal.id)
	login := lib.fold(p.github)
}

# Every member of a group principal benefits from the grant.
_excluded contains u if {
	input.request.principal.type == "group"
	some u in _team_members(input.request.principal.id)
}

_superseded(i, user) if {
	some j, r in input.pr.reviews
	j > i
	lib.fold(r.user) == user
	r.state in {"CHANGES_REQUESTED", "DISMISSED"}
}

# approvers: the logins whose approval counts, in lower case.
approvers contains user if {
	some i, r in input.pr.reviews
	r.state == "APPROVED"
	r.commit_id == input.pr.head_sha
	user := lib.fold(r.user)
	not user in _excluded
	not _superseded(i, user)
}

# _teams_of: team keys from the base org model (teams.yaml members), never
# from the PR or GitHub's membership API.
_teams_of(user) := {k | some k, _ in _org.teams; lib.team_has(_org, k, user)}

_members(team) := {u | some u in approvers; lib.in_team(_org, team, _teams_of(u))}

_pool(team) := _members(team) | _members(_security) if _security_needed

_pool(team) := _members(team) if not _security_needed

_enough(team) if {
	count(_members(team)) >= 1
	count(_pool(team)) >= _count
}

# METADATA
# title: Owner approval missing
# description: Each team owning a target or role in the request must approve the head commit, with as many distinct approvals as the tier needs.
# custom:
#   id: approval-owner-missing
#   severity: high
#   remediation: Ask the named team to review and approve the latest commit; approvals by the author, the requester or the beneficiary do not count.
deny contains v if {
	input.pr
	some team in _direct
	not _enough(team)
	msg := sprintf("needs %d distinct approval(s) of head commit %s including team %s; counted: %s", [_count, substring(input.pr.head_sha, 0, 7), team, _names(_pool(team))])
	v := lib.violation(_rules["approval-owner-missing"], "approval-owner-missing", msg, input.file)
}

_names(s) := concat(", ", sort(s)) if count(s) > 0

_names(s) := "none" if count(s) == 0

# METADATA
# title: Security approval missing
# description: Privileged access, and a third-party integration or any grant to one, needs one of its approvals from the security team.
# custom:
#   id: approval-security-missing
#   severity: high
#   remediation: Ask a member of the security team to approve the latest commit.
deny contains v if {
	input.pr
	_needs_security
	count(_fallback) == 0
	count(_members(_security)) == 0
	msg := sprintf("%s needs an approval of head commit %s from team %s", [_security_reason, substring(input.pr.head_sha, 0, 7), _security])
	v := lib.violation(_rules["approval-security-missing"], "approval-security-missing", msg, input.file)
}

# METADATA
# title: Security approval missing
# description: Privileged access, and a third-party integration or any grant to one, needs one of its approvals from the security team.
# custom:
#   id: approval-security-missing
#   severity: high
#   remediation: Ask a member of the security team to approve the latest commit.
deny contains v if {
	input.pr
	count(_fallback) > 0
	need := _fallback_need
	count(_members(_security)) < need
	msg := sprintf("team(s) %s cannot approve independently (all beneficiaries, or owning both the service account and its target): needs %d approval(s) of head commit %s from team %s; counted: %s", [concat(", ", sort(_fallback)), need, substring(input.pr.head_sha, 0, 7), _security, _names(_members(_security))])
	v := lib.violation(_rules["approval-security-missing"], "approval-security-missing", msg, input.file)
}

# With no other owning team left, security gives every approval the tier needs.
_fallback_need := _count if count(_direct) == 0 else := 1

# METADATA
# title: Service-account owners approving alone
# description: Access for a service account cannot be approved only by the team that owns it.
# custom:
#   id: approval-not-independent
#   severity: high
#   remediation: Get one more approval from a member of the approving team who is not in the service account's owning team, or from security.
deny contains v if {
	input.pr
	input.request.principal.type == "serviceAccount"
	owner := lib.service_account_owner(input.state, input.request.principal.ref)
	count(approvers) > 0
	every u in approvers {
		lib.in_team(_org, owner, _teams_of(u))
	}
	msg := sprintf("every counted approval (%s) comes from %s, the team owning %s", [_names(approvers), owner, input.request.principal.ref])
	v := lib.violation(_rules["approval-not-independent"], "approval-not-independent", msg, input.file)
}
