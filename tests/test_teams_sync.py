"""``accessctl teams plan|apply``: teams.yaml converges GitHub, Identity Center and Google Groups.

Each system is driven through its real client (PyGithub, boto3, google-api-python-client)
against its loopback double (the GitHub fake, moto, the Cloud Identity Groups fake).
One drift test per system: drift is made by hand in the system, ``plan`` names it,
``apply`` repairs it with exactly one write per difference, and a second apply writes nothing.
"""
from __future__ import annotations


import pytest

from tools.core import orgmodel
from tools.core.orgmodel import Person, Team
from tools.core.repo import Tree
from tools.provision import teams_sync
from tools.sandbox.aws import FakeAws
from tools.sandbox.cloudidentity import FakeCloudIdentity
from teams_world import TEAMS, github, run_teams  # noqa: F401 (fixture)



def email(login: str) -> str:
    return login.removesuffix("-acme") + "@acme.example"


# ---- the diff: pure set arithmetic -----------------------------------------------

def _org(mode: str = "additive") -> orgmodel.OrgModel:
    org = orgmodel.OrgModel({"organization": {"teams_mode": mode}})
    for login, active in (("alice-acme", True), ("bob-acme", True), ("mallory-acme", False)):
        org.people[email(login)] = Person(email(login), login, login, active)
    org.teams["t"] = Team("t", "acme/t", "t@acme.example", ("Alice-acme", "mallory-acme"), (), "t")
    return org


@pytest.mark.parametrize("system,have,adds,removes,held", [
    # listed and active: added; case differences are no difference
    ("github", [], ["alice-acme"], [], []),
    ("github", ["ALICE-ACME"], [], [], []),
    # inactive people leave, whether listed or not; known people the team no longer lists leave
    ("github", ["alice-acme", "mallory-acme", "bob-acme"], [], ["bob-acme", "mallory-acme"], []),
    # a member people.yaml does not know: reported only (additive)
    ("github", ["alice-acme", "zed"], [], [], ["zed"]),
    ("identity-center", ["alice@acme.example", "zed@else.example"], [], [], ["zed@else.example"]),
    ("google-groups", ["bob@acme.example"], ["alice@acme.example"], ["bob@acme.example"], []),
])
def test_diff_is_set_arithmetic(system, have, adds, removes, held):
    org = _org()
    problems: list[str] = []
    changes, kept = teams_sync.diff(org, org.teams["t"], system, have, problems)
    assert sorted(c.member for c in changes if c.op is teams_sync.Op.ADD) == adds
    assert sorted(c.member for c in changes if c.op is teams_sync.Op.REMOVE) == removes
    assert [h.change.member for h in kept] == held and problems == []


def test_unknown_members_are_removed_only_in_enforced_mode():
    org = _org("enforced")
    changes, kept = teams_sync.diff(org, org.teams["t"], "github", ["alice-acme", "zed"], [])
    assert [(c.op.value, c.member, c.why) for c in changes] == [("remove", "zed", "unknown to the org model")]
    assert kept == []


def test_the_blast_radius_guard_holds_every_removal_over_the_limit():
    org = _org()
    plan = teams_sync.TeamPlan(live_count=4)
    for m in ("alice-acme", "bob-acme", "mallory-acme"):
        plan.changes.append(teams_sync.TeamChange("github", "t", "acme/t", teams_sync.Op.REMOVE, m, "x"))
    plan.changes.append(teams_sync.TeamChange("github", "t", "acme/t", teams_sync.Op.ADD, "n", "x"))
    teams_sync.enforce_guard(plan, lambda removes, managed: f"{removes} of {managed}" if removes > 2 else None)
    assert plan.guard_verdict == "3 of 4" and [c.op.value for c in plan.changes] == ["add"]
    assert len(plan.held) == 3 and org  # the removals are reported, never silently dropped


# ---- GitHub ------------------------------------------------------------------------



