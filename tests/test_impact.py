"""The effect of a rules change on existing access: every request file on
main judged under the base and the head rules (``tools/review/impact.py``),
shown in the PR comment of a rules change and by ``accessctl evaluate
--rules REF``. One test per kind of change a reviewer must see: a tier
change, a person deactivated, a role removed from the catalog, a waiver;
plus the holds split, hostile text from the head rules, and broken head
rules."""
from __future__ import annotations

import json

from conftest import git
from test_check_pr import check, local_pr
from test_pr_lifecycle import request

ERIN = "requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml"
CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"
SRE = "requests/aws/acme-prod/sre-readonly.yaml"
OLIVIA = "requests/aws/acme-prod/olivia-admin.yaml"
PEOPLE = "policies/data/people.yaml"
TEAMS = "policies/data/teams.yaml"
CATALOG = "policies/data/catalog.yaml"
WAIVERS = "policies/data/waivers.yaml"
PRIVILEGED = "policies/access/rules/privileged/privileged.rego"


def edit(repo, path: str, old: str, new: str) -> str:
    text = repo.read(path)
    assert old in text, f"{old!r} not in {path}"
    return text.replace(old, new)


def rules_pr(repo, capsys, changes: dict[str, str], author: str = "niaj-acme") -> dict:
    """Commit ``changes`` as a PR on top of main and run check-pr on it."""
    base = git(repo.root, "rev-parse", "HEAD").strip()
    for path, text in changes.items():
        repo.write(path, text)
    ctx = local_pr(repo, base, [(p, "modified") for p in changes], author=author)
    return json.loads(check(repo, capsys, ctx, "--format", "json").out)


def evaluate_rules(repo, capsys, *extra: str, ref: str = "main"):
    """``accessctl evaluate --rules REF`` on the working tree."""
    return repo.run("evaluate", "--rules", ref, *extra, capsys=capsys)


def decisions(impact: dict) -> list[tuple]:
    return [(d["file"], d["before"], d["after"], [v["rule"] for v in d["new_violations"]])
            for d in impact["decisions"]]


def state(impact: dict) -> list[tuple]:
    return [(s["action"], s["principal"], s["entitlement"], s["target"]) for s in impact["desired_state"]]


def test_deactivating_a_person_revokes_every_grant_they_hold(repo, capsys):
    people = edit(repo, PEOPLE, "name: Erin Walsh,      active: true", "name: Erin Walsh,      active: false")
    doc = rules_pr(repo, capsys, {PEOPLE: people})
    impact = doc["impact"]
    assert impact["evaluated"] == 12 and impact["errors"] == []
    assert decisions(impact) == [(ERIN, "allowed", "denied", ["principal-unknown"])]
    assert state(impact) == [("remove", "user:erin@acme.example", "roles/bigquery.dataViewer", "acme-data-prod")]
    assert impact["desired_state"][0]["why"].endswith("is not an active person (the org model withdraws it)")
    # information only: the PR is still judged as a rules change, by the base rules
    assert doc["headline"] == "Needs one more approval from @acme/security"
    body = doc["comment"]
    assert "#### Effect on existing access" in body
    assert ("**12 request files on main judged under both rule sets: 1 allowed → denied, 0 denied → allowed, "
            "11 unchanged. After the merge, apply would remove 1 grant and add 0; 0 held.**") in body
    assert f"| `{ERIN}` | `user:erin@acme.example` |" in body and "✅ allowed → ❌ denied" in body


def test_a_tier_change_shows_the_grants_it_ends_and_the_review_routing(repo, capsys):
    repo.write(CATALOG, edit(repo, CATALOG, "entitlement: PowerUser, tier: sensitive",
                             "entitlement: PowerUser, tier: privileged"))
    result = evaluate_rules(repo, capsys, "--format", "json")
    assert result.code == 0, result.err
    impact = json.loads(result.out)
    assert impact["head_rules"] == "the working tree" and impact["base_rules"].startswith("commit ")
    assert decisions(impact) == [(CAROL, "allowed", "denied", ["expiry-too-long"])]
    assert "privileged tier: at most 12 hours" in impact["decisions"][0]["new_violations"][0]["message"]
    assert state(impact) == [("remove", "user:carol@acme.example", "PowerUser", "acme-staging")]
    # a privileged role is now requestable there: security joins the folder's reviewers
    assert {"pattern": "/requests/aws/acme-staging/", "before": "@acme/platform",
            "after": "@acme/platform @acme/security"} in impact["codeowners"]


