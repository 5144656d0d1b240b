# The one document the pipeline queries: data.access.decision.
# Each rule package contributes a `deny` set; this file only gathers them,
# sets waived ones apart and says who must approve.
package access

import data.access.lib
import data.access.rules.approvals
import data.access.rules.catalog
import data.access.rules.changes
import data.access.rules.expiry
import data.access.rules.identities
import data.access.rules.principals
import data.access.rules.privileged
import data.access.rules.production
import data.access.rules.sod
import data.access.waivers

_found contains v if some v in catalog.deny

_found contains v if some v in expiry.deny

_found contains v if some v in privileged.deny

_found contains v if some v in principals.deny

_found contains v if some v in identities.deny

_found contains v if some v in sod.deny

_found contains v if some v in approvals.deny

_found contains v if some v in changes.deny

_found contains v if some v in production.deny

_found contains v if some v in data.access.rules.rule_changes.deny

_found contains v if some v in data.access.rules.removals.deny

_waived contains w if {
	some v in _found
	w := waivers.waived(v)
}

_violations contains v if {
	some v in _found
	not waivers.waiver_for(v)
}

default _required := {}

_required := approvals.required

_required := data.access.rules.rule_changes.required

_required := data.access.rules.removals.required

default _post_incident_review := false

_post_incident_review if privileged.post_incident_review

decision := {
	"allow": count(_violations) == 0,
	"violations": lib.sorted(_violations),
	"waived": lib.sorted(_waived),
	"post_incident_review": _post_incident_review,
	"required_approvals": _required,
}
