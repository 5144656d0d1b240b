# Exceptions are data (policies/data/waivers.yaml: rule, file, owner,
# expires, reason), never an edit to a rule. A waiver applies only while
# unexpired and only when its owner is a real team; the waived violation is
# reported separately so it stays visible. Safety rules cannot be waived.
package access.waivers

import data.access.lib

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

# waiver_for(v): the active waiver covering violation v.
waiver_for(v) := w if {
	not v.rule in unwaivable
	some w in object.get(data.org, "waivers", [])
	w.rule == v.rule
	w.file == v.file
	data.org.teams[w.owner]
	lib.hours_until(w.expires, input.now) > 0
}

waived(v) := object.union(v, {"waiver": {
	"owner": w.owner,
	"expires": w.expires,
	"reason": object.get(w, "reason", ""),
}}) if {
	w := waiver_for(v)
}
