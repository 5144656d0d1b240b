"""The demo's teams step: teams.yaml converges GitHub teams, Identity Center
groups and Google Groups, every membership write reaches the durable record,
and a change made by hand is drift that reconcile reports and fixes.

A module of its own beside tools/sandbox/demo.py (which runs it last), so
the demo's other steps and this one change independently."""
from __future__ import annotations

import json

from tools.core.errors import UsageError
from tools.provision import durable
from tools.provision.teams_sync import SYSTEM_LABEL
from tools.sandbox.demo import World, _expect, _title


def step_teams(world: World, sandbox, gh) -> None:
    """Teams as code: teams.yaml converges GitHub, Identity Center and Google
    Groups; a hand-made change is drift that reconcile reports and fixes."""
    _title(world, len(world.steps or []) + 1, "Teams as code: one membership, three systems",
           "teams.yaml (with people.yaml) is the source of truth for GitHub teams, Identity Center groups "
           "and Google Groups. mallory-acme left (`active: false`) but is still in payments everywhere.")

    def line(c: dict) -> str:
        sign = "[green]+[/]" if c["action"] == "add" else "[red]-[/]"
        return f"  {sign} {SYSTEM_LABEL[c['system']]} {c['group']}: {c['member']} ({c['why']})"

    world.shell("teams plan")
    res = world.run("teams", "plan", "--format", "json")
    _expect(res, 0, "teams plan")
    doc = res.json()
    for c in doc["changes"]:
        world.console.print(line(c))
    world.console.print(f"{len(doc['changes'])} change(s) from {doc['memberships_read']} memberships read "
                        f"(one read per team and system)")
    world.shell("teams apply")
    res = world.run("teams", "apply", "--format", "json")
    _expect(res, 0, "teams apply")
    doc = res.json()
    recorded = [r for r in _team_record(world) if r["phase"] == "result"]
    world.console.print(f"applied {doc['applied']} change(s); {len(recorded)} line(s) in the durable record "
                        "(team-add / team-remove, who, which system, why)")
    gh.teams["security"]["dave-acme"] = "active"
    world.console.print("GitHub UI: someone adds dave-acme to team acme/security by hand")
    for mode, code in (("report", 1), ("fix", 0)):
        args = ("reconcile", "--teams", "--mode", mode, "--provider", "aws", "--no-issue")
        world.shell(*args)
        res = world.run(*args, "--format", "json")
        _expect(res, code, " ".join(args))
        doc = res.json()["teams"]
        for c in doc["changes"]:
            world.console.print(f"{line(c)}: {c.get('outcome', 'reported')}")
    if doc["remaining_after_fix"] or "dave-acme" in gh.teams["security"]:
        raise UsageError("demo: reconcile did not fix the team drift")
    done = [r for r in _team_record(world) if r["phase"] == "result"]
    world.console.print(f"read again: {doc['remaining_after_fix']} team membership(s) drifted; the fix is in "
                        f"the durable record too ({len(done)} team write(s) recorded in all)")


def _team_record(world: World) -> list[dict]:
    return [o for o in map(json.loads, durable.lines(world.repo)) if o["action"].startswith("team-")]

