# Rule 11: deleting, moving or renaming a request file ends someone's
# access, so the owners of the target it leaves approve it, on the head
# commit, as for a new request (one approval; security when nobody in the
# owning team is independent). The beneficiary may always delete their own
# request. Only evaluated for a removal input, which carries `removal`:
#   removal.request: the request as it was at the base commit.
package access.rules.removals

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {"removal-approval-missing": {
	"title": "Removal not approved",
	"description": "Deleting, moving or renaming a request file ends access; the owners of the target it leaves must approve, unless the beneficiary removes their own request.",
	"remediation": "Ask the target's owning team to approve the latest commit, or let the beneficiary open the removal PR.",
	"severity": "high",
}}

_req := input.removal.request if is_object(input.removal.request)

_security := _org.organization.security_team

_owner := o if {
	o := _req.target.owner
	is_string(o)
}

_logins(xs) := {u | some x in xs; is_string(x); u := lower(x)}

_author := lower(input.pr.author) if is_string(input.pr.author)

# The beneficiary's own removal needs nobody.
_own_removal if {
	_req.principal.type == "user"
	p := data.access.lib.person(_org, _req.principal.id)
	is_string(p.github)
	lower(p.github) == _author
}

_superseded(i, user) if {
	some j, r in input.pr.reviews
	j > i
	is_string(r.user)
	lower(r.user) == user
	r.state in {"CHANGES_REQUESTED", "DISMISSED"}
}

approvers contains user if {
	_req
	some i, r in input.pr.reviews
	r.state == "APPROVED"
	r.commit_id == input.pr.head_sha
	is_string(r.user)
	user := lower(r.user)
	user != _author
	not _superseded(i, user)
}

_members(team) := _logins(object.get(_org.teams, [team, "members"], []))

# Nobody independent in the owning team (or no owner known): security approves.
_approving := _owner if count(_members(_owner) - {_author}) > 0 else := _security

_count := 1

required := {
	"kind": "removal",
	"approvals": _count,
	"teams": [_approving],
	"security": _approving == _security,
	"fallback": [t | t := _owner; _approving != t],
} if {
	_req
	not _own_removal
}

_names(s) := concat(", ", sort(s)) if count(s) > 0

_names(s) := "none" if count(s) == 0

# METADATA
# title: Removal not approved
# description: Deleting, moving or renaming a request file ends access; the owners of the target it leaves must approve, unless the beneficiary removes their own request.
# custom:
#   id: removal-approval-missing
#   severity: high
#   remediation: Ask the target's owning team to approve the latest commit, or let the beneficiary open the removal PR.
deny contains v if {
	_req
	input.pr
	not _own_removal
	found := approvers & _members(_approving)
	count(found) < _count
	msg := sprintf("removing %s ends access: needs %d approval(s) of head commit %s from team %s; counted: %s", [input.file, _count, substring(input.pr.head_sha, 0, 7), _approving, _names(found)])
	v := data.access.lib.violation(_rules["removal-approval-missing"], "removal-approval-missing", msg, input.file)
}
