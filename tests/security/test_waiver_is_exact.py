"""Invariant: a waiver removes exactly one violation of exactly one file, for
as long as it is in force, and nothing else -- in every path.

A waiver (policies/data/waivers.yaml) is judged by the policy
(waivers.waiver_for) and, for the rules validation also checks, by
validation (tools/core/waivers.py). The attacker tries to stretch one:
a waiver for another file, an expired one, one whose owner is no team, one
added in the same PR, one for an inactive person, one to lengthen an
unlisted role past the strictest tier. Each is driven through `check-pr`
(and `apply` on the emulators where a merge could slip past the check) and
the access must not appear. The legitimate path works end to end: a waived
unlisted role, properly approved, is allowed and provisioned; when the
waiver ends, the rules have withdrawn it and reconcile revokes it.

The unlisted role: the test organisation takes the `billing` IAM group out
of the catalog (acme-prod still manages it), so it can only be asked for
under a waiver, and is then judged as the privileged tier: two approvals
from sre (acme-prod's owner), security's, a ticket, at most 12 hours.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from apply_world import apply, world  # noqa: F401 (fixtures)

from tools.core import orgmodel
from tools.core.repo import Tree
from tools.request import load, validate

CATALOG = "policies/data/catalog.yaml"
WAIVERS = "policies/data/waivers.yaml"
FILE = "requests/aws/acme-prod/heidi-billing.yaml"
OTHER = "requests/aws/acme-prod/heidi-billing-too.yaml"
APPROVERS = ("niaj-acme", "olivia-acme", "ivan-acme")  # two of sre, one of security


def request(expires: str = "2026-11-22T20:00:00Z", principal: str = "user:heidi@acme.example") -> str:
    return f"""apiVersion: accessctl/v1
kind: AccessRequest
principal: {principal}
requester: heidi-acme
justification: Reconcile the November invoices with finance before the close.
expires: "{expires}"
ticket: FIN-42
grants:
  - kind: aws-iam-group
    account: acme-prod
    group: billing
"""


def waiver(rule: str = "catalog-not-requestable", file: str = FILE, owner: str = "payments",
           expires: str = "2026-11-22T16:00:00Z") -> str:
    return (f"  - rule: {rule}\n    file: {file}\n    owner: {owner}\n    expires: \"{expires}\"\n"
            "    reason: Billing group pending its catalog review (FIN-40).\n")


def unlist_billing(repo) -> None:
    text = repo.read(CATALOG)
    assert "entitlement: billing," in text
    repo.write(CATALOG, "\n".join(line for line in text.splitlines() if "entitlement: billing," not in line) + "\n")


def rules(repo, *waivers: str) -> str:
    """Main's rules: billing unlisted, and these waivers (committed as main)."""
    unlist_billing(repo)
    repo.write(WAIVERS, "waivers:\n" + "".join(waivers) if waivers else "waivers: []\n")
    return repo.commit("rules on main")


def check_pr(repo, capsys, base: str, paths: list[str], approvers=APPROVERS, author: str = "heidi-acme") -> tuple:
    code, out, _ = check_pr_raw(repo, capsys, base, paths, approvers, author)
    return code, json.loads(out)


def check_pr_raw(repo, capsys, base: str, paths: list[str], approvers=APPROVERS, author: str = "heidi-acme"):
    head = repo.commit("the PR")
    ctx = {"number": 71, "author": author, "head_sha": head, "base_sha": base,
           "files": [{"path": p, "status": "added"} for p in paths],
           "reviews": [{"user": u, "state": "APPROVED", "commit_id": head, "teams": []} for u in approvers]}
    path = repo.root.parent / "pr.json"
    path.write_text(json.dumps(ctx))
    result = repo.run("check-pr", "--pr-context", str(path), "--format", "json", capsys=capsys)
    return result.code, result.out, result.err


def result_for(verdict: dict, file: str) -> dict:
    [f] = [f for f in verdict["files"] if f["file"] == file]
    return f


def problems(f: dict) -> set[str]:
    return {v["rule"] for v in f["violations"]} | {v["rule"] for v in f["validation"]}


# ---- the positive path: check-pr ---------------------------------------------

