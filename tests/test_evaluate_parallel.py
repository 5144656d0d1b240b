"""Whole-state evaluation on both cores gives exactly the decisions of one
process: same files, same order, same violations, waivers, approvals and
inputs. The pool's threshold is lowered so the sample repository's files,
plus generated ones that the policy denies for different reasons, are
spread over workers."""
from __future__ import annotations

import random

from conftest import NOW, make_repo

from tools.core.expiry import parse_expiry
from tools.policy import parallel
from tools.policy.evaluate import evaluate_files

TEMPLATE = """apiVersion: accessctl/v1
kind: AccessRequest
principal: {principal}
requester: {requester}
justification: Generated to spread decisions over several worker processes.
{ticket}expires: "{expires}"
grants:
  - kind: aws-sso-assignment
    account: {account}
    permission_set: {role}
"""


def test_workers_decide_exactly_as_one_process(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "access")
    rng = random.Random(3)
    for i in range(60):
        account = rng.choice(["acme-dev", "acme-staging", "acme-prod"])
        repo.write(f"requests/aws/{account}/gen-{i}.yaml", TEMPLATE.format(
            principal=rng.choice(["user:carol@acme.example", "user:bob@acme.example", "group:sre",
                                  "user:nobody@acme.example", "group:platform"]),
            requester=rng.choice(["carol-acme", "bob-acme", "niaj-acme"]),
            ticket=rng.choice(["", "ticket: OPS-12\n"]),
            expires=rng.choice(["2026-12-01", "2027-06-01", "2026-11-23T10:00:00Z", "2026-11-01"]),
            account=account, role=rng.choice(["ReadOnly", "PowerUser", "AdministratorAccess", "DeployProd"])))
    repo.commit("generated")
    monkeypatch.setattr(parallel, "MIN_PER_WORKER", 5)
    now = parse_expiry(NOW)
    one = evaluate_files(repo.root, None, now=now, keep_input=True, workers=1)
    two = evaluate_files(repo.root, None, now=now, keep_input=True, workers=2)
    assert parallel.worker_count(len(two.decisions), 2) == 2, "the pool really ran"
    assert [(d.as_json(), d.input, d.error) for d in one.decisions] == \
        [(d.as_json(), d.input, d.error) for d in two.decisions]
    outcomes = {d.allow for d in one.decisions}
    assert outcomes == {True, False}
    assert len({v["rule"] for d in one.decisions for v in d.violations}) >= 3
