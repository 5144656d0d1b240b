# Rule 9: access in a production account or project is traceable to a
# ticket, whatever its tier. A ServiceAccount file alone grants nobody
# anything, so only AccessRequests are judged here.
package access.rules.production

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {"production-ticket-required": {
	"title": "Production access without a ticket",
	"description": "Requests touching a production account or project must reference a ticket.",
	"remediation": "Add `ticket` with the reference of the work this access is for, e.g. ticket: OPS-1234.",
	"severity": "medium",
}}

_prod_targets contains name if {
	lib.is_access_request(input.request)
	some g in input.request.grants
	t := lib.target(_org, lib.provider_of(g.kind), g.target)
	t.environment == "prod"
	name := g.target
}

# METADATA
# title: Production access without a ticket
# description: Requests touching a production account or project must reference a ticket.
# custom:
#   id: production-ticket-required
#   severity: medium
#   remediation: 'Add `ticket` with the reference of the work this access is for, e.g. ticket: OPS-1234.'
deny contains v if {
	count(_prod_targets) > 0
	not lib.has_ticket(input.request)
	msg := sprintf("%s is production and needs a ticket reference", [concat(", ", sort(_prod_targets))])
	v := lib.violation(_rules["production-ticket-required"], "production-ticket-required", msg, input.file)
}