def test_github_drift_is_planned_then_repaired_with_one_write_each(repo, github, capsys):
    github.teams["security"].pop("judy-acme")           # removed by hand
    github.teams["platform"]["dave-acme"] = "active"    # added by hand: known person, not listed
    github.add_user("zed-outsider")
    github.teams["sre"]["zed-outsider"] = "active"      # added by hand: unknown to people.yaml
    code, plan = run_teams(repo, capsys, "plan", "--system", "github")
    assert code == 0 and github.writes() == []
    got = {(c["action"], c["group"], c["member"]) for c in plan["changes"]}
    assert got == {("add", "acme/security", "judy-acme"), ("remove", "acme/platform", "dave-acme")}
    assert [(h["member"], h["group"]) for h in plan["held"]] == [("zed-outsider", "acme/sre")]
    reads = github.count("GET", "/members")
    assert reads == len(TEAMS)  # one read per team

    code, applied = run_teams(repo, capsys, "apply", "--system", "github")
    assert code == 0 and applied["applied"] == 2
    assert [(c.method, c.path.rsplit("/", 3)[-3:]) for c in github.writes()] == [
        ("DELETE", ["platform", "memberships", "dave-acme"]), ("PUT", ["security", "memberships", "judy-acme"])]
    assert "judy-acme" in github.teams["security"] and "dave-acme" not in github.teams["platform"]
    assert "zed-outsider" in github.teams["sre"]  # additive: reported, not removed

    before = len(github.writes())
    code, again = run_teams(repo, capsys, "apply", "--system", "github")
    assert again["changes"] == [] and len(github.writes()) == before  # converged: no call the second time


def test_github_unknown_members_go_in_enforced_mode(repo, github, capsys):
    repo.write("policies/data/organization.yaml",
               repo.read("policies/data/organization.yaml").replace("teams_mode: additive", "teams_mode: enforced"))
    repo.commit("enforce teams")
    github.add_user("zed-outsider")
    github.teams["sre"]["zed-outsider"] = "active"
    code, out = run_teams(repo, capsys, "apply", "--system", "github")
    assert code == 0 and "zed-outsider" not in github.teams["sre"]
    assert [c["why"] for c in out["changes"]] == ["unknown to the org model"]


# ---- Identity Center (moto) ----------------------------------------------------------

@pytest.fixture
def aws(monkeypatch, repo):
    with FakeAws() as fake:
        for k, v in fake.env().items():
            monkeypatch.setenv(k, v)
        seeded = fake.seed(orgmodel.load(Tree(repo.root)))
        yield fake, seeded


def test_identity_center_drift_is_planned_then_repaired(repo, aws, capsys):
    fake, seeded = aws
    ids = fake.client("identitystore")
    store = seeded.identity_store_id
    judy = ids.get_group_membership_id(IdentityStoreId=store, GroupId=seeded.groups["security"],
                                       MemberId={"UserId": seeded.users["judy@acme.example"]})["MembershipId"]
    ids.delete_group_membership(IdentityStoreId=store, MembershipId=judy)  # removed by hand
    ids.create_group_membership(IdentityStoreId=store, GroupId=seeded.groups["platform"],
                                MemberId={"UserId": seeded.users["dave@acme.example"]})  # added by hand
    code, plan = run_teams(repo, capsys, "plan", "--system", "identity-center")
    got = {(c["action"], c["group"], c["member"], c["why"]) for c in plan["changes"]}
    assert code == 0 and got == {("add", "security", "judy@acme.example", "listed in teams.yaml"),
                                 ("remove", "platform", "dave@acme.example", "not listed in teams.yaml"),
                                 ("remove", "payments", "mallory@acme.example", "inactive in people.yaml")}
    code, applied = run_teams(repo, capsys, "apply", "--system", "identity-center")
    assert code == 0 and applied["applied"] == 3 and applied["failed"] == []

    def members(team: str) -> set[str]:
        names = {v: k for k, v in seeded.users.items()}
        return {names[m["MemberId"]["UserId"]] for m in ids.list_group_memberships(
            IdentityStoreId=store, GroupId=seeded.groups[team])["GroupMemberships"]}
    assert members("security") == {"ivan@acme.example", "judy@acme.example"}
    assert "dave@acme.example" not in members("platform") and "mallory@acme.example" not in members("payments")
    code, again = run_teams(repo, capsys, "plan", "--system", "identity-center")
    assert again["changes"] == [] and again["problems"] == []


