"""A whole access-review cycle on the loopback emulators, as the scheduled
job, the owners and the apply job run it: `review open` opens one PR per
owning team with grants due; the owners mark one grant revoke and merge;
apply removes it at once and records who attested the rest; reconcile does
not restore it; expire's cleanup PR deletes the revoked file. A grant whose
review is overdue past its deadline leaves the desired state like an
expired one."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from conftest import PROJECT, git, github_holding_main, make_repo

from tools.core.orgmodel import load
from tools.core.repo import Tree
from tools.provision import access_reviews as ar
from tools.provision import record as records
from tools.provision.apply import Connectors, read_live, select_targets
from tools.request import load as rload

BOB = "requests/aws/acme-dev/bob-developer.yaml"
SRE = "requests/aws/acme-prod/sre-readonly.yaml"
CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"  # sensitive: 90 days + 14 of grace
OLD = "2026-05-20T09:00:00Z"  # 186 days before the tests' clock (2026-11-22)


@pytest.fixture
def world(sandbox, tmp_path, monkeypatch):
    """Main merged on OLD; every request but BOB, SRE and CAROL changed since
    (so only those three are due); clouds seeded and main applied; GitHub holds main."""
    sandbox.reseed()
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GIT_COMMITTER_DATE", OLD)
    monkeypatch.setenv("GIT_AUTHOR_DATE", OLD)
    repo = make_repo(tmp_path / "access")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    for path in Tree(repo.root).list("requests", (".yaml",)):
        if path not in (BOB, SRE, CAROL):
            repo.write(path, repo.read(path) + "# renewed\n")
    repo.commit("renew the others")
    # everything applied while overdue reviews were only reported; then enforcement is switched on
    tiers = repo.read("policies/data/tiers.yaml")
    repo.write("policies/data/tiers.yaml", tiers.replace("overdue: revoke", "overdue: report"))
    repo.commit("report overdue reviews only")
    assert repo.run("apply").code == 0
    repo.write("policies/data/tiers.yaml", tiers)
    repo.commit("enforce overdue reviews")
    with github_holding_main(repo, monkeypatch) as gh:
        yield repo, sandbox, gh


def run_json(repo, capsys, *args):
    capsys.readouterr()
    res = repo.run(*args, "--format", "json", capsys=capsys)
    assert res.out, res.err
    return res.code, json.loads(res.out)


def live(repo) -> set[tuple[str, str, str]]:
    org = load(Tree(repo.root))
    grants = read_live(select_targets(org, ("aws", "gcp")), Connectors(org))
    return {(g.principal, g.kind, g.entitlement) for g in grants}


def test_review_cycle_open_revoke_merge_keep_and_overdue(world, capsys, monkeypatch):
    repo, sb, gh = world
    # 1. apply: carol's review is overdue past its deadline: her access leaves at once
    assert ("user:carol@acme.example", "aws-sso-assignment", "PowerUser") in live(repo)
    code, doc = run_json(repo, capsys, "apply")
    assert code == 0, doc
    removed = [r for r in doc["results"] if r["principal"] == "user:carol@acme.example"]
    assert removed and "access review overdue" in removed[0]["reason"]
    assert ("user:carol@acme.example", "aws-sso-assignment", "PowerUser") not in live(repo)

    # 2. review open: one PR per owning team with grants due, every entry keep
    code, doc = run_json(repo, capsys, "review", "open")
    assert code == 0, doc
    opened = {o["team"]: o for o in doc["opened"]}
    assert set(opened) == {"platform", "sre"}
    assert opened["platform"]["requests"] == [BOB] and opened["sre"]["requests"] == [SRE]
    pr = gh.pulls[opened["platform"]["pr"]]
    assert pr.author == "accessctl[bot]" and pr.starts_workflows and "@acme/platform" in pr.body
    text = gh.branches[pr.head_ref]["files"]["reviews/2026-11-22/platform.yaml"].decode()
    entries = ar.parse_review("reviews/2026-11-22/platform.yaml", text).entries
    assert [(e.request, e.kind, e.entitlement, e.decision) for e in entries] == [
        (BOB, "aws-iam-group", "developers", "keep"), (BOB, "aws-sso-assignment", "ReadOnly", "keep")]
    # the daily job again: no second PR while the first is open
    code, doc = run_json(repo, capsys, "review", "open")
    assert doc["opened"] == [] and {w["team"] for w in doc["waiting"]} == {"platform", "sre"}

    # 3. the owners mark bob's grants revoke, keep sre's; both reviews merge
    # (apply re-verifies each review file on main with the review policy:
    # each PR brings its own file, attested on its head commit)
    before = git(repo.root, "rev-parse", "HEAD").strip()
    revoked = text.replace("decision: keep", "decision: revoke")
    gh.set_contents(pr.number, {"reviews/2026-11-22/platform.yaml": revoked})
    gh.add_review(pr.number, "alice-acme")  # platform's lead, who does not hold bob's access
    repo.write("reviews/2026-11-22/platform.yaml", revoked)
    gh.merge(pr.number, repo.commit(f"Access review: team platform (#{pr.number})"))
    sre_pr = gh.pulls[opened["sre"]["pr"]]
    sre_text = gh.branches[sre_pr.head_ref]["files"]["reviews/2026-11-22/sre.yaml"].decode()
    gh.set_contents(sre_pr.number, {"reviews/2026-11-22/sre.yaml": sre_text})
    repo.write("reviews/2026-11-22/sre.yaml", sre_text)
    gh.add_review(sre_pr.number, "niaj-acme")  # sre's lead holds the access himself: not an attester
    gh.add_review(sre_pr.number, "ivan-acme")  # the whole sre team benefits: security attests
    merge = repo.commit(f"Access review: team sre (#{sre_pr.number})")
    gh.merge(sre_pr.number, merge)
    code, doc = run_json(repo, capsys, "apply", "--since", before)
    assert code == 0, doc
    assert [v["approved"] for v in doc["verification"]["files"]] == [True, True]
    gone = {(r["principal"], r["target"]) for r in doc["results"] if r["ok"]}
    assert ("user:bob@acme.example", "developers") in gone
    assert not {k for k in live(repo) if k[0] == "user:bob@acme.example"}
    # kept: recorded as reviewed, with who attested
    reviewed = [r for r in records.read_all(repo.root) if r.action == ar.REVIEWED]
    assert [(r.request, r.approvers) for r in reviewed] == [(SRE, ("ivan-acme",))]

    # the audit report: the last review per grant with who attested, and the coverage
    code, doc = run_json(repo, capsys, "audit", "report")
    sre_row = next(r for r in doc["rows"] if r["request"] == SRE)
    assert sre_row["access_review"]["reviewers"] == ["ivan-acme"]
    assert sre_row["access_review"]["review"] == "reviews/2026-11-22/sre.yaml"
    assert "access review (ivan-acme)" in sre_row["last_review"]
    assert not [r for r in doc["rows"] if r["request"] in (BOB, CAROL)]  # neither is desired any more
    cov = doc["review_coverage"]
    assert (cov["reviewed_on_time"], cov["due"], cov["overdue"], cov["revoked_by_review"]) == (1, 0, 1, 1)
    assert cov["overdue_requests"] == [CAROL]
    assert [(r["request"], r["entitlement"]) for r in cov["revoked"]] == [(BOB, "developers"), (BOB, "ReadOnly")]

    # 4. reconcile does not bring bob's access back; the kept grant is not due any more
    code, doc = run_json(repo, capsys, "reconcile")
    assert not [d for d in doc["drift"] if d["principal"] == "user:bob@acme.example"]
    assert ("group:sre", "aws-sso-assignment", "ReadOnly") in live(repo)
    code, doc = run_json(repo, capsys, "review", "open", "--dry-run")
    assert [d["request"] for d in doc["due"]] == []

    # 5. expire's cleanup PR deletes the revoked and the overdue request files
    code, doc = run_json(repo, capsys, "expire")
    assert code == 0, doc
    cleanup = gh.pulls[doc["cleanup_pr"]]
    files = gh.branches[cleanup.head_ref]["files"]
    assert BOB not in files and CAROL not in files and SRE in files
    assert "revoked by its owners in access review reviews/2026-11-22/platform.yaml" in cleanup.body

    # 6. past sre's original deadline (2026-11-30) the attested keep still holds:
    #    apply and reconcile read the attesters from the durable record too
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-12-05T00:00:00Z")
    code, doc = run_json(repo, capsys, "reconcile")
    assert not [d for d in doc["drift"] if d["principal"] == "group:sre"], doc["drift"]
    assert ("group:sre", "aws-sso-assignment", "ReadOnly") in live(repo)


def test_overdue_is_only_reported_when_the_org_model_says_so(world, capsys):
    repo, sb, gh = world
    git(repo.root, "revert", "--no-edit", "HEAD")  # back to `overdue: report`
    code, doc = run_json(repo, capsys, "apply")
    assert code == 0 and not [r for r in doc["results"] if r["principal"] == "user:carol@acme.example"]
    code, doc = run_json(repo, capsys, "review", "open", "--dry-run")
    assert [o["request"] for o in doc["overdue"]] == [CAROL]


def test_reminder_once_before_the_deadline(world, capsys, monkeypatch):
    repo, sb, gh = world
    run_json(repo, capsys, "review", "open")
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-11-25T12:00:00Z")  # deadline 2026-11-30, reminder 7 days before
    code, doc = run_json(repo, capsys, "review", "open")
    assert {r["team"] for r in doc["reminded"]} == {"platform", "sre"}
    run_json(repo, capsys, "review", "open")
    comments = [c for c in gh.comments.values() if "Reminder: this access review" in c["body"]]
    assert len(comments) == 2  # one per team's PR, never a second
    bob_pr = next(c for c in comments if "@bob-acme" in c["body"])
    assert "@acme/platform" in bob_pr["body"]


def test_statuses_from_dates():
    """Due from the merge when never reviewed, from the last keep otherwise;
    a revoke or keep older than the request's latest change does not count."""
    org = load(Tree(PROJECT))
    rf = rload.read(Tree(PROJECT), BOB)
    merged = datetime(2026, 1, 1, tzinfo=timezone.utc)
    now = datetime(2026, 7, 10, tzinfo=timezone.utc)  # 190 days: standard is 180 + 14 of grace
    keep = ar.parse_review("reviews/2026-06-01/platform.yaml", "\n".join([
        "kind: AccessReview", "team: platform", "grants:", f"  - request: {BOB}", "    principal: user:bob@acme.example",
        "    kind: aws-iam-group", "    entitlement: developers", '    target: "111111111111"', "    decision: keep", ""]))
    [s] = ar.statuses([rf], org, now, [], {BOB: merged}, {})
    assert s.state == "due" and s.due == datetime(2026, 6, 30, tzinfo=timezone.utc)
    at = {keep.path: datetime(2026, 6, 2, tzinfo=timezone.utc)}
    attested = [records.Record(datetime(2026, 6, 2, tzinfo=timezone.utc), "r1", ar.REVIEWED, {}, BOB, None, 7,
                               ("alice-acme",), True, None, raw={"reason": keep.path})]
    [s] = ar.statuses([rf], org, now, [keep], {BOB: merged}, at, attested)
    assert s.state == "ok" and s.last_review.source == keep.path and s.last_review.reviewers == ("alice-acme",)
    # the same file on main with nobody recorded as attesting it (pushed past the gate): it restarts nothing
    [s] = ar.statuses([rf], org, now, [keep], {BOB: merged}, at)
    assert s.state == "due" and s.last_review is None
    later = datetime(2026, 6, 5, tzinfo=timezone.utc)  # the request changed after the review
    [s] = ar.statuses([rf], org, now, [keep], {BOB: later}, at, attested)
    assert s.last_review is None and s.state == "ok"


def test_attesters_are_independent_owners_and_security_for_privileged():
    org = load(Tree(PROJECT))
    bob = rload.read(Tree(PROJECT), BOB).request  # platform owns acme-dev; bob requested his own access
    assert ar.attesters(["bob-acme", "alice-acme", "dave-acme"], bob, org) == ("alice-acme",)
    sre = rload.read(Tree(PROJECT), SRE).request  # group:sre: every sre member benefits
    assert ar.attesters(["niaj-acme", "olivia-acme"], sre, org) == ()
    assert ar.attesters(["niaj-acme", "ivan-acme"], sre, org) == ("ivan-acme",)


def test_a_broken_review_file_on_main_is_one_line_and_exit_1(repo):
    repo.write("reviews/2026-11-22/platform.yaml", "kind: AccessReview\nteam: platform\ngrants:\n  - decision: maybe\n")
    repo.write("reviews/notes.yaml", "a: [unclosed\n")
    repo.commit("broken reviews")
    res = repo.run_process("review", "open", "--dry-run")
    assert res.code == 1 and "Traceback" not in res.out + res.err
    assert "reviews/2026-11-22/platform.yaml:4: grant 1 needs request" in res.out
    assert "reviews/notes.yaml" in res.out