def test_evaluate_rules_in_text_and_markdown(repo, capsys):
    repo.write(CATALOG, edit(repo, CATALOG, "entitlement: PowerUser, tier: sensitive",
                             "entitlement: PowerUser, tier: privileged"))
    text = evaluate_rules(repo, capsys)
    assert text.code == 0
    assert f"allowed -> denied  {CAROL}  (user:carol@acme.example: PowerUser in acme-staging)" in text.out
    assert "remove user:carol@acme.example PowerUser in acme-staging:" in text.out
    assert "CODEOWNERS /requests/aws/acme-staging/: @acme/platform -> @acme/platform @acme/security" in text.out
    md = evaluate_rules(repo, capsys, "--format", "markdown")
    assert md.code == 0 and md.out.startswith("### Effect on existing access\n")
    assert "| ➖ remove | `user:carol@acme.example` | `PowerUser` | `acme-staging` |" in md.out
    assert "- `/requests/aws/acme-staging/`: `@acme/platform` → `@acme/platform @acme/security`" in md.out


def test_removing_a_role_from_the_catalog_revokes_it(repo, capsys):
    catalog = edit(repo, CATALOG, "  - {kind: gcp-project-role, entitlement: roles/bigquery.dataViewer, tier: standard}\n",
                   "")
    doc = rules_pr(repo, capsys, {CATALOG: catalog})
    impact = doc["impact"]
    [(file, before, after, rules)] = decisions(impact)
    assert (file, before, after, rules[0]) == (ERIN, "allowed", "denied", "catalog-not-requestable")
    assert state(impact) == [("remove", "user:erin@acme.example", "roles/bigquery.dataViewer", "acme-data-prod")]
    assert "is not requestable in acme-data-prod (the org model withdraws it)" in impact["desired_state"][0]["why"]
    assert "| ➖ remove | `user:erin@acme.example` | `roles/bigquery.dataViewer` | `acme-data-prod` |" \
        in doc["comment"]


def test_a_waiver_turns_a_denied_request_on_main_into_an_allowed_one(repo, capsys):
    # on main: a privileged grant without a ticket (valid, so granted, but the policy denies it)
    repo.write(OLIVIA, request("user:olivia@acme.example", "olivia-acme",
                               "  - {kind: aws-sso-assignment, account: acme-prod, permission_set: AdministratorAccess}\n",
                               "2026-11-22T20:00:00Z",
                               justification="Restore the payments queue after incident INC-12 broke the consumer."))
    repo.commit("olivia's admin access, no ticket")
    waiver = "waivers:\n" + "".join(
        f"  - rule: {rule}\n    file: {OLIVIA}\n    owner: sre\n    expires: \"2027-01-01\"\n"
        "    reason: ticketing system migration\n" for rule in ("privileged-ticket-required", "production-ticket-required"))
    doc = rules_pr(repo, capsys, {WAIVERS: waiver}, author="bob-acme")
    impact = doc["impact"]
    assert decisions(impact) == [(OLIVIA, "denied", "allowed", [])]
    change = impact["decisions"][0]
    assert sorted(r["rule"] for r in change["resolved"]) == ["privileged-ticket-required",
                                                              "production-ticket-required"]
    assert sorted(w["rule"] for w in change["waived"]) == ["privileged-ticket-required", "production-ticket-required"]
    assert {w["owner"] for w in change["waived"]} == {"sre"}
    assert impact["desired_state"] == []  # it was granted already: only its decision changes
    assert "❌ denied → ✅ allowed | no longer `privileged-ticket-required`:" in doc["comment"]
    assert "waived `privileged-ticket-required` (owner sre, until 2027-01-01T00:00:00Z)" in doc["comment"]


