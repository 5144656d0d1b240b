"""Invariant: a request file on main that becomes invalid through its own
content (YAML or schema errors, a wrong folder, a duplicate: a bad merge or
a hand edit) never silently revokes its access: the access is held and the
file reported (exit 1) by every writer. A file invalidated because the org
model withdrew what it relies on is the intended way to revoke: the access
goes and the output says why. ``tools.provision.invalid_files.disposition`` draws
that line in one place."""
from __future__ import annotations

import json

import pytest
from fakes.memory import MemoryCloud

from tools.core.errors import Finding
from tools.provision.invalid_files import HOLD, KEEP, REVOKE, disposition
from tools.request.validate import EXPIRED, INCOMPLETE_IMPORT, WITHDRAWN

BOB = "requests/aws/acme-dev/bob-developer.yaml"


@pytest.fixture
def cloud(monkeypatch, repo, capsys):
    cloud = MemoryCloud()
    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    assert repo.run("apply", capsys=capsys).code == 0
    return cloud


def _bob(cloud):
    return {(g.kind, g.entitlement) for g in cloud.grants if g.principal == "user:bob@acme.example"}


@pytest.mark.parametrize("breakage", [
    lambda text: text.replace("grants:", "grants: [unclosed"),  # YAML error
    lambda text: text.replace("kind: AccessRequest", "kind: AccessRequest\nsurprise: field"),  # schema error
    lambda text: text.replace("principal:", "principal:\nprincipal:"),  # duplicate key
])
def test_a_file_broken_by_its_own_content_holds_its_access_in_every_writer(repo, cloud, capsys, breakage):
    before = _bob(cloud)
    assert before
    repo.write(BOB, breakage(repo.read(BOB)))
    repo.commit("a hand edit breaks bob's request")
    for args in (("apply",), ("reconcile", "--mode", "fix", "--no-issue")):
        res = repo.run(*args, "--format", "json", capsys=capsys)
        assert res.code == 1, args
        text = res.out + res.err
        assert BOB in text and "held" in text, "reported loudly"
        assert _bob(cloud) == before, f"{args[0]} kept the access"


def test_the_held_file_is_listed_in_the_durable_record(repo, cloud, capsys):
    from tools.provision import durable
    repo.write(BOB, repo.read(BOB).replace("grants:", "grants: [unclosed"))
    repo.commit("a hand edit breaks bob's request")
    assert repo.run("apply", capsys=capsys).code == 1
    held = [json.loads(line) for line in durable.lines(repo.root) if '"action":"hold"' in line]
    assert [h["request"] for h in held] == [BOB]


def test_reconcile_fix_lists_the_held_file_in_the_durable_record_too(repo, cloud, capsys):
    """The scheduled reconcile is often the first writer to meet a hand edit: its hold is recorded
    where every job and audit read it, as apply's is, once per run (not once per shard)."""
    from tools.provision import durable
    repo.write(BOB, repo.read(BOB).replace("grants:", "grants: [unclosed"))
    repo.commit("a hand edit breaks bob's request")
    for shard in ("1/3", "2/3", "3/3"):
        assert repo.run("reconcile", "--mode", "fix", "--no-issue", "--shard", shard, capsys=capsys).code == 1
    held = [json.loads(line) for line in durable.lines(repo.root) if '"action":"hold"' in line]
    assert [(h["request"], h["job"]) for h in held] == [(BOB, "reconcile")]
    assert "invalid through its own content" in held[0]["reason"]
    assert _bob(cloud), "and the access stays"
    res = repo.run("reconcile", "--mode", "report", "--no-issue", capsys=capsys)
    assert res.code == 1 and len([1 for line in durable.lines(repo.root) if '"action":"hold"' in line]) == 1, \
        "report mode writes nothing"


def test_a_duplicate_definition_holds_the_copy_not_the_original(repo, cloud, capsys):
    repo.write("requests/aws/acme-dev/bob-developer-copy.yaml", repo.read(BOB))
    repo.commit("a bad merge duplicates bob's request")
    res = repo.run("apply", capsys=capsys)
    assert res.code == 1 and "bob-developer-copy.yaml" in res.out
    assert _bob(cloud), "bob keeps his access"


def test_the_org_model_withdrawing_a_person_revokes_and_says_why(repo, cloud, capsys):
    people = repo.read("policies/data/people.yaml")
    repo.write("policies/data/people.yaml", people.replace(
        "{email: bob@acme.example,     github: bob-acme,     name: Bob Okafor,      active: true}",
        "{email: bob@acme.example,     github: bob-acme,     name: Bob Okafor,      active: false}"))
    repo.commit("bob leaves")
    res = repo.run("apply", "--format", "json", capsys=capsys)
    assert res.code == 0, res.out
    removed = [r for r in json.loads(res.out)["results"] if r["principal"] == "user:bob@acme.example"]
    assert removed and all(r["action"] == "remove" and r["ok"] for r in removed)
    assert all("not an active person" in r["reason"] for r in removed), "the output says why"
    assert not _bob(cloud)


def test_one_function_names_which_findings_hold_and_which_revoke():
    def f(rule):
        return Finding("requests/aws/x/y.yaml", "m", rule=rule)
    assert disposition([]) == KEEP
    assert disposition([f(INCOMPLETE_IMPORT)]) == KEEP
    assert disposition([f(WITHDRAWN)]) == REVOKE
    assert disposition([f(EXPIRED)]) == REVOKE
    for own in ("schema", "invalid", "yaml", "anything-new"):
        assert disposition([f(own)]) == HOLD
        assert disposition([f(WITHDRAWN), f(own)]) == HOLD, "own-content trouble wins: never revoke on a typo"