# ---- Google Groups (Cloud Identity Groups fake) ----------------------------------------

@pytest.fixture
def groups(monkeypatch):
    with FakeCloudIdentity() as fake:
        for slug, members in TEAMS.items():
            fake.add_group(f"{slug}@acme.example", [email(m) for m in members])
        fake.add_group("payments@acme.example", ["mallory@acme.example"])  # still there from before
        monkeypatch.setenv("ACCESSCTL_CLOUDIDENTITY_ENDPOINT", fake.url)
        yield fake


def test_google_groups_drift_is_planned_then_repaired(repo, groups, capsys):
    name = groups.groups["security@acme.example"]
    groups.memberships[name].pop("judy@acme.example")  # removed by hand
    groups.add_group("platform@acme.example", ["dave@acme.example", "contractor@elsewhere.example"])
    code, plan = run_teams(repo, capsys, "plan", "--system", "google-groups")
    got = {(c["action"], c["group"], c["member"]) for c in plan["changes"]}
    assert code == 0 and got == {("add", "security@acme.example", "judy@acme.example"),
                                 ("remove", "platform@acme.example", "dave@acme.example"),
                                 ("remove", "payments@acme.example", "mallory@acme.example")}
    assert [h["member"] for h in plan["held"]] == ["contractor@elsewhere.example"]
    assert groups.calls["GET groups.memberships.list"] == len(TEAMS) and groups.writes() == 0
    code, applied = run_teams(repo, capsys, "apply", "--system", "google-groups")
    assert code == 0 and applied["applied"] == 3
    # seeding is not served over HTTP: these are the apply's own writes, one per difference
    assert groups.calls["POST groups.memberships.create"] == 1 and groups.calls["DELETE groups.memberships.delete"] == 2
    assert "judy@acme.example" in groups.members("security@acme.example")
    assert groups.members("platform@acme.example") == ["alice@acme.example", "bob@acme.example",
                                                       "carol@acme.example", "contractor@elsewhere.example"]
    code, again = run_teams(repo, capsys, "apply", "--system", "google-groups")
    assert again["changes"] == [] and groups.calls["DELETE groups.memberships.delete"] == 2


def test_a_missing_group_is_a_finding_not_a_crash(repo, groups, capsys):
    del groups.groups["data@acme.example"]
    code, plan = run_teams(repo, capsys, "plan", "--system", "google-groups")
    assert code == 1 and any("data@acme.example (team data) does not exist" in p for p in plan["problems"])
    assert all(c["team"] != "data" for c in plan["changes"])


def test_an_unknown_team_is_a_usage_error(repo, groups, capsys):
    result = repo.run("teams", "plan", "--team", "nope", capsys=capsys)
    assert result.code == 2 and "not a team of policies/data/teams.yaml" in result.err


def test_every_team_connector_operation_declares_its_permissions():
    from connectors import team_members
    for system, path in teams_sync.TEAM_CONNECTORS.items():
        cls = getattr(team_members, path.split(":")[1])
        assert cls.system == system and set(cls.PERMISSIONS) == {"members", "add", "remove"}
        assert all(cls.PERMISSIONS.values()), system


def test_plan_in_text_names_each_change_and_what_is_only_reported(repo, groups, capsys):
    groups.add_group("sre@acme.example", ["contractor@elsewhere.example"])
    result = repo.run("teams", "plan", "--system", "google-groups", capsys=capsys)
    assert result.code == 0 and groups.writes() == 0
    assert "1 membership change(s) to apply, 1 reported only" in result.out
    assert "- Google Group payments@acme.example: mallory@acme.example (inactive in people.yaml)" in result.out
    assert "! - Google Group sre@acme.example: contractor@elsewhere.example (unknown to the org model)" in result.out


