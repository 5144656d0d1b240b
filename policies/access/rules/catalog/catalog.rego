# Rule 1: only what the catalog offers, only inside the managed scope.
package access.rules.catalog

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {
	"catalog-unknown-target": {
		"title": "Unknown account or project",
		"description": "The request names an AWS account or GCP project that is not in the org model.",
		"remediation": "Use an account or project listed in policies/data/targets.yaml, or ask the platform team to onboard it first.",
		"severity": "high",
	},
	"catalog-not-requestable": {
		"title": "Not requestable here",
		"description": "The role, group, permission set or policy is not in the requestable catalog, or the pipeline does not manage it in that account or project.",
		"remediation": "Choose an entitlement from policies/data/catalog.yaml that the target's `managed` list includes; anything else is outside the managed scope.",
		"severity": "high",
	},
}

# METADATA
# title: Unknown account or project
# description: The request names an AWS account or GCP project that is not in the org model.
# custom:
#   id: catalog-unknown-target
#   severity: high
#   remediation: Use an account or project listed in policies/data/targets.yaml, or ask the platform team to onboard it first.
deny contains v if {
	lib.is_access_request(input.request)
	some g in input.request.grants
	not lib.target(_org, lib.provider_of(g.kind), g.target)
	msg := sprintf("%s %s is not a known %s target", [g.kind, lib.quoted(g.target), lib.provider_of(g.kind)])
	v := lib.violation(_rules["catalog-unknown-target"], "catalog-unknown-target", msg, input.file)
}

# METADATA
# title: Unknown account or project
# description: The request names an AWS account or GCP project that is not in the org model.
# custom:
#   id: catalog-unknown-target
#   severity: high
#   remediation: Use an account or project listed in policies/data/targets.yaml, or ask the platform team to onboard it first.
deny contains v if {
	lib.is_service_account(input.request)
	not lib.target(_org, input.request.provider, input.request.target.name)
	msg := sprintf("service account %s is in %s, not a known %s target", [input.request.name, lib.quoted(input.request.target.name), input.request.provider])
	v := lib.violation(_rules["catalog-unknown-target"], "catalog-unknown-target", msg, input.file)
}

# METADATA
# title: Not requestable here
# description: The role, group, permission set or policy is not in the requestable catalog, or the pipeline does not manage it in that account or project.
# custom:
#   id: catalog-not-requestable
#   severity: high
#   remediation: Choose an entitlement from policies/data/catalog.yaml that the target's `managed` list includes; anything else is outside the managed scope.
deny contains v if {
	lib.is_access_request(input.request)
	some g in input.request.grants
	t := lib.target(_org, lib.provider_of(g.kind), g.target)
	not _requestable(t, g)
	msg := sprintf("%s %s is not requestable in %s", [g.kind, lib.quoted(g.entitlement), g.target])
	v := lib.violation(_rules["catalog-not-requestable"], "catalog-not-requestable", msg, input.file)
}

_requestable(t, g) if {
	lib.catalog_entry(_org, g.kind, g.entitlement)
	g.entitlement in object.get(t, ["managed", g.kind], [])
}
