# Rule 2: every request ends, and no later than its tier allows. The hour
# limits live in policies/data (tiers.yaml, catalog.yaml), never here.
package access.rules.expiry

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

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

# _hours: how long the request lasts, worked out once per decision rather
# than once per grant (parsing and checking a timestamp is not cheap).
_hours := lib.hours_until(input.request.expires, input.now)

# METADATA
# title: No expiry
# description: Every access request must say when the access ends.
# custom:
#   id: expiry-missing
#   severity: high
#   remediation: 'Add `expires` with an absolute UTC date or timestamp, e.g. expires: "2026-12-31".'
deny contains v if {
	input.request.kind in {"AccessRequest", "ServiceAccount"}
	not is_string(object.get(input.request, "expires", null))
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
	_hours <= 0
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
	limit := lib.grant_max_hours(_org, g)
	hours := _hours
	hours > limit
	msg := sprintf("%s %s is %s: at most %d hours, but this request lasts %d hours (until %s)", [g.kind, lib.quoted(g.entitlement), _tier_text(g), limit, ceil(hours), input.request.expires])
	v := lib.violation(_rules["expiry-too-long"], "expiry-too-long", msg, input.file)
}

# _tier_text: the tier a grant is judged by; a grant outside the catalog
# keeps the strictest limit even when its catalog violation is waived.
_tier_text(g) := sprintf("%s tier", [lib.catalog_entry(_org, g.kind, g.entitlement).tier]) if {
	lib.catalog_entry(_org, g.kind, g.entitlement)
} else := sprintf("not in the catalog, so %s tier", [lib.strictest_tier])
