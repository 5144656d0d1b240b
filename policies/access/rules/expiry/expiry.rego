# Rule 2: every request ends, and no later than its tier allows. The hour
# limits live in policies/data (tiers.yaml, catalog.yaml), never here.
package access.rules.expiry

import data.access.lib

_rules := {
	"expiry-missing": {
		"title": "No expiry",
		"description": "Every access request must say when the access ends.",
		"remediation": "Add `expires` with an absolute UTC date or timestamp, e.g. expires: \"2026-12-31\".",
		"severity": "high",
	},
	"expiry-past": {
		"title": "Expiry in the past",
		"description": "The request expires at or before the time of evaluation.",
		"remediation": "Choose a future expiry; access cannot be backdated.",
		"severity": "medium",
	},
	"expiry-too-long": {
		"title": "Expiry beyond the tier maximum",
		"description": "The request lasts longer than the risk tier of what it asks for allows.",
		"remediation": "Move `expires` earlier, within the maximum duration of the tier (policies/data/tiers.yaml); renew with a new PR when it ends.",
		"severity": "high",
	},
}

# METADATA
# title: No expiry
# description: Every access request must say when the access ends.
# custom:
#   id: expiry-missing
#   severity: high
#   remediation: 'Add `expires` with an absolute UTC date or timestamp, e.g. expires: "2026-12-31".'
deny contains v if {
	not input.request.expires
	msg := sprintf("%s has no expiry", [input.request.kind])
	v := lib.violation(_rules["expiry-missing"], "expiry-missing", msg, input.file)
}

# METADATA
# title: Expiry in the past
# description: The request expires at or before the time of evaluation.
# custom:
#   id: expiry-past
#   severity: medium
#   remediation: Choose a future expiry; access cannot be backdated.
deny contains v if {
	lib.hours_until(input.request.expires, input.now) <= 0
	msg := sprintf("expires %s is not after now (%s)", [input.request.expires, input.now])
	v := lib.violation(_rules["expiry-past"], "expiry-past", msg, input.file)
}

# METADATA
# title: Expiry beyond the tier maximum
# description: The request lasts longer than the risk tier of what it asks for allows.
# custom:
#   id: expiry-too-long
#   severity: high
#   remediation: Move `expires` earlier, within the maximum duration of the tier (policies/data/tiers.yaml); renew with a new PR when it ends.
deny contains v if {
	lib.is_access_request(input.request)
	some g in input.request.grants
	entry := lib.catalog_entry(data.org, g.kind, g.entitlement)
	limit := lib.max_hours(data.org, entry)
	hours := lib.hours_until(input.request.expires, input.now)
	hours > limit
	msg := sprintf("%s %q is %s tier: at most %d hours, but this request lasts %d hours (until %s)", [g.kind, g.entitlement, entry.tier, limit, ceil(hours), input.request.expires])
	v := lib.violation(_rules["expiry-too-long"], "expiry-too-long", msg, input.file)
}