def test_a_waived_unlisted_role_properly_approved_is_allowed(repo, capsys):
    base = rules(repo, waiver())
    repo.write(FILE, request())
    code, verdict = check_pr(repo, capsys, base, [FILE])
    f = result_for(verdict, FILE)
    assert (code, verdict["verdict"], f["status"]) == (0, "allowed", "allowed"), f
    assert [w["rule"] for w in f["waived"]] == ["catalog-not-requestable"]
    assert f["validation"] == [] and f["violations"] == []
    assert f["required_approvals"]["approvals"] == 2 and f["required_approvals"]["security"] is True
    # and `validate` shows the waived finding as a note, without failing
    res = repo.run("validate", "--format", "json", capsys=capsys)
    report = json.loads(res.out)
    assert res.code == 0 and report["errors"] == []
    assert [(w["file"], w["rule"], w["waiver"]["owner"]) for w in report["waived"]] == \
        [(FILE, "catalog-not-requestable", "payments")]
    res = repo.run("validate", capsys=capsys)
    assert res.code == 0 and "waived by payments until 2026-11-22T16:00:00Z" in res.out


# ---- the attacks through check-pr ----------------------------------------------

@pytest.mark.parametrize("why, entry", [
    ("a waiver for another file", waiver(file=OTHER)),
    ("an expired waiver", waiver(expires="2026-11-22T11:59:59Z")),
    ("an owner that is no team", waiver(owner="grace-acme")),
    ("a waiver of another rule", waiver(rule="expiry-too-long")),
])
def test_a_waiver_that_does_not_match_exactly_does_nothing(repo, capsys, why, entry):
    base = rules(repo, entry)
    repo.write(FILE, request())
    code, verdict = check_pr(repo, capsys, base, [FILE])
    f = result_for(verdict, FILE)
    assert code == 1 and f["status"] == "denied", why
    assert f["waived"] == [], why
    assert "catalog-not-requestable" in {v["rule"] for v in f["violations"]}, why
    res = repo.run("validate", FILE, "--format", "json", capsys=capsys)
    assert res.code == 1 and "catalog-not-requestable" in {e["rule"] for e in json.loads(res.out)["errors"]}, why


def test_a_waiver_added_in_the_same_pr_does_nothing(repo, capsys):
    base = rules(repo)  # no waiver on main
    repo.write(WAIVERS, "waivers:\n" + waiver())
    repo.write(FILE, request())
    code, verdict = check_pr(repo, capsys, base, [FILE, WAIVERS])
    f = result_for(verdict, FILE)
    assert code == 1 and verdict["verdict"] != "allowed"
    assert f["waived"] == [] and "catalog-not-requestable" in problems(f), "judged by the base rules"


def test_a_waived_unlisted_role_still_needs_the_strictest_tier(repo, capsys):
    """Approvals: one sre approval is not enough. Expiry: a day is more than 12 hours."""
    base = rules(repo, waiver())
    repo.write(FILE, request())
    code, verdict = check_pr(repo, capsys, base, [FILE], approvers=("niaj-acme",))
    f = result_for(verdict, FILE)
    assert code == 1 and f["status"] == "needs-approval"
    assert {"approval-owner-missing", "approval-security-missing"} <= problems(f)
    repo.write(FILE, request(expires="2026-11-23T12:00:00Z"))
    code, verdict = check_pr(repo, capsys, base, [FILE])
    f = result_for(verdict, FILE)
    assert code == 1 and f["status"] == "denied"
    assert "expiry-too-long" in {v["rule"] for v in f["violations"]}
    res = repo.run("validate", FILE, capsys=capsys)
    assert res.code == 1 and "more than 12 hours away" in res.out, "validation holds the same limit"


def test_a_waiver_cannot_reach_outside_the_managed_scope(repo, capsys):
    """billing is managed in acme-prod only: in acme-dev a waiver of the
    catalog violation would have the pipeline write outside its scope."""
    dev = "requests/aws/acme-dev/heidi-billing.yaml"
    base = rules(repo, waiver(file=dev))
    repo.write(dev, request().replace("acme-prod", "acme-dev"))
    code, verdict = check_pr(repo, capsys, base, [dev], approvers=("alice-acme", "carol-acme", "ivan-acme"))
    f = result_for(verdict, dev)
    assert code == 1 and f["status"] == "denied"
    assert any("outside the managed scope" in v["message"] for v in f["validation"])


