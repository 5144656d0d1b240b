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

# hours_until: undefined unless both are timestamps Go's RFC 3339 parser
# accepts (see timestamp); the engines disagree on anything looser.
hours_until(ts, now) := (time.parse_rfc3339_ns(ts) - time.parse_rfc3339_ns(now)) / hour_ns if {
	timestamp(ts)
	timestamp(now)
}

# timestamp: a string OPA (Go) and regorus both parse the same way: upper-case
# T and Z, seconds below 60, a real day of the month, a year both can hold in
# nanoseconds. regorus alone accepts a space for T, lower case and second 60;
# checking first keeps the decision independent of the engine.
timestamp(ts) if {
	is_string(ts)
	regex.match(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`, ts)
	year := substring(ts, 0, 4)
	year >= "1678"
	year <= "2261"
	substring(ts, 8, 2) <= _days_in_month(to_number(year), substring(ts, 5, 2))
}

# Two-digit strings: regorus's to_number refuses a leading zero ("09").
# One lookup for most months, the leap-year test for February only.
_month_days := {
	"01": "31", "03": "31", "04": "30", "05": "31", "06": "30", "07": "31",
	"08": "31", "09": "30", "10": "31", "11": "30", "12": "31",
}

_days_in_month(year, month) := days if {
	days := _month_days[month]
} else := "29" if {
	month == "02"
	_leap(year)
} else := "28" if month == "02"

_leap(year) if {
	year % 4 == 0
	year % 100 != 0
}

_leap(year) if year % 400 == 0

# fold: case-insensitive form of an identifier. Only ASCII is lowered: Go and
# Rust lower some other letters differently (İ, final sigma), so a
# non-ASCII string is compared as written. Undefined for non-strings, where
# lower() would be an error in one engine and undefined in the other.
# One regex match per call: the else branch is tried only when it fails.
fold(s) := lower(s) if {
	is_string(s)
	regex.match(`^[[:ascii:]]*$`, s)
} else := s if {
	is_string(s)
}

# quoted: a value for a message, in double quotes when it is a string and
# `none` otherwise. sprintf's %q differs between the engines (null, escapes).
quoted(x) := concat("", [`"`, x, `"`]) if is_string(x)

quoted(x) := "none" if not is_string(x)

# provider_of: the part of a grant kind before its first "-".
#
# Written for regorus's costs, here and below (decisions are the same in
# both engines): a call's result is bound to a variable before it is
# indexed (regorus indexes `split(…)[0]` some thirty times slower than a
# variable), and an index chain with more than one variable key
# (`x[a][b]`) is taken one key at a time (regorus walks the middle level
# otherwise, ~40 µs instead of ~3).
provider_of(kind) := parts[0] if parts := split(kind, "-")

# target: by the loader's index (org._index.targets, built from the same
# lists by tools/policy/engines.py org_index) when present, else by scanning
# the accounts and projects (small models in unit tests).
target(org, provider, name) := t if {
	targets := org._index.targets[provider]
	t := targets[name]
}

target(org, "aws", name) := t if {
	not org._index.targets
	some t in org.aws.accounts
	t.name == name
}

target(org, "gcp", name) := t if {
	not org._index.targets
	some t in org.gcp.projects
	t.id == name
}

target_id(org, provider, name) := t.id if {
	t := target(org, provider, name)
} else := name

# catalog_entry: by the loader's index (org._index.catalog) when present,
# else by scanning the catalog.
catalog_entry(org, kind, entitlement) := c if {
	entries := org._index.catalog[kind]
	c := entries[entitlement]
}

catalog_entry(org, kind, entitlement) := c if {
	not org._index.catalog
	some c in org.catalog
	c.kind == kind
	c.entitlement == entitlement
}

# strictest_tier: how a grant the catalog does not list is judged. Its
# catalog-not-requestable violation may be waived, but the waiver removes that
# one violation only: the grant still needs the strictest tier's approvals
# and ends within the strictest tier's maximum.
strictest_tier := "privileged"

grant_tier(org, g) := entry.tier if {
	entry := catalog_entry(org, g.kind, g.entitlement)
} else := strictest_tier

# max_hours: the catalog entry may lower its tier's maximum, never raise it.
max_hours(org, entry) := min([object.get(entry, "max_hours", tier_max), tier_max]) if {
	tier_max := org.tiers[entry.tier].max_hours
}

# grant_max_hours: the limit for one grant, listed in the catalog or not.
grant_max_hours(org, g) := max_hours(org, entry) if {
	entry := catalog_entry(org, g.kind, g.entitlement)
} else := org.tiers[strictest_tier].max_hours

# approving_team: the catalog's owner for the role, else the target's owner,
# else (a target the org model does not know) the security team: every
# grant has a team that must approve it, waived violations or not.
approving_team(org, g) := team if {
	team := catalog_entry(org, g.kind, g.entitlement).owner
	is_string(team)
} else := team if {
	team := target(org, provider_of(g.kind), g.target).owner
} else := org.organization.security_team

# request_tier: the highest tier among the request's grants (a grant the
# catalog does not list counts as the strictest tier).
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

identity_kinds := {"aws-ci-role", "gcp-service-account", "aws-integration-user"}

# service_account_owner: the owner team of the identity a request's
# serviceAccount principal points at, from the desired state.
service_account_owner(state, ref) := owner if {
	some g in state.grants
	g.kind in identity_kinds
	g.principal == ref
	owner := g.attributes.owner
}

# service_account_use: what the identity a serviceAccount principal points at
# is for (agent, integration), from the desired state; ci and workload
# identities carry no `use` attribute and read as "ci-or-workload".
service_account_use(state, ref) := use if {
	some g in state.grants
	g.kind in identity_kinds
	g.principal == ref
	use := object.get(object.get(g, "attributes", {}), "use", "ci-or-workload")
}

# nhi_use: the use of the identity a request defines or grants to; undefined
# for people and teams.
nhi_use(request, _) := request.use if is_service_account(request)

nhi_use(request, state) := use if {
	is_access_request(request)
	request.principal.type == "serviceAccount"
	use := service_account_use(state, request.principal.ref)
}

# person: by the loader's index (org._index, built from org.people) when
# present, else by scanning org.people (small models in unit tests).
person(org, email) := org._index.people[fold(email)]

person(org, email) := p if {
	not org._index.people
	some p in org.people
	fold(p.email) == fold(email)
}

# team_members: a team's members, folded (see fold), as a set. By the
# loader's index (org._index.team_members, folded the same way in Python:
# tools/policy/engines.py org_data) when present, because folding runs a
# regex per member and a team of 125 costs milliseconds per decision; else
# folded here (small models in unit tests). An unknown team has none.
team_members(org, team) := {u | some u in object.get(org._index.team_members, team, [])} if org._index.team_members

team_members(org, team) := {u | some m in object.get(org.teams, [team, "members"], []); u := fold(m)} if {
	not org._index.team_members
}

# in_team: a reviewer's GitHub teams (from the PR context) include the org
# team, named by key, by its slug or by its full "org/slug" name.
in_team(org, key, review_teams) if {
	team := org.teams[key]
	parts := split(team.github_team, "/")
	some name in {key, team.github_team, parts[count(parts) - 1]}
	name in review_teams
}

# team_has: a folded login is among a team's members (see team_members). By
# the loader's index (org._index.team_member_set: {team: {login: true}}) when
# present: a key lookup rather than building the team's set.
team_has(org, team, login) if {
	members := org._index.team_member_set[team]
	members[login]
}

team_has(org, team, login) if {
	not org._index.team_member_set
	login in team_members(org, team)
}

# team_size: how many distinct folded members a team has.
team_size(org, team) := count(object.get(org._index.team_members, team, [])) if org._index.team_members

team_size(org, team) := count(team_members(org, team)) if not org._index.team_members
