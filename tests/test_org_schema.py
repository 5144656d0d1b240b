"""The org model (policies/data/*.yaml) is validated like requests are.

A limit written as ``1.5`` or ``"720"`` used to switch the limit off in Rego
(a number compared with a string), two waivers for one rule and file made
every decision error, and a waiver expiry written as a date never applied.
Now `validate` names each problem at its file and line, every stage refuses
a broken model, and the PR check denies a PR that would break it.
"""
from __future__ import annotations

import json

import pytest

from conftest import git

TIERS = "policies/data/tiers.yaml"
WAIVERS = "policies/data/waivers.yaml"
CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"


def waiver(rule: str, expires: str, file: str = CAROL) -> str:
    return (f"  - rule: {rule}\n    file: {file}\n    owner: platform\n    expires: {expires}\n"
            "    reason: Generated for the test.\n")


def validate_json(repo, capsys) -> tuple[int, list[dict]]:
    result = repo.run("validate", "--format", "json", capsys=capsys)
    return result.code, json.loads(result.out)["errors"]


def test_the_sample_org_model_is_valid(repo, capsys):
    code, errors = validate_json(repo, capsys)
    assert code == 0 and errors == []


@pytest.mark.parametrize("old, new, line_has, message", [
    ("max_hours: 720", "max_hours: 1.5", "max_hours", "'1.5' is not a positive whole number"),
    ("max_hours: 720", 'max_hours: "720"', "max_hours", "'720' is not a positive whole number"),
    ("approvals: 2", "approvals: 0", "approvals", "0 is not a positive whole number"),
    ("ticket_required: true", "ticket_required: yes", "ticket_required", "'yes' is not of type 'boolean'"),
])
def test_limits_and_counts_must_be_positive_integers(repo, capsys, old, new, line_has, message):
    repo.write(TIERS, repo.read(TIERS).replace(old, new, 1))
    code, errors = validate_json(repo, capsys)
    assert code == 1 and len(errors) == 1
    [e] = errors
    assert e["file"] == TIERS and message in e["message"] and e["rule"] == "org-model"
    assert line_has in repo.read(TIERS).splitlines()[e["line"] - 1]
    assert "whole number" in e["fix"] or "schema" in e["fix"]


def test_duplicate_waivers_and_unparsable_expiries_are_named_at_their_line(repo, capsys):
    repo.write(WAIVERS, "waivers:\n" + waiver("production-ticket-required", '"2026-12-01"')
               + waiver("production-ticket-required", '"2026-12-02T00:00:00Z"')
               + waiver("expiry-too-long", '"2026-12-01 00:00:00"'))
    code, errors = validate_json(repo, capsys)
    assert code == 1
    assert [(e["line"], e["message"].split(":")[0]) for e in errors] == [(15, "waivers.2.expires")]
    repo.write(WAIVERS, "waivers:\n" + waiver("production-ticket-required", '"2026-12-01"')
               + waiver("production-ticket-required", '"2026-12-02T00:00:00Z"')
               + waiver("expiry-too-long", '"2026-02-30"'))
    code, errors = validate_json(repo, capsys)
    assert code == 1
    messages = {e["message"] for e in errors}
    assert "waivers.1: waiver for (rule, file) ('production-ticket-required', " \
           f"'{CAROL}') is also defined at waivers.0" in messages
    assert "waivers.2.expires '2026-02-30' is not a real date" in messages


@pytest.mark.parametrize("rule", ["principal-unknown", "principal-external", "approval-owner-missing"])
def test_a_waiver_of_an_unwaivable_rule_is_refused_at_its_line(repo, capsys, rule):
    repo.write(WAIVERS, "waivers:\n" + waiver("production-ticket-required", '"2026-12-01"') + waiver(rule, '"2026-12-01"'))
    code, errors = validate_json(repo, capsys)
    assert code == 1
    [e] = errors
    assert e["file"] == WAIVERS and e["rule"] == "org-model"
    assert e["message"] == f"waivers.1.rule {rule!r} cannot be waived: it guards who may hold access, its approvals or its end"
    assert repo.read(WAIVERS).splitlines()[e["line"] - 1] == f"  - rule: {rule}"
    result = repo.run_process("validate")
    assert result.code == 1 and "Traceback" not in result.err + result.out
    assert f"{WAIVERS}:{e['line']}: waivers.1.rule" in result.out + result.err


def test_unique_ids_people_and_accounts(repo, capsys):
    people = repo.read("policies/data/people.yaml")
    repo.write("policies/data/people.yaml", people.replace("bob@acme.example", "alice@acme.example", 1))
    code, errors = validate_json(repo, capsys)
    assert code == 1 and any("email 'alice@acme.example' is also defined" in e["message"] for e in errors)


def test_a_waiver_expiry_written_as_a_date_applies(repo, capsys):
    repo.write(CAROL, repo.read(CAROL).replace("ticket: PLAT-311\n", ""))
    repo.write(WAIVERS, "waivers:\n" + waiver("production-ticket-required", '"2026-12-01"',
                                               "requests/aws/acme-prod/sre-readonly.yaml"))
    sre = "requests/aws/acme-prod/sre-readonly.yaml"
    repo.write(sre, repo.read(sre).replace("ticket: OPS-7\n", ""))
    result = repo.run("evaluate", sre, "--format", "json", capsys=capsys)
    [d] = json.loads(result.out)
    assert result.code == 0 and [w["rule"] for w in d["waived"]] == ["production-ticket-required"]
    assert d["waived"][0]["waiver"]["expires"] == "2026-12-01T00:00:00Z"


def test_every_stage_refuses_a_broken_org_model_with_file_and_line(repo):
    repo.write(TIERS, repo.read(TIERS).replace("max_hours: 12", "max_hours: 1.5", 1))
    result = repo.run_process("evaluate")
    assert result.code == 1 and "Traceback" not in result.err
    assert f"{TIERS}:12: tiers.privileged.max_hours" in result.err and "'1.5' is not a positive whole number" in result.err


def test_the_pr_check_denies_a_pr_that_breaks_the_org_model(repo, capsys):
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(TIERS, repo.read(TIERS).replace("max_hours: 12", "max_hours: 1.5", 1))
    head = repo.commit("relax privileged")
    ctx = {"number": 5, "author": "alice-acme", "head_sha": head, "base_sha": base, "reviews": [],
           "files": [{"path": TIERS, "status": "modified"}]}
    path = repo.root.parent / "pr.json"
    path.write_text(json.dumps(ctx))
    result = repo.run("check-pr", "--pr-context", str(path), "--format", "json", capsys=capsys)
    assert result.code == 1, result.err
    verdict = json.loads(result.out)
    assert verdict["verdict"] == "denied"
    assert "'1.5' is not a positive whole number" in json.dumps(verdict)
