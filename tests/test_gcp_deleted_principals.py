"""Reconcile on the loopback clouds: a deleted service account's remains in a
managed role (``deleted:serviceAccount:…?uid=…``, what GCP writes back after a
deletion) are not unexplained access, so they are neither reported as drift
nor "fixed" by a revocation that GCP would refuse to parse as a grant."""
from __future__ import annotations

import json

from conftest import make_repo


P = "acme-data-prod"


def test_deleted_account_remains_are_not_drift(sandbox, tmp_path, monkeypatch, capsys):
    sandbox.reseed()
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    repo = make_repo(tmp_path / "access")
    assert repo.run("apply").code == 0
    capsys.readouterr()
    # someone made and bound an account by hand, then deleted it in the console
    sandbox.gcp.seed_service_account(P, "hand-made")
    policy = sandbox.gcp.policy(P)
    policy["bindings"].append({"role": "roles/bigquery.dataViewer",
                               "members": [f"serviceAccount:hand-made@{P}.iam.gserviceaccount.com"]})
    sandbox.gcp.seed_policy(P, policy["bindings"])
    sandbox.gcp.delete_service_account(P, "hand-made")
    assert any(m.startswith("deleted:serviceAccount:hand-made@")
               for b in sandbox.gcp.policy(P)["bindings"] for m in b["members"])

    res = repo.run("reconcile", "--format", "json", capsys=capsys)
    assert res.code == 0, res.out + res.err
    assert json.loads(res.out)["drift"] == []