def test_an_inactive_person_gets_nothing_whatever_the_waivers_say(repo, capsys):
    """mallory is inactive. A waiver of principal-unknown is refused by the
    org-model schema (so every command refuses that org model), and even a
    model that slipped past it waives nothing, in the policy or validation."""
    mallory = FILE.replace("heidi", "mallory")
    base = rules(repo, waiver(rule="principal-unknown", file=mallory, expires="2026-12-01T00:00:00Z"))
    repo.write(mallory, request(principal="user:mallory@acme.example"))
    code, out, err = check_pr_raw(repo, capsys, base, [mallory])
    assert code == 1 and '"allowed"' not in out
    assert "waivers.0.rule 'principal-unknown' cannot be waived" in err
    res = repo.run_process("validate")
    assert res.code == 1 and "Traceback" not in res.err
    assert f"{WAIVERS}:2: waivers.0.rule 'principal-unknown' cannot be waived" in res.out + res.err
    # Past the schema (an org model loaded without it): validation keeps the finding.
    tree = Tree(repo.root)
    raw, _ = orgmodel.read(tree)
    org = orgmodel._build(raw)
    assert raw["waivers"][0]["rule"] == "principal-unknown"
    rf = load.read(tree, mallory)
    validate.validate([rf], org, datetime(2026, 11, 22, 12, tzinfo=timezone.utc))
    assert "principal-unknown" in {f.rule for f in rf.findings} and rf.waived == []


def test_a_rules_pr_adding_an_unwaivable_waiver_is_denied_whoever_approves(repo, capsys):
    """The rules-change approvals (security and the owner team) cannot make
    an unwaivable waiver mergeable: the org model it would produce is refused."""
    base = rules(repo)
    mallory = FILE.replace("heidi", "mallory")
    repo.write(WAIVERS, "waivers:\n" + waiver(rule="principal-unknown", file=mallory))
    code, verdict = check_pr(repo, capsys, base, [WAIVERS], approvers=("ivan-acme", "judy-acme", "grace-acme"),
                             author="alice-acme")
    assert code == 1 and verdict["verdict"] == "denied"
    [f] = [f for f in verdict["files"] if f["file"] == WAIVERS]
    assert any("waivers.0.rule 'principal-unknown' cannot be waived" in v["message"] for v in f["validation"])


# ---- apply, reconcile and expire on the emulators ---------------------------------

def billing(sb) -> set[str]:
    iam = sb.aws.client("iam", "333333333333")
    return {u["UserName"] for u in iam.get_group(GroupName="billing")["Users"]}


def merged_pr(repo, gh, path: str, text: str, approvers=APPROVERS) -> str:
    n = gh.add_pr("heidi-acme", [(path, "added")], contents={path: text})
    for login in approvers:
        gh.add_review(n, login, "APPROVED")
    repo.write(path, text)
    sha = repo.commit(f"Merge pull request #{n} from acme/request-{n}")
    gh.merge(n, sha)
    return sha


def test_apply_provisions_a_waived_request_and_reconcile_revokes_it_when_the_waiver_ends(world, capsys, monkeypatch):
    repo, sb, gh = world
    rules(repo, waiver())
    since = repo.commit("applied")
    merged_pr(repo, gh, FILE, request())
    code, doc = apply(repo, capsys, since)
    assert code == 0, doc
    assert "heidi@acme.example" in billing(sb), "the waived, approved request is provisioned"
    assert repo.run("apply", capsys=capsys).code == 0 and "heidi@acme.example" in billing(sb), "and stays"
    # The waiver ends at 16:00, the request at 20:00: from 16:00 the rules
    # withdraw it (catalog-not-requestable is back), which revokes, as a role
    # leaving the catalog does; the file is not broken, so nothing is held.
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-11-22T17:00:00Z")
    res = repo.run("reconcile", "--mode", "fix", "--no-issue", "--format", "json", capsys=capsys)
    assert res.code == 0 and "heidi@acme.example" not in billing(sb)
    [drift] = json.loads(res.out)["drift"]
    assert (drift["kind"], drift["principal"], drift["target"], drift["outcome"]) == \
        ("extra", "user:heidi@acme.example", "billing", "fixed")
    assert drift["reason"] == (f"{FILE}: group 'billing' is not requestable in acme-prod (its waiver by payments "
                               "ended 2026-11-22T16:00:00Z) (the org model withdrew it)")
    # expire leaves the file alone (it has not expired; its PR would delete
    # a request that may be renewed with a new waiver), and grants nothing back.
    res = repo.run("expire", "--format", "json", capsys=capsys)
    assert res.code == 0 and json.loads(res.out)["expired_requests"] == []
    assert "heidi@acme.example" not in billing(sb)
    res = repo.run("apply", capsys=capsys)
    assert "heidi@acme.example" not in billing(sb), "nor does the next apply"


