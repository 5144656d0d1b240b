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
