# Exceptions are data (policies/data/waivers.yaml: rule, file, owner,
# expires, reason), never an edit to a rule. A waiver applies only while
# unexpired and only when its owner is a real team; the waived violation is
# reported separately so it stays visible. Safety rules cannot be waived.
# tools/core/waivers.py answers the same question for validation (a test
# compares the two on generated waiver lists): keep them in step.
package access.waivers

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

# Safety rules (approvals, the rules change), and what says who holds or
# answers for access and that it ends: an unknown, inactive or outside
# person is exactly whom an insider would keep in with a waiver; an unknown
# target, a missing or past expiry could never be provisioned anyway.
unwaivable := {
	"approval-owner-missing",
	"approval-security-missing",
	"approval-not-independent",
	"pr-mixes-rules-and-requests",
	"principal-public",
	"principal-external",
	"principal-unknown",
	"identity-owner-unknown",
	"catalog-unknown-target",
	"expiry-missing",
	"expiry-past",
	"rules-change-approval-missing",
	"rules-change-invalid",
	"removal-approval-missing",
}

# waiver_for(v): the first active waiver covering violation v, in file order.
# A list rather than a function with several values: two waivers for the
# same rule and file (which the org-model schema refuses) would otherwise
# be a conflict error in both engines, failing every decision.
waiver_for(v) := ws[0] if {
	not v.rule in unwaivable
	ws := [w |
		some w in object.get(_org, "waivers", [])
		w.rule == v.rule
		w.file == v.file
		_org.teams[w.owner]
		lib.hours_until(w.expires, input.now) > 0
	]
	count(ws) > 0
}

waived(v) := object.union(v, {"waiver": {
	"owner": w.owner,
	"expires": w.expires,
	"reason": object.get(w, "reason", ""),
}}) if {
	w := waiver_for(v)
}
