# Rule 4: access goes only to known people, teams and service accounts of
# the organisation; never to the public or to outside accounts.
package access.rules.principals

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {
	"principal-public": {
		"title": "Public principal",
		"description": "allUsers, allAuthenticatedUsers, wildcards and the like would open access to anyone.",
		"remediation": "Name one person (user:<email>), team (group:<team>) or service account (serviceAccount:<target>/<name>).",
		"severity": "critical",
	},
	"principal-external": {
		"title": "Principal outside the organisation",
		"description": "Only identities in the organisation's domains and its own accounts and projects can receive access.",
		"remediation": "Use the person's organisation email, or a service account defined under requests/ in one of the organisation's accounts or projects.",
		"severity": "critical",
	},
	"principal-unknown": {
		"title": "Unknown or inactive principal",
		"description": "The principal must be an active person, a team of the org model, or a service account defined by a ServiceAccount request.",
		"remediation": "Check the spelling against policies/data/people.yaml and teams.yaml, or add the ServiceAccount request first.",
		"severity": "high",
	},
}

_public_ids := {"allusers", "allauthenticatedusers", "*", "public", "anonymous"}

_principal := input.request.principal if lib.is_access_request(input.request)

_public if lib.fold(_principal.id) in _public_ids

_public if contains(_principal.id, "*")

# METADATA
# title: Public principal
# description: allUsers, allAuthenticatedUsers, wildcards and the like would open access to anyone.
# custom:
#   id: principal-public
#   severity: critical
#   remediation: Name one person (user:<email>), team (group:<team>) or service account (serviceAccount:<target>/<name>).
deny contains v if {
	_public
	msg := sprintf("%s is a public principal", [_principal.ref])
	v := lib.violation(_rules["principal-public"], "principal-public", msg, input.file)
}

_external := sprintf("%s is outside the organisation's domains (%s)", [_principal.ref, concat(", ", _org.organization.domains)]) if {
	not _public
	_principal.type == "user"
	parts := split(_principal.id, "@")
	domain := parts[1]
	not domain in _org.organization.domains
}

_external := sprintf("%s is in %s, which is not an account or project of the organisation", [_principal.ref, lib.quoted(account)]) if {
	not _public
	_principal.type == "serviceAccount"
	parts := split(_principal.id, "/")
	account := parts[0]
	not _own_target(account)
}

_own_target(name) if lib.target(_org, "aws", name)

_own_target(name) if lib.target(_org, "gcp", name)

# METADATA
# title: Principal outside the organisation
# description: Only identities in the organisation's domains and its own accounts and projects can receive access.
# custom:
#   id: principal-external
#   severity: critical
#   remediation: Use the person's organisation email, or a service account defined under requests/ in one of the organisation's accounts or projects.
deny contains v if {
	v := lib.violation(_rules["principal-external"], "principal-external", _external, input.file)
}

_unknown := sprintf("%s is not a person of the organisation", [_principal.ref]) if {
	_principal.type == "user"
	not _public
	not _external
	not lib.person(_org, _principal.id)
} else := sprintf("%s is not an active person", [_principal.ref]) if {
	_principal.type == "user"
	not _public
	not _external
	lib.person(_org, _principal.id).active == false
}

_unknown := sprintf("%s is not a team of the org model", [_principal.ref]) if {
	_principal.type == "group"
	not _public
	not _org.teams[_principal.id]
}

_unknown := sprintf("%s is not defined by any ServiceAccount request", [_principal.ref]) if {
	_principal.type == "serviceAccount"
	not _public
	not _external
	not lib.service_account_owner(input.state, _principal.ref)
}

# METADATA
# title: Unknown or inactive principal
# description: The principal must be an active person, a team of the org model, or a service account defined by a ServiceAccount request.
# custom:
#   id: principal-unknown
#   severity: high
#   remediation: Check the spelling against policies/data/people.yaml and teams.yaml, or add the ServiceAccount request first.
deny contains v if {
	v := lib.violation(_rules["principal-unknown"], "principal-unknown", _unknown, input.file)
}
