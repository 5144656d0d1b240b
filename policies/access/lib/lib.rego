# Helpers shared by the rules: org-model lookups, time arithmetic and the
# violation shape. Everything here reads data.org only through arguments or
# lookups; no rule depends on the engine it runs on (regorus or OPA).
package access.lib

hour_ns := 3600000000000

tier_rank := {"standard": 0, "sensitive": 1, "privileged": 2}

# violation builds the one object shape every deny rule emits: the fixed
# fields come from the rule's metadata, the message and file from the case.
violation(meta, id, message, file) := {
	"rule": id,
	"title": meta.title,
	"severity": meta.severity,
	"remediation": meta.remediation,
	"message": message,
	"file": file,
}

# sorted turns a set of objects into an array in a stable order, so both
# engines (and their JSON) give byte-identical decisions.
sorted(s) := [o[k] | some k in sort(object.keys(o))] if {
	o := {sprintf("%s|%s|%s", [v.rule, v.file, v.message]): v | some v in s}
}

hours_until(ts, now) := (time.parse_rfc3339_ns(ts) - time.parse_rfc3339_ns(now)) / hour_ns

provider_of(kind) := split(kind, "-")[0]

target(org, "aws", name) := t if {
	some t in org.aws.accounts
	t.name == name
}

target(org, "gcp", name) := t if {
	some t in org.gcp.projects
	t.id == name
}

target_id(org, provider, name) := object.get(target(org, provider, name), "id", name)

catalog_entry(org, kind, entitlement) := c if {
	some c in org.catalog
	c.kind == kind
	c.entitlement == entitlement
}

# max_hours: the catalog entry may lower its tier's maximum, never raise it.
max_hours(org, entry) := min([object.get(entry, "max_hours", tier_max), tier_max]) if {
	tier_max := org.tiers[entry.tier].max_hours
}

# approving_team: the catalog's owner for the role, else the target's owner.
approving_team(org, g) := team if {
	entry := catalog_entry(org, g.kind, g.entitlement)
	t := target(org, provider_of(g.kind), g.target)
	team := object.get(entry, "owner", t.owner)
}

grant_tier(org, g) := catalog_entry(org, g.kind, g.entitlement).tier

# request_tier: the highest tier among the request's grants (standard when
# none is in the catalog, which the catalog rule denies anyway).
request_tier(org, request) := tier if {
	ranks := [tier_rank[grant_tier(org, g)] | some g in object.get(request, "grants", [])]
	count(ranks) > 0
	some tier, rank in tier_rank
	rank == max(ranks)
} else := "standard"

# has_ticket: a non-empty ticket reference (null and "" are none).
has_ticket(request) if {
	is_string(request.ticket)
	request.ticket != ""
}

is_access_request(request) if request.kind == "AccessRequest"

is_service_account(request) if request.kind == "ServiceAccount"

identity_kinds := {"aws-ci-role", "gcp-service-account"}

# service_account_owner: the owner team of the identity a request's
# serviceAccount principal points at, from the desired state.
service_account_owner(state, ref) := owner if {
	some g in state.grants
	g.kind in identity_kinds
	g.principal == ref
	owner := g.attributes.owner
}

# person: by the loader's index (org._index, built from org.people) when
# present, else by scanning org.people (small models in unit tests).
person(org, email) := org._index.people[lower(email)] if org._index

person(org, email) := p if {
	not org._index
	some p in org.people
	lower(p.email) == lower(email)
}

# in_team: a reviewer's GitHub teams (from the PR context) include the org
# team, named by key, by its slug or by its full "org/slug" name.
in_team(org, key, review_teams) if {
	team := org.teams[key]
	parts := split(team.github_team, "/")
	some name in {key, team.github_team, parts[count(parts) - 1]}
	name in review_teams
}
