"""Third-party integrations on GCP against the fake (IAM over gRPC, Secret
Manager over REST, both through the real client libraries): one
user-managed key, only in Secret Manager, rotated past rotate_days with a
grace period for the old key, foreign keys removed, keys and secret deleted
at removal."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from test_gcp_connector import P, gcp, org, server, target  # noqa: F401 (fixtures)

from tools.core.model import Action, Grant
from tools.provision.plan import diff

NAME = "pagerduty-export"
EMAIL = f"{NAME}@{P}.iam.gserviceaccount.com"
SECRET = f"accessctl-{NAME}"
START = datetime.now(timezone.utc).replace(microsecond=0)  # GCP stamps validAfterTime with the real clock


def integration() -> Grant:
    attrs = {"owner": "data", "purpose": "PagerDuty reads BigQuery job failures.", "use": "integration",
             "vendor": "PagerDuty", "rotate_days": "30", "key": "current"}
    return Grant("gcp", P, f"serviceAccount:{P}/{NAME}", "gcp-service-account", NAME,
                 datetime(2027, 5, 1, tzinfo=timezone.utc), f"requests/gcp/{P}/{NAME}.yaml",
                 tuple(sorted(attrs.items())))


@pytest.fixture
def fake(server, monkeypatch):  # noqa: F811
    server.reset()
    monkeypatch.setenv("ACCESSCTL_GCP_ENDPOINT", server.rest_url)
    monkeypatch.setenv("ACCESSCTL_NOW", START.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return server


def converge(gcp, target, want):  # noqa: F811
    changes = diff(want, gcp.read(target))
    results = gcp.apply(target, changes)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return changes


def _key_ids(fake):
    return {k.name.rpartition("/keys/")[2] for k in fake.sa_keys.get(EMAIL, [])}


def _in_use(fake):
    return fake.secrets[f"projects/{P}/secrets/{SECRET}"]["secret"]["annotations"]["key-id"]


def test_one_key_exists_and_it_is_only_in_secret_manager(fake, gcp, target):  # noqa: F811
    converge(gcp, target, [integration()])
    assert _key_ids(fake) == {_in_use(fake)}
    stored = fake.secret_value(P, SECRET)
    assert json.loads(stored)["private_key_id"] == _in_use(fake)  # the key file, whole
    secret = fake.secrets[f"projects/{P}/secrets/{SECRET}"]["secret"]
    assert secret["labels"] == {"managed-by": "accessctl", "use": "integration", "owner": "data"}
    assert secret["annotations"]["vendor"] == "PagerDuty"
    assert secret["annotations"]["request"] == f"requests/gcp/{P}/{NAME}.yaml"
    assert diff([integration()], gcp.read(target)) == []


def test_rotation_past_rotate_days_keeps_the_old_key_for_the_grace_period(fake, gcp, target, monkeypatch):  # noqa: F811
    converge(gcp, target, [integration()])
    first, first_value = _in_use(fake), fake.secret_value(P, SECRET)
    monkeypatch.setenv("ACCESSCTL_NOW", (START + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    changes = converge(gcp, target, [integration()])
    assert [(c.action, c.reason) for c in changes] == [(Action.UPDATE, "key 'due' → 'current'")]
    second = _in_use(fake)
    assert second != first and _key_ids(fake) == {first, second}
    assert fake.secret_value(P, SECRET) != first_value
    monkeypatch.setenv("ACCESSCTL_NOW", (START + timedelta(days=32, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    changes = converge(gcp, target, [integration()])
    assert [(c.action, c.grant.kind, c.grant.entitlement) for c in changes] == \
        [(Action.REMOVE, "gcp-service-account-key", first)]
    assert _key_ids(fake) == {second}


def test_a_key_the_pipeline_did_not_issue_is_removed(fake, gcp, target):  # noqa: F811
    converge(gcp, target, [integration()])
    planted = fake.create_key(EMAIL).name.rpartition("/keys/")[2]
    changes = converge(gcp, target, [integration()])
    assert [(c.action, c.grant.entitlement) for c in changes] == [(Action.REMOVE, planted)]
    assert _key_ids(fake) == {_in_use(fake)}


def test_removal_deletes_every_key_and_the_secret(fake, gcp, target):  # noqa: F811
    converge(gcp, target, [integration()])
    converge(gcp, target, [])
    assert fake.sa_keys.get(EMAIL, []) == []
    assert f"projects/{P}/secrets/{SECRET}" not in fake.secrets
    assert fake.service_account(P, NAME).disabled
