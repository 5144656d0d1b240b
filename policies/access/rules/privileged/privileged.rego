# Rule 3: privileged access needs a ticket; break-glass is the one fast
# path (one approval) and is short and always reviewed after the incident.
package access.rules.privileged

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {
	"privileged-ticket-required": {
		"title": "Privileged access without a ticket",
		"description": "Access in a tier whose ticket_required is true (policies/data/tiers.yaml; the privileged tier) must reference the ticket or incident it serves.",
		"remediation": "Add `ticket` with the change or incident reference, e.g. ticket: OPS-1234.",
		"severity": "high",
	},
	"break-glass-too-long": {
		"title": "Break-glass access too long",
		"description": "Break-glass access skips the second approval, so it may only last a few hours.",
		"remediation": "Set `expires` within the break-glass maximum (policies/data/tiers.yaml, break_glass.max_hours) or drop `break_glass` and get the normal approvals.",
		"severity": "critical",
	},
}

# post_incident_review: a break-glass request must raise a review once the
# incident is over; the decision carries this so the PR check can file it.
post_incident_review if input.request.break_glass == true

# _ticket_tiers: the tiers of this request's grants that require a ticket,
# read from data (tiers.*.ticket_required), never assumed from a tier name.
_ticket_tiers contains tier if {
	lib.is_access_request(input.request)
	some g in input.request.grants
	tier := lib.grant_tier(_org, g)
	_org.tiers[tier].ticket_required == true
}

# METADATA
# title: Privileged access without a ticket
# description: Access in a tier whose ticket_required is true (policies/data/tiers.yaml; the privileged tier) must reference the ticket or incident it serves.
# custom:
#   id: privileged-ticket-required
#   severity: high
#   remediation: 'Add `ticket` with the change or incident reference, e.g. ticket: OPS-1234.'
deny contains v if {
	count(_ticket_tiers) > 0
	not lib.has_ticket(input.request)
	msg := sprintf("%s access needs a ticket reference", [concat(" and ", sort(_ticket_tiers))])
	v := lib.violation(_rules["privileged-ticket-required"], "privileged-ticket-required", msg, input.file)
}

# METADATA
# title: Break-glass access too long
# description: Break-glass access skips the second approval, so it may only last a few hours.
# custom:
#   id: break-glass-too-long
#   severity: critical
#   remediation: Set `expires` within the break-glass maximum (policies/data/tiers.yaml, break_glass.max_hours) or drop `break_glass` and get the normal approvals.
deny contains v if {
	input.request.break_glass == true
	limit := _org.break_glass.max_hours
	hours := lib.hours_until(input.request.expires, input.now)
	hours > limit
	msg := sprintf("break-glass access may last at most %d hours, this one lasts %d hours", [limit, ceil(hours)])
	v := lib.violation(_rules["break-glass-too-long"], "break-glass-too-long", msg, input.file)
}
