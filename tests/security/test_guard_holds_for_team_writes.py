"""Attack: a merge that empties every team (a bad edit, a broken generator).

``teams apply`` counts its removals against every membership it read and
refuses them past the same blast-radius limits as grant revocations; the
additions go ahead, the removals are held and reported, nobody is removed."""
from __future__ import annotations



from teams_world import TEAMS, github, run_teams  # noqa: F401 (fixture)





def test_a_mass_removal_is_refused_by_the_guard(repo, github, capsys):
    text = repo.read("policies/data/teams.yaml")
    for members in TEAMS.values():
        text = text.replace(f"members: [{', '.join(members)}", "members: [alice-acme")
    repo.write("policies/data/teams.yaml", text.replace("mallory-acme", "alice-acme"))
    repo.commit("a bad merge empties every team")
    code, out = run_teams(repo, capsys, "apply", "--system", "github")
    assert code == 1 and out["guard"]["verdict"] == "refused"
    assert [c.method for c in github.writes()] == ["PUT"] * len([c for c in out["changes"]])
    assert all(c["action"] == "add" for c in out["changes"]) and len(out["held"]) >= 8
    assert "bob-acme" in github.teams["sre"]  # nothing removed
