# Rule 12: AI agents and third-party integrations (OWASP Non-Human Identity
# Top 10). An agent lives at most its tier's maximum, is reached only by one
# runtime principal of the organisation, and its grants are never privileged,
# never longer than the agent tier allows, and name the task. An integration
# lives at most its tier's maximum and its key is rotated within the tier's
# rotate_days. The numbers are tier settings (policies/data/tiers.yaml:
# tiers.agent, tiers.integration), not constants.
package access.rules.nhi

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {
	"nhi-expiry-too-long": {
		"title": "Agent or integration lives too long",
		"description": "AI agents and third-party integrations expire within their tier's maximum (NHI1 improper offboarding, NHI7 long-lived secrets).",
		"remediation": "Move `expires` within tiers.yaml agent/integration max_hours (90 days) and renew it by PR.",
		"severity": "high",
	},
	"nhi-runtime-external": {
		"title": "Agent runtime outside the organisation",
		"description": "An agent is assumed or impersonated only by a runtime principal in one of the organisation's accounts or projects.",
		"remediation": "Set assumed_by to a role ARN in one of the organisation's AWS accounts, or impersonated_by to a service account of one of its GCP projects.",
		"severity": "critical",
	},
	"nhi-session-too-long": {
		"title": "Agent session longer than the cloud allows",
		"description": "GCP impersonation tokens last one hour, so a GCP agent's max_session_minutes is 60.",
		"remediation": "Set max_session_minutes: 60 for a GCP agent.",
		"severity": "medium",
	},
	"nhi-rotation-too-long": {
		"title": "Integration key rotated too rarely",
		"description": "An integration's key is replaced at least every tiers.yaml integration.rotate_days days (NHI7 long-lived secrets).",
		"remediation": "Lower credential.rotate_days to the integration tier's rotate_days (30) or less.",
		"severity": "high",
	},
	"nhi-agent-privileged": {
		"title": "Privileged access for an agent",
		"description": "An AI agent never receives privileged-tier access (NHI5 overprivileged NHI).",
		"remediation": "Ask for a standard or sensitive role that covers the agent's task; a person does privileged work.",
		"severity": "critical",
	},
	"nhi-grant-too-long": {
		"title": "Grant to an agent or integration lasts too long",
		"description": "Access for an agent or integration ends within its tier's maximum, whatever the role's own tier allows.",
		"remediation": "Move `expires` within tiers.yaml agent/integration max_hours and renew by PR.",
		"severity": "high",
	},
	"nhi-agent-task": {
		"title": "Agent grant does not name its task",
		"description": "A grant to an AI agent says which task needs it, so reviewers can judge the scope (NHI5 overprivileged NHI).",
		"remediation": "Start a sentence of `justification` with `Task:` and name the task, e.g. `Task: triage new on-call tickets.`",
		"severity": "medium",
	},
}

_sa := input.request if lib.is_service_account(input.request)

_use := lib.nhi_use(input.request, input.state)

_nhi_tier := _org.tiers[_use] if _use in {"agent", "integration"}

# METADATA
# title: Agent or integration lives too long
# description: AI agents and third-party integrations expire within their tier's maximum (NHI1 improper offboarding, NHI7 long-lived secrets).
# custom:
#   id: nhi-expiry-too-long
#   severity: high
#   remediation: Move `expires` within tiers.yaml agent/integration max_hours (90 days) and renew it by PR.
deny contains v if {
	limit := _sa_limit
	hours := lib.hours_until(_sa.expires, input.now)
	hours > limit
	msg := sprintf("%s (use: %s) may live at most %d hours, this one lasts %d hours", [_sa.ref, _sa.use, limit, ceil(hours)])
	v := lib.violation(_rules["nhi-expiry-too-long"], "nhi-expiry-too-long", msg, input.file)
}

_sa_limit := _nhi_tier.max_hours if _sa

# _runtime_target: the account or project the agent's runtime lives in.
_runtime_target := parts[4] if {
	_sa.use == "agent"
	_sa.provider == "aws"
	is_string(_sa.runtime)
	parts := split(_sa.runtime, ":")
}

_runtime_target := trim_suffix(parts[1], ".iam.gserviceaccount.com") if {
	_sa.use == "agent"
	_sa.provider == "gcp"
	is_string(_sa.runtime)
	contains(_sa.runtime, "@")
	parts := split(_sa.runtime, "@")
}

_own_account(id) if {
	some a in _org.aws.accounts
	a.id == id
}

_own_project(id) if {
	some p in _org.gcp.projects
	p.id == id
}

_runtime_ok if {
	_sa.provider == "aws"
	_own_account(_runtime_target)
}

