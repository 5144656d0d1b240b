# The one document the pipeline queries: data.access.decision.
# Each rule package contributes a `deny` set; this file only gathers them,
# sets waived ones apart and says who must approve. Rules of other packages
# are named by their full path: regorus evaluates every rule of a package
# referenced through an import alias, so an error in an unrelated rule would
# surface there and not in OPA. Functions through an alias are fine.
package access

import data.access.lib
import data.access.waivers

_found contains v if some v in data.access.rules.catalog.deny

_found contains v if some v in data.access.rules.expiry.deny

_found contains v if some v in data.access.rules.privileged.deny

_found contains v if some v in data.access.rules.principals.deny

_found contains v if some v in data.access.rules.identities.deny

_found contains v if some v in data.access.rules.nhi.deny

_found contains v if some v in data.access.rules.sod.deny

_found contains v if some v in data.access.rules.approvals.deny

_found contains v if some v in data.access.rules.changes.deny

_found contains v if some v in data.access.rules.production.deny

_found contains v if some v in data.access.rules.rule_changes.deny

_found contains v if some v in data.access.rules.removals.deny

_found contains v if some v in data.access.rules.access_reviews.deny

_waived contains w if {
	some v in _found
	w := waivers.waived(v)
}

_violations contains v if {
	some v in _found
	not waivers.waiver_for(v)
}

default _required := {}

_required := data.access.rules.approvals.required

_required := data.access.rules.rule_changes.required

_required := data.access.rules.removals.required

_required := data.access.rules.access_reviews.required

default _post_incident_review := false

_post_incident_review if data.access.rules.privileged.post_incident_review

decision := {
	"allow": count(_violations) == 0,
	"violations": lib.sorted(_violations),
	"waived": lib.sorted(_waived),
	"post_incident_review": _post_incident_review,
	"required_approvals": _required,
}