def test_a_waiver_of_an_unlisted_role_adds_its_grant_to_the_desired_state(repo, capsys):
    """Validation reports catalog-not-requestable too: the waiver must set
    its finding aside as well, or the impact would show the file allowed by
    the policy and still denied, and apply would never provision it."""
    billing = "requests/aws/acme-prod/heidi-billing.yaml"
    repo.write(CATALOG, edit(repo, CATALOG, "  - {kind: aws-iam-group, entitlement: billing, tier: sensitive, "
                                            "owner: payments}\n", ""))
    repo.write(billing, request("user:heidi@acme.example", "heidi-acme",
                                "  - {kind: aws-iam-group, account: acme-prod, group: billing}\n",
                                "2026-11-22T20:00:00Z", "ticket: FIN-42\n",
                                justification="Reconcile the November invoices with finance."))
    repo.commit("billing unlisted; heidi's request for it on main")
    waiver = (f"waivers:\n  - rule: catalog-not-requestable\n    file: {billing}\n    owner: payments\n"
              "    expires: \"2026-11-23\"\n    reason: billing group pending its catalog review\n")
    doc = rules_pr(repo, capsys, {WAIVERS: waiver}, author="bob-acme")
    impact = doc["impact"]
    assert decisions(impact) == [(billing, "denied", "allowed", [])]
    change = impact["decisions"][0]
    assert [r["rule"] for r in change["resolved"]] == ["catalog-not-requestable"]
    assert [(w["rule"], w["owner"]) for w in change["waived"]] == [("catalog-not-requestable", "payments")]
    assert state(impact) == [("add", "user:heidi@acme.example", "billing", "acme-prod")]


def test_a_file_the_change_breaks_through_its_own_content_is_held_not_revoked(repo, capsys):
    """niaj leaves the org model: the file they requested now names an
    unknown requester, which is about the file, not a withdrawal: the
    group's access is held (tools/provision/invalid_files.py), never removed."""
    people = edit(repo, PEOPLE, "  - {email: niaj@acme.example,    github: niaj-acme,    name: Niaj Haddad,     active: true}\n", "")
    teams = edit(repo, TEAMS, "    leads: [niaj-acme]\n    members: [niaj-acme, olivia-acme, bob-acme]",
                 "    leads: [olivia-acme]\n    members: [olivia-acme, bob-acme]")
    doc = rules_pr(repo, capsys, {PEOPLE: people, TEAMS: teams}, author="ivan-acme")
    impact = doc["impact"]
    assert decisions(impact) == [(SRE, "allowed", "denied", ["invalid"])]
    assert state(impact) == [("held", "group:sre", "ReadOnly", "acme-prod")]
    assert impact["counts"]["grants_removed"] == 0 and impact["counts"]["grants_held"] == 1
    assert impact["desired_state"][0]["why"].startswith("requester 'niaj-acme' is not a person of the organisation; "
                                                        "held: the file breaks through its own content")
    assert "| ⏸ held | `group:sre` |" in doc["comment"]


def test_text_from_the_head_rules_cannot_spoof_the_comment(repo, capsys):
    """A rules PR writes the messages its own rules give: they reach the
    reviewers' comment only through the Markdown escaping."""
    hostile = "Fine <!-- x --> cc @acme/security **Allowed** | cell ```\\n### ✅ Allowed"
    rego = edit(repo, PRIVILEGED, "\tcount(_ticket_tiers) > 0\n\tnot lib.has_ticket",
                "\tlib.is_access_request(input.request)\n\tnot lib.has_ticket")
    rego = edit_text(rego, 'msg := sprintf("%s access needs a ticket reference", [concat(" and ", sort(_ticket_tiers))])',
                     f'msg := "{hostile}"')
    doc = rules_pr(repo, capsys, {PRIVILEGED: rego})
    body = doc["comment"]
    impact = doc["impact"]
    assert impact["errors"] == [] and impact["counts"]["allowed_to_denied"] >= 2
    assert all(d["new_violations"][0]["message"].startswith("Fine <!-- x -->") for d in impact["decisions"])
    assert "<!-- x" not in body and "cc @acme/security" not in body and "**Allowed**" not in body
    assert "```" not in body.split("#### Effect on existing access")[1]
    assert [line for line in body.splitlines() if line.startswith("### ")] == \
        ["### ⏳ Needs two more approvals from @acme/security"]
    rows = [line for line in body.splitlines() if line.startswith("| `requests/")]
    assert len(rows) == impact["counts"]["allowed_to_denied"]
    assert all(len(_cells(line)) == 5 for line in rows), rows


