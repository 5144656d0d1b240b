package access.lib_test

import data.access.lib

_teams := {"sre": {"github_team": "acme/sre", "members": ["Niaj-Acme", "olivia-acme", "Ünal-Acme", 7]}}

# Without the loader's index the members are folded here: ASCII lowered,
# anything else as written, non-strings left out.
test_team_members_folds_without_the_index if {
	org := {"teams": _teams}
	got := lib.team_members(org, "sre")
	got == {"niaj-acme", "olivia-acme", "Ünal-Acme"}
}

# With it (tools/policy/engines.py org_data folds them the same way) the
# index is the answer, and the teams' own lists are not read again.
test_team_members_reads_the_index if {
	org := {"teams": _teams, "_index": {"people": {}, "team_members": {"sre": ["niaj-acme"]}}}
	got := lib.team_members(org, "sre")
	got == {"niaj-acme"}
}

test_team_members_of_an_unknown_team_is_empty if {
	bare := lib.team_members({"teams": _teams}, "nobody")
	indexed := lib.team_members({"teams": _teams, "_index": {"team_members": {}}}, "nobody")
	bare == set()
	indexed == set()
}

# team_has and team_size answer the same from the index (as org_index builds
# it) and from the members themselves.
test_team_has_and_team_size_with_and_without_the_index if {
	bare := {"teams": _teams}
	indexed := {"teams": _teams, "_index": {
		"team_members": {"sre": ["niaj-acme", "olivia-acme", "Ünal-Acme"]},
		"team_member_set": {"sre": {"niaj-acme": true, "olivia-acme": true, "Ünal-Acme": true}},
	}}
	every org in [bare, indexed] {
		lib.team_has(org, "sre", "niaj-acme")
		lib.team_has(org, "sre", "Ünal-Acme")
		not lib.team_has(org, "sre", "Niaj-Acme")
		not lib.team_has(org, "nobody", "niaj-acme")
		lib.team_size(org, "sre") == 3
		lib.team_size(org, "nobody") == 0
	}
}

_accounts := [{"name": "acme-dev", "id": "111111111111", "owner": "sre"}]

_projects := [{"id": "acme-data", "owner": "data"}]

_catalog := [{"kind": "aws-iam-group", "entitlement": "developers", "tier": "standard"}]

# target and catalog_entry find the same entry by the index and by scanning.
test_target_and_catalog_entry_with_and_without_the_index if {
	bare := {"aws": {"accounts": _accounts}, "gcp": {"projects": _projects}, "catalog": _catalog}
	indexed := object.union(bare, {"_index": {
		"targets": {"aws": {"acme-dev": _accounts[0]}, "gcp": {"acme-data": _projects[0]}},
		"catalog": {"aws-iam-group": {"developers": _catalog[0]}},
	}})
	every org in [bare, indexed] {
		lib.target(org, "aws", "acme-dev") == _accounts[0]
		lib.target(org, "gcp", "acme-data") == _projects[0]
		not lib.target(org, "aws", "acme-data")
		not lib.target(org, "azure", "acme-dev")
		lib.catalog_entry(org, "aws-iam-group", "developers") == _catalog[0]
		not lib.catalog_entry(org, "aws-iam-group", "admins")
	}
}

# fold: ASCII lowered, anything else as written, undefined for non-strings.
test_fold if {
	lib.fold("Niaj-Acme") == "niaj-acme"
	lib.fold("Ünal-Acme") == "Ünal-Acme"
	not lib.fold(7)
	not lib.fold(null)
}

test_timestamp_days_of_the_month if {
	lib.timestamp("2024-02-29T00:00:00Z")
	not lib.timestamp("2026-02-29T00:00:00Z")
	lib.timestamp("2000-02-29T00:00:00Z")
	not lib.timestamp("2100-02-29T00:00:00Z")
	lib.timestamp("2026-04-30T00:00:00Z")
	not lib.timestamp("2026-04-31T00:00:00Z")
	lib.timestamp("2026-12-31T23:59:59Z")
}