def test_apply_revokes_too_when_it_meets_the_ended_waiver_first(world, capsys, monkeypatch):
    repo, sb, gh = world
    rules(repo, waiver())
    since = repo.commit("applied")
    merged_pr(repo, gh, FILE, request())
    assert apply(repo, capsys, since)[0] == 0 and "heidi@acme.example" in billing(sb)
    monkeypatch.setenv("ACCESSCTL_NOW", "2026-11-22T17:00:00Z")
    res = repo.run("apply", "--format", "json", capsys=capsys)
    assert res.code == 0 and "heidi@acme.example" not in billing(sb)
    [removed] = [r for r in json.loads(res.out)["results"] if r["action"] == "remove"]
    assert removed["principal"] == "user:heidi@acme.example" and "its waiver by payments ended" in removed["reason"]


@pytest.mark.parametrize("why, entry, path", [
    ("a waiver for another file", waiver(file=FILE), OTHER),
    ("an expired waiver", waiver(expires="2026-11-21T00:00:00Z"), FILE),
    ("an owner that is no team", waiver(owner="nobody"), FILE),
])
def test_a_merge_past_the_check_gets_nothing_from_a_waiver_that_does_not_match(world, capsys, why, entry, path):
    """Approved by the right people, merged: still nothing, because the
    waiver does not cover this file now (apply re-judges it)."""
    repo, sb, gh = world
    rules(repo, entry)
    since = repo.commit("applied")
    merged_pr(repo, gh, path, request())
    code, _ = apply(repo, capsys, since)
    assert code == 1, why
    assert "heidi@acme.example" not in billing(sb), why
    res = repo.run("reconcile", "--mode", "fix", "--no-issue", capsys=capsys)
    assert "heidi@acme.example" not in billing(sb), why


def test_a_merge_past_the_check_gives_an_unlisted_role_no_more_than_the_strictest_tier(world, capsys):
    repo, sb, gh = world
    rules(repo, waiver())
    since = repo.commit("applied")
    merged_pr(repo, gh, FILE, request(expires="2026-11-24T12:00:00Z"))
    code, _ = apply(repo, capsys, since)
    assert code == 1 and "heidi@acme.example" not in billing(sb)


def test_a_waiver_merged_with_its_request_gets_nothing(world, capsys):
    """One PR brings the waiver and the request, approved by everyone a
    rules change and the request need, merged past the check: apply judges
    the request by the rules approved before it, which hold no waiver."""
    repo, sb, gh = world
    rules(repo)
    since = repo.commit("applied")
    changes = {WAIVERS: "waivers:\n" + waiver(), FILE: request()}
    n = gh.add_pr("heidi-acme", [(p, "modified" if (repo.root / p).exists() else "added") for p in changes],
                  contents=changes)
    for login in (*APPROVERS, "judy-acme", "grace-acme"):
        gh.add_review(n, login, "APPROVED")
    for path, text in changes.items():
        repo.write(path, text)
    gh.merge(n, repo.commit(f"Merge pull request #{n} from acme/request-{n}"))
    code, _ = apply(repo, capsys, since)
    assert code == 1 and "heidi@acme.example" not in billing(sb)


def test_an_inactive_person_gets_nothing_from_apply_whatever_the_waivers_say(world, capsys):
    repo, sb, gh = world
    mallory = "requests/aws/acme-dev/mallory-developer.yaml"
    rules(repo, waiver(rule="principal-unknown", file=mallory, expires="2026-12-01T00:00:00Z"))
    since = repo.commit("applied")
    text = request(principal="user:mallory@acme.example").replace("acme-prod", "acme-dev").replace(
        "group: billing", "group: developers")
    merged_pr(repo, gh, mallory, text, approvers=("alice-acme", "carol-acme"))
    res = repo.run("apply", "--since", since, capsys=capsys)
    assert res.code == 1 and "cannot be waived" in res.err
    iam = sb.aws.client("iam", "111111111111")
    assert "mallory@acme.example" not in {u["UserName"] for u in iam.get_group(GroupName="developers")["Users"]}
