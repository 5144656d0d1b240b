"""Two paths decide who attests a review entry: the review policy
(``access.rules.access_reviews``, the PR check) and the attesters apply
records (``access_reviews.attesters``), which decide whether a ``keep``
restarts the review period. They must agree: a keep the check accepted must
count, and one it refused must not. Compared on many generated approval
sets, for requests whose routing differs (a user, a group whose whole team
benefits, a team's own service account)."""
from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
from conftest import PROJECT

from tools.core import orgmodel
from tools.core.pr_context import ChangedFile, PRContext, Review
from tools.core.repo import Tree
from tools.policy.engines import RegorusEngine, load_bundle
from tools.provision import access_reviews as ar
from tools.request import load
from tools.provision.review_inputs import entry_input

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
HEAD = "h" * 40
FILES = ["requests/aws/acme-dev/bob-developer.yaml", "requests/aws/acme-prod/sre-readonly.yaml",
         "requests/gcp/acme-data-prod/etl-runner.yaml", "requests/aws/acme-staging/carol-poweruser.yaml"]


@pytest.fixture(scope="module")
def world():
    org = orgmodel.load(Tree(PROJECT))
    return org, RegorusEngine(load_bundle(Tree(PROJECT), org))


@pytest.mark.parametrize("path", FILES)
def test_policy_and_recorded_attesters_agree(world, path):
    org, engine = world
    tree = Tree(PROJECT)
    req = load.read(tree, path).request
    [grant, *_] = ar.grants_of(req, org)
    entry = ar.Entry(path, grant.principal, grant.kind, grant.entitlement, grant.target, "keep")
    team = ar._owning_team(req, org, org.target(grant.provider, org.target_by_id(grant.provider, grant.target).name))
    review = f"reviews/2026-11-22/{team}.yaml"
    people = sorted(p.github for p in org.people.values())
    rng = random.Random(path)
    outcomes = set()
    for _ in range(120):
        approvers = rng.sample(people, rng.randint(0, 4))
        pr = PRContext(7, "accessctl[bot]", HEAD, "base", (ChangedFile(review, "added"),),
                       tuple(Review(u, "APPROVED", HEAD) for u in approvers))
        doc = {"version": 1, "file": review, "now": "2026-11-22T12:00:00Z", "pr": pr.as_input(),
               "review": {"team": team, "status": "added", "problems": [],
                          "entries": [entry_input(entry, tree, org)]}}
        allowed = engine.decide(doc)["allow"]
        counted = bool(ar.attesters(approvers, req, org))
        assert allowed == counted, (path, approvers, allowed, counted)
        outcomes.add(allowed)
    assert outcomes == {True, False}, "the generated cases cover both answers"
