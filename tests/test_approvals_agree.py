"""The policy decides whether approvals suffice; check-pr's Python explains
it (who counted, what is still missing). The two must agree, or the comment
asks for approvals the policy does not need, or shows nothing missing on a
red check. Compared here on many generated review sets, for requests whose
routing differs: a user, a group on its own team's account (security
instead), a privileged role, a team's own service account (security
instead), and the rules change."""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from conftest import PROJECT

from tools.core import orgmodel
from tools.core.pr_context import ChangedFile, PRContext, Review
from tools.core.repo import Tree
from tools.policy.engines import RegorusEngine, load_bundle
from tools.policy.evaluate import FileDecision, evaluate_files
from tools.review import check_pr as cp
from tools.review import rules_pr

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
HEAD, OLD = "h" * 40, "o" * 40
FILES = ["requests/aws/acme-staging/carol-poweruser.yaml", "requests/aws/acme-prod/sre-readonly.yaml",
         "requests/gcp/acme-data-prod/etl-runner-editor.yaml", "requests/aws/acme-dev/billing-deployer-readonly.yaml"]


@pytest.fixture(scope="module")
def world():
    org_model = orgmodel.load(Tree(PROJECT))
    engine = RegorusEngine(load_bundle(Tree(PROJECT), org_model))
    org = cp.Org({k: t.github_team for k, t in org_model.teams.items()}, org_model.security_team,
                 {k: tuple(m.lower() for m in t.leads) for k, t in org_model.teams.items()},
                 {k: tuple(m.lower() for m in t.members) for k, t in org_model.teams.items()})
    logins = {p.email.lower(): p.github for p in org_model.people.values()}
    people = sorted(p.github for p in org_model.people.values())
    return org_model, engine, org, logins, people


def reviews(rng: random.Random, people: list[str]) -> tuple[Review, ...]:
    out = []
    for user in rng.sample(people, rng.randint(0, 5)):
        out.append(Review(user, "APPROVED", HEAD if rng.random() < 0.85 else OLD))
        if rng.random() < 0.1:
            out.append(Review(user, rng.choice(["CHANGES_REQUESTED", "DISMISSED"]), HEAD))
    return tuple(out)


@pytest.mark.parametrize("path", FILES)
def test_request_asks_agree_with_the_policy(world, path):
    org_model, engine, org, logins, people = world
    rng = random.Random(path)
    pr = PRContext(5, "carol-acme", HEAD, "base", ())
    [decision] = evaluate_files(PROJECT, [path], None, None, NOW, engine=engine, keep_input=True).decisions
    doc = decision.input
    seen = set()
    for _ in range(150):
        case = rules_pr.with_org_teams(replace(pr, author=rng.choice(people), reviews=reviews(rng, people)), org_model)
        doc = {**doc, "pr": case.as_input()}
        result = engine.decide(doc)
        d = FileDecision(path, result["allow"], result["violations"], result["waived"], False,
                         result["required_approvals"], doc)
        fr = cp.file_result(d, [], case, org, logins, {})
        hard = [v for v in fr.violations if v["rule"] not in cp.APPROVAL_RULES]
        if hard:
            continue
        assert (fr.status == "allowed") == (not fr.asks), (path, case.author, case.reviews, fr.violations, fr.asks)
        if fr.status == "needs-approval":
            assert any(v["rule"].startswith("approval-") for v in fr.violations)
        seen.add(fr.status)
    assert seen == {"allowed", "needs-approval"}, "the generated cases must cover both outcomes"


def test_rules_change_asks_agree_with_the_policy(world):
    org_model, engine, org, logins, people = world
    rng = random.Random(7)
    seen = set()
    for _ in range(150):
        change = {"teams": [], "waivers": [], "errors": []}
        if rng.random() < 0.5:
            team = rng.choice(sorted(org_model.teams))
            change["teams"].append({"team": team, "joins": [rng.choice(people)], "leaves": [],
                                    "leads_joins": [], "leads_leaves": []})
        if rng.random() < 0.3:
            change["waivers"].append({"rule": "expiry-too-long", "file": FILES[0],
                                      "owner": rng.choice(sorted(org_model.teams)), "beneficiaries": ["carol-acme"]})
        paths = rng.sample(["docs/a.md", ".github/workflows/x.yml", "policies/data/teams.yaml", "CODEOWNERS"],
                           rng.randint(1, 2))
        files = tuple(ChangedFile(p, "modified") for p in paths)
        case = rules_pr.with_org_teams(PRContext(5, rng.choice(people), HEAD, "base", files,
                                                 reviews(rng, people)), org_model)
        doc = {"version": 1, "file": rules_pr.RULES_FILE, "now": "2026-11-22T12:00:00Z",
               "pr": case.as_input(), "change": change}
        fr = cp.extra_result(rules_pr.RULES_FILE, engine.decide(doc), case, org, logins, [])
        assert (fr.status == "allowed") == (not fr.asks), (case.author, case.reviews, change, fr.violations)
        missing = sum(a.count for a in fr.asks)
        counted = {n.user.lower() for n in fr.reviews if n.counted}
        assert fr.required["approvers"] == sorted(fr.required["approvers"])
        assert counted <= set(fr.required["approvers"]), (counted, fr.required)
        if fr.status == "allowed":
            assert missing == 0
        seen.add(fr.status)
    assert seen == {"allowed", "needs-approval"}, "the generated cases must cover both outcomes"