def edit_text(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def _cells(line: str) -> list[str]:
    import re
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_head_rules_that_do_not_compile_are_reported_and_the_verdict_still_stands(repo, capsys):
    rego = repo.read(PRIVILEGED) + "\ndeny contains v if {\n"
    doc = rules_pr(repo, capsys, {PRIVILEGED: rego})
    assert doc["headline"] == "Needs two more approvals from @acme/security"  # judged by the base rules
    [error] = doc["impact"]["errors"]
    assert error.startswith("the head rules cannot be evaluated: policy does not compile")
    assert "> ⚠️ the head rules cannot be evaluated: policy does not compile" in doc["comment"]
    result = evaluate_rules(repo, capsys, ref="HEAD~1")  # main is the PR's commit here
    assert result.code == 1 and "! the head rules cannot be evaluated" in result.out


def test_a_pr_that_changes_no_rules_has_no_impact_section(repo, capsys):
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(CAROL, repo.read(CAROL).replace("2026-12-15", "2026-12-16"))
    doc = json.loads(check(repo, capsys, local_pr(repo, base, [(CAROL, "modified")]), "--format", "json").out)
    assert doc["impact"] is None and "Effect on existing access" not in doc["comment"]


def test_evaluate_rules_takes_nothing_else(repo, capsys):
    for extra in ([CAROL], ["--base", "main"], ["--explain-input"]):
        result = evaluate_rules(repo, capsys, *extra)
        assert result.code == 2 and "--rules REF compares two rule sets" in result.err, extra
    result = repo.run_process("evaluate", "--rules", "no-such-ref")
    assert result.code == 2 and "not a commit of this repository" in result.err and "Traceback" not in result.err


def test_a_long_table_is_folded():
    from tools.review.impact import DecisionChange, Impact
    from tools.review.impact_render import markdown
    problem = {"rule": "principal-unknown", "message": "not an active person"}
    impact = Impact("commit " + "a" * 40, "commit " + "b" * 40, "commit " + "a" * 40, evaluated=40)
    impact.changes = [DecisionChange(f"requests/aws/acme-dev/f{i}.yaml", "user:x@acme.example", ("ReadOnly in acme-dev",),
                                     "allowed", "denied", (problem,), (), ()) for i in range(11)]
    body = markdown(impact)
    assert "<details><summary>11 decisions change</summary>" in body
    impact.changes = impact.changes[:3]
    assert "<details>" not in markdown(impact)


def test_removing_a_target_revokes_its_grants_and_its_review_routing(repo, capsys):
    targets = repo.read("policies/data/targets.yaml")
    start, end = targets.index("    - name: acme-staging"), targets.index("    - name: acme-prod")
    repo.write("policies/data/targets.yaml", targets[:start] + targets[end:])
    impact = json.loads(evaluate_rules(repo, capsys, "--format", "json").out)
    assert [(f, b, a) for f, b, a, _ in decisions(impact)] == [(CAROL, "allowed", "denied")]
    assert state(impact) == [("remove", "user:carol@acme.example", "PowerUser", "acme-staging")]
    assert impact["desired_state"][0]["why"] == \
        "folder 'acme-staging' is not a known aws target (the org model withdraws it)"
    assert impact["codeowners"] == [{"pattern": "/requests/aws/acme-staging/", "before": "@acme/platform",
                                     "after": None}]


def test_a_team_change_shows_who_gains_and_who_loses_the_teams_access(repo, capsys):
    teams = edit(repo, TEAMS, "    members: [niaj-acme, olivia-acme, bob-acme]",
                 "    members: [niaj-acme, olivia-acme, grace-acme]")
    doc = rules_pr(repo, capsys, {TEAMS: teams}, author="ivan-acme")
    impact = doc["impact"]
    assert impact["decisions"] == [] and impact["desired_state"] == []  # the grant to group:sre stays
    assert impact["membership"] == [{"team": "sre", "joins": ["grace-acme"], "leaves": ["bob-acme"],
                                     "grants": ["ReadOnly in acme-prod"]}]
    assert "- team `sre`: grace-acme gains and bob-acme loses `ReadOnly in acme-prod`" in doc["comment"]
