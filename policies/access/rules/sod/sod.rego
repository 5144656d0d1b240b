# Rule 6: separation of duties over the whole desired state: the request's
# grants plus everything the same principal already holds (base branch and
# the PR's other files, as input.state), against _org's conflicting pairs.
# Access through a team counts: input.state.related names the principals
# whose grants reach this one (a person's teams, a team's members), and
# their grants are in input.state.grants too.
package access.rules.sod

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {"sod-conflict": {
	"title": "Separation of duties",
	"description": "One principal would hold both sides of a conflicting pair in the same account or project.",
	"remediation": "Drop one of the two conflicting entitlements, or give the other side to a different person.",
	"severity": "high",
}}

# _mine: what this request grants, keyed like state grants (target id).
# The target id is bound in the body, not computed in the head: regorus
# drops or errors on the whole set when a head call is undefined for one
# grant, where OPA skips that grant.
_mine contains mine if {
	lib.is_access_request(input.request)
	some g in input.request.grants
	target := lib.target_id(_org, lib.provider_of(g.kind), g.target)
	mine := {"kind": g.kind, "entitlement": g.entitlement, "target": target, "request": input.file, "holder": input.request.principal.ref}
}

_held contains h if some h in _mine

_holders contains input.request.principal.ref

_holders contains ref if some ref in object.get(input.state, "related", [])

_held contains {"kind": g.kind, "entitlement": g.entitlement, "target": g.target, "request": g.request, "holder": g.principal} if {
	some g in input.state.grants
	g.principal in _holders
}

# _via: how the other side reaches the principal, when not directly.
_via(held) := "" if held.holder == input.request.principal.ref

_via(held) := sprintf(" held by %s", [held.holder]) if held.holder != input.request.principal.ref

_matches(grant, side) if {
	grant.kind == side.kind
	grant.entitlement == side.entitlement
}

# METADATA
# title: Separation of duties
# description: One principal would hold both sides of a conflicting pair in the same account or project.
# custom:
#   id: sod-conflict
#   severity: high
#   remediation: Drop one of the two conflicting entitlements, or give the other side to a different person.
deny contains v if {
	some pair in _org.separation_of_duties
	some [this, other] in [[pair.a, pair.b], [pair.b, pair.a]]
	some mine in _mine
	_matches(mine, this)
	some held in _held
	_matches(held, other)
	held.target == mine.target
	via := _via(held)
	msg := sprintf("%s would hold both %s and %s in %s (%s; the other grant is in %s%s): %s", [input.request.principal.ref, this.entitlement, other.entitlement, mine.target, pair.name, held.request, via, pair.description])
	v := lib.violation(_rules["sod-conflict"], "sod-conflict", msg, input.file)
}
