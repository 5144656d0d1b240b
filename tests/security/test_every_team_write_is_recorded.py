"""Invariant 5 for team membership: every write ``teams apply`` makes (GitHub
team, Identity Center group, Google Group) is journalled before its call and
reaches the durable record (``record.jsonl`` on ``accessctl-record``) with
who, what, which system and team, and why; a run killed mid-apply leaves an
attempt the record shows as an outcome unknown, and the next run converges.

The attacker here is anyone (or any bug) that changes a team outside the
record: the tests count the writes each system received and fail when one
of them has no line in the durable record."""
from __future__ import annotations

import json

import pytest

from tools.provision import durable, teams_sync
from tools.provision import record as records
from tools.sandbox.aws import SimulatedCrash
from jobs_world import run_json, world  # noqa: F401 (fixtures)
from teams_world import github  # noqa: F401 (fixture)

LOCAL = ".accessctl/apply-record.jsonl"


def _team_lines(root, phase: str = "result") -> list[dict]:
    return [o for o in map(json.loads, durable.lines(root))
            if o["action"] in records.TEAM_ACTIONS.values() and o["phase"] == phase]


def _drift_by_hand(sb, github) -> None:
    """One hand-made difference per system (the clouds start as teams.yaml says,
    except mallory, inactive, whom the seed left in Identity Center's payments)."""
    github.teams["security"].pop("judy-acme")            # GitHub: removed by hand
    github.teams["platform"]["dave-acme"] = "active"     # GitHub: added by hand
    seeded = sb.seeded
    ids = sb.aws.client("identitystore")
    ids.create_group_membership(IdentityStoreId=seeded.identity_store_id, GroupId=seeded.groups["platform"],
                                MemberId={"UserId": seeded.users["erin@acme.example"]})
    sb.groups.memberships[sb.groups.groups["sre@acme.example"]].pop("olivia@acme.example")


def test_every_team_write_is_in_the_durable_record_with_who_what_where_and_why(world, github, capsys):
    repo, sb = world
    _drift_by_hand(sb, github)
    gh_before, groups_before = len(github.writes()), sb.groups.writes()
    code, out = run_json(repo, capsys, "teams", "apply")
    assert code == 0, out
    applied = {(c["system"], c["action"], c["group"], c["member"]) for c in out["changes"]}
    assert {("github", "add", "acme/security", "judy-acme"), ("github", "remove", "acme/platform", "dave-acme"),
            ("identity-center", "remove", "platform", "erin@acme.example"),
            ("google-groups", "add", "sre@acme.example", "olivia@acme.example")} <= applied

    lines = _team_lines(repo.root)
    recorded = {(o["team"]["system"], o["action"].removeprefix("team-"), o["team"]["group"], o["team"]["member"])
                for o in lines}
    assert recorded == applied, "every membership write has its line in the durable record"
    # each system's own count of writes equals the lines recorded for it: none escaped the record
    assert len(github.writes()) - gh_before == sum(o["team"]["system"] == "github" for o in lines)
    assert sb.groups.writes() - groups_before == sum(o["team"]["system"] == "google-groups" for o in lines)
    judy = next(o for o in lines if o["team"]["member"] == "judy-acme")
    assert judy["grant"]["principal"] == "user:judy@acme.example" and judy["team"]["team"] == "security"
    assert judy["reason"] == "listed in teams.yaml" and judy["request"] == "policies/data/teams.yaml"
    assert judy["job"] == "teams" and judy["result"]["ok"] and judy["commit"]
    # journalled before the call: an attempt line precedes every result line, in the durable record too
    attempts = {o["id"].rsplit(":", 1)[0] + o["team"]["member"] + o["team"]["group"]: int(o["id"].rsplit(":", 1)[1])
                for o in _team_lines(repo.root, "attempt")}
    for o in lines:
        key = o["id"].rsplit(":", 1)[0] + o["team"]["member"] + o["team"]["group"]
        assert attempts[key] < int(o["id"].rsplit(":", 1)[1]), o

    # audit history shows the membership changes of a person, from the durable record
    code, hist = run_json(repo, capsys, "audit", "history", "judy-acme")
    assert code == 0
    team_events = [e["detail"] for e in hist["events"] if e["event"] == "team"]
    assert team_events == ["added to GitHub team acme/security (team security; listed in teams.yaml): ok"]


def test_each_write_is_on_disk_before_the_system_is_called(world, github, capsys, monkeypatch):
    """The journal line must exist when the connector runs, not after: a
    wrapper around the real connectors reads the local journal at each call."""
    repo, sb = world
    _drift_by_hand(sb, github)
    real = teams_sync.connectors_for
    seen: list[str] = []

    def checked(org, systems, **options):
        conns = real(org, systems, **options)
        for conn in conns.values():
            for verb in ("add", "remove"):
                write = getattr(conn, verb)

                def guarded(group, member, _write=write, _verb=verb):
                    last = json.loads((repo.root / LOCAL).read_text().splitlines()[-1])
                    assert (last["phase"], last["action"], last["team"]["member"]) == \
                        ("attempt", f"team-{_verb}", member), "written before its journal line"
                    seen.append(member)
                    return _write(group, member)
                setattr(conn, verb, guarded)
        return conns

    monkeypatch.setattr(teams_sync, "connectors_for", checked)
    code, out = run_json(repo, capsys, "teams", "apply")
    assert code == 0 and len(seen) == len(out["changes"]) >= 4


def test_a_crash_mid_apply_is_recorded_and_the_next_run_converges(world, github, capsys, monkeypatch):
    repo, sb = world
    _drift_by_hand(sb, github)
    real = teams_sync.connectors_for
    calls = {"n": 0}

    def crashing(org, systems, **options):
        conns = real(org, systems, **options)
        conn = conns["github"]
        add = conn.add

        def dying(group, member):
            calls["n"] += 1
            add(group, member)  # the write lands; the process dies before it can say so
            raise SimulatedCrash("kill -9 right after GitHub answered")
        conn.add = dying
        return conns

    monkeypatch.setattr(teams_sync, "connectors_for", crashing)
    with pytest.raises(SimulatedCrash):
        repo.run("teams", "apply", capsys=capsys)
    assert calls["n"] == 1 and "judy-acme" in github.teams["security"]
    unknown = [r for r in records.read_all(repo.root) if r.error == records.UNKNOWN_OUTCOME]
    assert [(r.action, r.raw["team"]["member"]) for r in unknown] == [("team-add", "judy-acme")], \
        "the interrupted write is in the durable record as an outcome unknown"
    local = {json.loads(line)["id"] for line in repo.read(LOCAL).splitlines()}
    assert local <= {json.loads(line)["id"] for line in durable.lines(repo.root)}

    monkeypatch.setattr(teams_sync, "connectors_for", real)
    code, out = run_json(repo, capsys, "teams", "apply")
    assert code == 0 and out["failed"] == []
    code, again = run_json(repo, capsys, "teams", "plan")
    assert again["changes"] == [], "the next run converged"
    assert ("team-remove", "erin@acme.example") in {(o["action"], o["team"]["member"]) for o in _team_lines(repo.root)}
