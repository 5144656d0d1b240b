# Exceptions are data (policies/data/waivers.yaml: rule, file, owner,
# expires, reason), never an edit to a rule. A waiver applies only while
# unexpired and only when its owner is a real team; the waived violation is
# reported separately so it stays visible. Safety rules cannot be waived.
package access.waivers

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

unwaivable := {
	"approval-owner-missing",
	"approval-security-missing",
	"approval-not-independent",
	"pr-mixes-rules-and-requests",
	"principal-public",
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