def test_a_teams_yaml_change_lists_each_membership_change_per_system():
    from dataclasses import replace

    from tools.review.people_impact import membership_changes
    base = _org()
    head = _org()
    head.teams["t"] = replace(base.teams["t"], members=("bob-acme",), group_email="")  # no Google Group now
    got = [(c.system, c.op.value, c.member, c.why) for c in membership_changes(base, head)]
    assert got == [("github", "add", "bob-acme", "added in teams.yaml"),
                   ("github", "remove", "alice-acme", "removed from the team"),
                   ("identity-center", "add", "bob@acme.example", "added in teams.yaml"),
                   ("identity-center", "remove", "alice@acme.example", "removed from the team")]


class MemoryGroups:
    """A TeamConnector over dicts: the diff and the PR comment's preview are
    compared here without I/O (the real clients are tested above)."""

    PERMISSIONS = {"members": ("-",), "add": ("-",), "remove": ("-",)}

    def __init__(self, system: str):
        self.system, self.groups, self.writes = system, {}, 0

    def members(self, group):
        return sorted(self.groups[group]) if group in self.groups else None

    def add(self, group, member):
        self.writes += 1
        self.groups[group].add(member)

    def remove(self, group, member):
        self.writes += 1
        self.groups[group].remove(member)


def _random_org(rng, logins) -> orgmodel.OrgModel:
    org = orgmodel.OrgModel({"organization": {"teams_mode": rng.choice(["additive", "enforced"])}})
    for login in logins:
        org.people[email(login)] = Person(email(login), login, login, rng.random() > 0.2)
    for key in ("a", "b", "c"):
        members = tuple(rng.sample(logins, rng.randint(0, len(logins))))
        org.teams[key] = Team(key, f"acme/{key}", f"{key}@acme.example", members, (), key)
    return org


def test_the_pr_preview_agrees_with_what_teams_apply_does_on_generated_cases():
    """For 300 generated (base, head) org models: after main (base) is
    applied, ``teams plan`` on head makes exactly the changes the PR comment
    listed (people_impact.membership_changes), and applying them converges."""
    import random

    from tools.review.people_impact import membership_changes
    logins = [f"p{i}-acme" for i in range(6)]
    for seed in range(300):
        rng = random.Random(seed)
        base, head = _random_org(rng, logins), _random_org(rng, logins)
        conns = {s: MemoryGroups(s) for s in teams_sync.SYSTEMS}
        for s, conn in conns.items():
            conn.groups = {teams_sync.group_of(t, s): set() for t in base.teams.values()}
        teams_sync.apply(teams_sync.plan(base, conns), conns)
        planned = teams_sync.plan(head, conns)
        key = lambda c: (c.system, c.team, c.op.value, c.member)  # noqa: E731
        assert sorted(map(key, planned.changes)) == sorted(map(key, membership_changes(base, head))), seed
        assert planned.held == [] and planned.problems == []
        teams_sync.apply(planned, conns)
        before = sum(c.writes for c in conns.values())
        again = teams_sync.plan(head, conns)
        teams_sync.apply(again, conns)
        assert again.changes == [] and sum(c.writes for c in conns.values()) == before, seed


def test_identity_center_reads_each_group_once_and_the_directory_once(repo, aws):
    import boto3

    from connectors.team_members import IdentityCenterGroups
    calls: list[str] = []
    session = boto3.Session()
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    org = orgmodel.load(Tree(repo.root))
    conn = IdentityCenterGroups(org, session=session)
    plan = teams_sync.plan(org, {"identity-center": conn})
    assert calls.count("ListGroupMemberships") == len(org.teams) and calls.count("ListUsers") == 1
    assert calls.count("GetGroupId") == len(org.teams) and calls.count("ListInstances") == 1
    del calls[:]
    teams_sync.apply(plan, {"identity-center": conn})  # mallory leaves payments: one write, no lookups
    assert calls == ["DeleteGroupMembership"]
