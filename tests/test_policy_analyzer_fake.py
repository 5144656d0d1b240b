"""The GCP fake's Policy Analyzer activity query (tools/sandbox/gcp_activity.py)
answers in the shapes Google publishes and refuses what it documents as
unsupported; the connector reads it through google-api-python-client.

Contract: every answer served is checked against the discovery document
google-api-python-client ships (``policyanalyzer.v1.json``) with the same
checker as the other GCP contract tests; the ``activity`` struct (free-form
in the document) against the example output of
https://cloud.google.com/iam/docs/service-account-recent-usage.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import urlopen

import pytest

from connectors.gcp_usage import ActivityReader, read_last_used
from tests.test_gcp_contract import check, discovery
from tools.core.model import Grant, Target
from tools.sandbox.gcp import FakeGcp
from tools.sandbox.gcp_activity import full_name

P = "acme-data-prod"
PA = discovery("policyanalyzer.v1")
WHEN = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)  # 2026-11-19 in UTC-8
TARGET = Target("gcp", P, P, "prod", "data", "enforced")


@pytest.fixture
def fake():
    with FakeGcp([P, "other-project"]) as f:
        f.journal = []
        for name in ("etl-runner", "exporter", "idle"):
            f.seed_service_account(P, name)
        yield f


def email(name: str, project: str = P) -> str:
    return f"{name}@{project}.iam.gserviceaccount.com"


def get(fake: FakeGcp, path: str) -> tuple[int, dict]:
    try:
        with urlopen(fake.rest_url + path, timeout=10) as r:
            return r.status, json.loads(r.read())
    except HTTPError as err:
        return err.code, json.loads(err.read())


def query(activity: str = "serviceAccountLastAuthentication", project: str = P, location: str = "global",
          **params: str) -> str:
    q = "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return f"/v1/projects/{project}/locations/{location}/activityTypes/{activity}/activities:query" + (
        f"?{q}" if q else "")


def grant(name: str, kind: str = "gcp-service-account", use: str = "") -> Grant:
    return Grant("gcp", P, f"serviceAccount:{P}/{name}", kind, name, attributes=(("use", use),) if use else ())


def test_every_answer_matches_the_discovery_document_and_the_documented_example(fake):
    key = fake.create_key(email("exporter")).name.rpartition("/keys/")[2]
    fake.authenticate(email("etl-runner"), WHEN)
    fake.authenticate(email("exporter"), WHEN, key_id=key)
    reader = ActivityReader(fake.rest_url, page_size=1)
    found = read_last_used(reader, TARGET, [grant("etl-runner"), grant("exporter", use="integration"),
                                            grant("idle")])
    assert reader.calls == 2 + 1  # two accounts seen, a page each; one key
    assert {e["method"] for e in fake.journal} == {"activities.query"}
    method = PA["resources"]["projects"]["resources"]["locations"]["resources"]["activityTypes"][
        "resources"]["activities"]["methods"]["query"]
    problems = []
    for e in fake.journal:
        problems += check(e["response"], method["response"], PA["schemas"], e["path"])
        # query parameters the method has, or the standard ones every method takes (alt=json)
        assert set(e["request"]) <= set(method["parameters"]) | set(PA["parameters"])
        for a in e["response"].get("activities", []):
            act = a["activity"]
            assert set(a) == {"fullResourceName", "activityType", "observationPeriod", "activity"}
            inner = "serviceAccount" if a["activityType"] == "serviceAccountLastAuthentication" else "serviceAccountKey"
            assert set(act) == {"lastAuthenticatedTime", inner}
            assert set(act[inner]) == {"fullResourceName", "projectNumber", "serviceAccountId"}
            assert act[inner]["fullResourceName"] == a["fullResourceName"]
            # a day, reported at midnight US Pacific Standard Time (UTC-8)
            assert act["lastAuthenticatedTime"] == "2026-11-19T08:00:00Z"
    assert problems == []
    assert found[grant("etl-runner").key].text() == "2026-11-19"
    assert found[grant("exporter", use="integration").key].detail == f"key {key} last on 2026-11-19"
    assert found[grant("idle").key].text() == "never"


def test_only_the_documented_requests_are_answered(fake):
    fake.authenticate(email("etl-runner"), WHEN)
    assert get(fake, query(location="us-central1"))[0] == 400
    assert get(fake, query(activity="gcpResourcePolicyChange"))[0] == 400
    assert get(fake, query(project="nobody-knows"))[0] == 403
    assert get(fake, query(filter='activities.principal = "x"'))[0] == 400
    assert get(fake, query(pageToken="made-up"))[0] == 400
    status, body = get(fake, query(pageSize="5000"))  # "Max limit is 1000": served, at most 1000
    assert status == 200 and len(body["activities"]) == 1
    assert get(fake, query())[1]["activities"][0]["fullResourceName"] == full_name(email("etl-runner"))


def test_filters_select_accounts_by_full_resource_name(fake):
    for name in ("etl-runner", "exporter"):
        fake.authenticate(email(name), WHEN)
    one = f'activities.full_resource_name = "{full_name(email("exporter"))}"'
    assert [a["fullResourceName"] for a in get(fake, query(filter=one))[1]["activities"]] == [
        full_name(email("exporter"))]
    both = " OR ".join(f'activities.fullResourceName="{full_name(email(n))}"' for n in ("etl-runner", "exporter"))
    assert len(get(fake, query(filter=both))[1]["activities"]) == 2
    none = f'activities.full_resource_name = "{full_name(email("idle"))}"'
    assert get(fake, query(filter=none)) == (200, {})  # empty repeated fields are left out


def test_only_what_exists_can_authenticate_and_be_reported(fake):
    with pytest.raises(ValueError, match="no service account"):
        fake.authenticate(email("ghost"), WHEN)
    with pytest.raises(ValueError, match="has no key"):
        fake.authenticate(email("exporter"), WHEN, key_id="0" * 40)
    key = fake.create_key(email("exporter"))
    kid = key.name.rpartition("/keys/")[2]
    fake.authenticate(email("exporter"), WHEN, key_id=kid)
    assert len(get(fake, query("serviceAccountKeyLastAuthentication"))[1]["activities"]) == 1
    fake.sa_keys[email("exporter")].clear()  # the key deleted: it no longer shows
    assert get(fake, query("serviceAccountKeyLastAuthentication")) == (200, {})
    # another project's accounts are not in this project's answer
    fake.seed_service_account("other-project", "elsewhere")
    fake.authenticate(email("elsewhere", "other-project"), WHEN)
    assert [a["fullResourceName"] for a in get(fake, query())[1]["activities"]] == [full_name(email("exporter"))]


def test_the_connector_needs_no_key_query_without_an_integration(fake):
    fake.authenticate(email("etl-runner"), WHEN)
    reader = ActivityReader(fake.rest_url)
    bound = Grant("gcp", P, f"serviceAccount:{P}/etl-runner", "gcp-project-role", "roles/bigquery.dataEditor")
    person = Grant("gcp", P, "user:erin@acme.example", "gcp-project-role", "roles/bigquery.dataViewer")
    found = read_last_used(reader, TARGET, [grant("etl-runner"), bound, person])
    assert reader.calls == 1 and fake.calls["activities.query"] == 1
    assert found[bound.key].at == found[grant("etl-runner").key].at
    assert found[person.key].text() == "not reported"
    assert read_last_used(ActivityReader(fake.rest_url), TARGET, [person]) == {
        person.key: found[person.key]}  # people only: no call at all
    assert fake.calls["activities.query"] == 1