_runtime_ok if {
	_sa.provider == "gcp"
	_own_project(_runtime_target)
}

# METADATA
# title: Agent runtime outside the organisation
# description: An agent is assumed or impersonated only by a runtime principal in one of the organisation's accounts or projects.
# custom:
#   id: nhi-runtime-external
#   severity: critical
#   remediation: Set assumed_by to a role ARN in one of the organisation's AWS accounts, or impersonated_by to a service account of one of its GCP projects.
deny contains v if {
	_sa.use == "agent"
	is_string(_sa.runtime)
	not _runtime_ok
	msg := sprintf("%s: runtime %s is not in an account or project of the organisation", [_sa.ref, lib.quoted(_sa.runtime)])
	v := lib.violation(_rules["nhi-runtime-external"], "nhi-runtime-external", msg, input.file)
}

# METADATA
# title: Agent session longer than the cloud allows
# description: GCP impersonation tokens last one hour, so a GCP agent's max_session_minutes is 60.
# custom:
#   id: nhi-session-too-long
#   severity: medium
#   remediation: 'Set max_session_minutes: 60 for a GCP agent.'
deny contains v if {
	_sa.use == "agent"
	_sa.provider == "gcp"
	is_number(_sa.max_session_minutes)
	_sa.max_session_minutes > 60
	msg := sprintf("%s asks for %d-minute sessions; GCP impersonation tokens last 60 minutes", [_sa.ref, _sa.max_session_minutes])
	v := lib.violation(_rules["nhi-session-too-long"], "nhi-session-too-long", msg, input.file)
}

# METADATA
# title: Integration key rotated too rarely
# description: An integration's key is replaced at least every tiers.yaml integration.rotate_days days (NHI7 long-lived secrets).
# custom:
#   id: nhi-rotation-too-long
#   severity: high
#   remediation: Lower credential.rotate_days to the integration tier's rotate_days (30) or less.
deny contains v if {
	_sa.use == "integration"
	days := _sa.credential.rotate_days
	limit := _org.tiers.integration.rotate_days
	days > limit
	msg := sprintf("%s rotates its key every %d days, over the limit of %d", [_sa.ref, days, limit])
	v := lib.violation(_rules["nhi-rotation-too-long"], "nhi-rotation-too-long", msg, input.file)
}

# METADATA
# title: Privileged access for an agent
# description: An AI agent never receives privileged-tier access (NHI5 overprivileged NHI).
# custom:
#   id: nhi-agent-privileged
#   severity: critical
#   remediation: Ask for a standard or sensitive role that covers the agent's task; a person does privileged work.
deny contains v if {
	lib.is_access_request(input.request)
	_use == "agent"
	some g in input.request.grants
	tier := lib.grant_tier(_org, g)
	tier == "privileged"
	msg := sprintf("%s is an AI agent; %s %s is privileged tier", [input.request.principal.ref, g.kind, lib.quoted(g.entitlement)])
	v := lib.violation(_rules["nhi-agent-privileged"], "nhi-agent-privileged", msg, input.file)
}

# METADATA
# title: Grant to an agent or integration lasts too long
# description: Access for an agent or integration ends within its tier's maximum, whatever the role's own tier allows.
# custom:
#   id: nhi-grant-too-long
#   severity: high
#   remediation: Move `expires` within tiers.yaml agent/integration max_hours and renew by PR.
deny contains v if {
	lib.is_access_request(input.request)
	limit := _nhi_tier.max_hours
	hours := lib.hours_until(input.request.expires, input.now)
	hours > limit
	msg := sprintf("%s is an %s: its access lasts at most %d hours, this request lasts %d hours", [input.request.principal.ref, _use, limit, ceil(hours)])
	v := lib.violation(_rules["nhi-grant-too-long"], "nhi-grant-too-long", msg, input.file)
}

_names_task if regex.match(`(?i)(^|[.!?]\s+)task:\s*\S+`, input.request.justification)

# METADATA
# title: Agent grant does not name its task
# description: A grant to an AI agent says which task needs it, so reviewers can judge the scope (NHI5 overprivileged NHI).
# custom:
#   id: nhi-agent-task
#   severity: medium
#   remediation: 'Start a sentence of `justification` with `Task:` and name the task, e.g. `Task: triage new on-call tickets.`'
deny contains v if {
	lib.is_access_request(input.request)
	_use == "agent"
	not _names_task
	msg := sprintf("the justification for %s does not name the agent's task (a sentence starting with \"Task:\")", [input.request.principal.ref])
	v := lib.violation(_rules["nhi-agent-task"], "nhi-agent-task", msg, input.file)
}
