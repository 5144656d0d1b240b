# Rule 5: non-human identities have an owner, end within a year, trust one
# repository and ref (AWS CI roles through GitHub OIDC) and hold no keys,
# except the one key of a third-party integration (see rules/nhi).
package access.rules.identities

import data.access.lib

# The org model, read once per decision: regorus resolves a `data.org`
# reference anew each time (~8 µs), a rule of the package once.
_org := data.org

_rules := {
	"identity-owner-unknown": {
		"title": "Identity without a known owner",
		"description": "Every service account or CI role belongs to a team that answers for it.",
		"remediation": "Set `owner` to a team key from policies/data/teams.yaml.",
		"severity": "high",
	},
	"identity-expiry-too-long": {
		"title": "Identity lives too long",
		"description": "Non-human identities are reviewed at least yearly, so they expire within the service-account maximum.",
		"remediation": "Move `expires` within policies/data/tiers.yaml service_accounts.max_hours (one year) and renew it by PR.",
		"severity": "medium",
	},
	"identity-oidc-trust": {
		"title": "CI role trust too broad",
		"description": "An AWS CI role trusts exactly one GitHub repository and one ref pattern, never a wildcard repository.",
		"remediation": "Set oidc.repository to one owner/name without wildcards and oidc.ref to the branch or tag it deploys from, e.g. refs/heads/main.",
		"severity": "critical",
	},
	"identity-user-managed-keys": {
		"title": "Long-lived keys requested",
		"description": "User-managed keys are long-lived secrets; workloads authenticate with OIDC or attached identities instead. The one exception is a third-party integration (use: integration), whose single key the pipeline keeps in the secret store and rotates.",
		"remediation": "Remove `user_managed_keys` and `credential` and use workload identity federation or GitHub OIDC; a third party that can only use a key is defined with use: integration.",
		"severity": "critical",
	},
}

_sa := input.request if lib.is_service_account(input.request)

# METADATA
# title: Identity without a known owner
# description: Every service account or CI role belongs to a team that answers for it.
# custom:
#   id: identity-owner-unknown
#   severity: high
#   remediation: Set `owner` to a team key from policies/data/teams.yaml.
deny contains v if {
	not _org.teams[_sa.owner]
	msg := sprintf("owner team %s of %s does not exist", [lib.quoted(_sa.owner), _sa.ref])
	v := lib.violation(_rules["identity-owner-unknown"], "identity-owner-unknown", msg, input.file)
}

# METADATA
# title: Identity lives too long
# description: Non-human identities are reviewed at least yearly, so they expire within the service-account maximum.
# custom:
#   id: identity-expiry-too-long
#   severity: medium
#   remediation: Move `expires` within policies/data/tiers.yaml service_accounts.max_hours (one year) and renew it by PR.
deny contains v if {
	limit := _org.service_accounts.max_hours
	hours := lib.hours_until(_sa.expires, input.now)
	hours > limit
	msg := sprintf("%s may live at most %d hours, this one lasts %d hours", [_sa.ref, limit, ceil(hours)])
	v := lib.violation(_rules["identity-expiry-too-long"], "identity-expiry-too-long", msg, input.file)
}

# _text: a string as it is, anything else (null) as "", so regex.match never
# sees a non-string (a type error in regorus, undefined in OPA).
_text(x) := x if is_string(x)

_text(x) := "" if not is_string(x)

# A CI role (use: ci, the default on aws) trusts GitHub OIDC; an agent may
# trust it instead of a runtime role, and then the same limits hold.
_oidc_trusted if {
	_sa.provider == "aws"
	object.get(_sa, "use", "ci") == "ci"
}

_oidc_trusted if {
	_sa.provider == "aws"
	_sa.use == "agent"
	is_object(object.get(_sa, "oidc", null))
}

_trust_problem := "it names no OIDC repository and ref" if {
	_oidc_trusted
	not is_object(object.get(_sa, "oidc", null))
} else := sprintf("repository %s is not exactly one owner/name", [lib.quoted(object.get(_sa.oidc, "repository", null))]) if {
	_oidc_trusted
	not regex.match(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`, _text(object.get(_sa.oidc, "repository", "")))
} else := sprintf("ref %s is not a branch, tag or environment pattern", [lib.quoted(object.get(_sa.oidc, "ref", null))]) if {
	_oidc_trusted
	not regex.match(`^(refs/(heads|tags)/|environment:)[^*]+\*?$`, _text(object.get(_sa.oidc, "ref", "")))
}

# METADATA
# title: CI role trust too broad
# description: An AWS CI role trusts exactly one GitHub repository and one ref pattern, never a wildcard repository.
# custom:
#   id: identity-oidc-trust
#   severity: critical
#   remediation: Set oidc.repository to one owner/name without wildcards and oidc.ref to the branch or tag it deploys from, e.g. refs/heads/main.
deny contains v if {
	msg := sprintf("%s: %s", [_sa.ref, _trust_problem])
	v := lib.violation(_rules["identity-oidc-trust"], "identity-oidc-trust", msg, input.file)
}

# METADATA
# title: Long-lived keys requested
# description: 'User-managed keys are long-lived secrets; workloads authenticate with OIDC or attached identities instead. The one exception is a third-party integration (use: integration), whose single key the pipeline keeps in the secret store and rotates.'
# custom:
#   id: identity-user-managed-keys
#   severity: critical
#   remediation: 'Remove `user_managed_keys` and `credential` and use workload identity federation or GitHub OIDC; a third party that can only use a key is defined with use: integration.'
deny contains v if {
	_sa.user_managed_keys == true
	msg := sprintf("%s asks for user-managed keys", [_sa.ref])
	v := lib.violation(_rules["identity-user-managed-keys"], "identity-user-managed-keys", msg, input.file)
}

# METADATA
# title: Long-lived keys requested
# description: 'User-managed keys are long-lived secrets; workloads authenticate with OIDC or attached identities instead. The one exception is a third-party integration (use: integration), whose single key the pipeline keeps in the secret store and rotates.'
# custom:
#   id: identity-user-managed-keys
#   severity: critical
#   remediation: 'Remove `user_managed_keys` and `credential` and use workload identity federation or GitHub OIDC; a third party that can only use a key is defined with use: integration.'
deny contains v if {
	is_object(object.get(_sa, "credential", null))
	object.get(_sa, "use", null) != "integration"
	msg := sprintf("%s asks for a key (credential) but is not a third-party integration", [_sa.ref])
	v := lib.violation(_rules["identity-user-managed-keys"], "identity-user-managed-keys", msg, input.file)
}
