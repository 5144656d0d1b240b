"""Contract test: the Cloud Identity Groups fake answers in the shapes Google publishes.

Every response the fake served while ``teams apply`` converged the groups
(lookup, list, create, delete, and an error) is checked against the
discovery document google-api-python-client ships (``cloudidentity.v1.json``),
with the same checker as the GCP fake's contract test: an unknown field, a
wrong type or a wrong enum value fails. The connector itself builds its
client from that document, so a path or parameter Google does not have
fails there too.
"""
from __future__ import annotations

import json

from tests.test_gcp_contract import check, discovery
from tools.sandbox.cloudidentity import FakeCloudIdentity

CI = discovery("cloudidentity.v1")
METHODS = CI["resources"]["groups"]["methods"] | {
    f"memberships.{k}": v for k, v in CI["resources"]["groups"]["resources"]["memberships"]["methods"].items()}
# groups.lookup answers LookupGroupNameResponse; the rest name theirs in the document
RESPONSE = {"groups.lookup": "LookupGroupNameResponse"}
# the response of a done Operation is a Membership (create) or Empty (delete)
PAYLOAD = {"groups.memberships.create": "Membership"}


def test_every_response_matches_the_discovery_document(repo, monkeypatch, capsys):
    with FakeCloudIdentity() as fake:
        fake.journal = []
        for team in ("platform", "data", "payments", "security", "sre"):
            fake.add_group(f"{team}@acme.example", ["dave@acme.example"] if team == "platform" else [])
        monkeypatch.setenv("ACCESSCTL_CLOUDIDENTITY_ENDPOINT", fake.url)
        result = repo.run("teams", "apply", "--system", "google-groups", "--format", "json", capsys=capsys)
        assert result.code == 0 and json.loads(result.out)["failed"] == []
        del fake.groups["data@acme.example"]
        assert repo.run("teams", "plan", "--system", "google-groups", capsys=capsys).code == 1  # a 404 served
        served = {e["method"] for e in fake.journal}
        assert served == {"groups.lookup", "groups.memberships.list", "groups.memberships.create",
                          "groups.memberships.delete"}
        problems = []
        for e in fake.journal:
            method = METHODS[e["method"].removeprefix("groups.")]
            if e["status"] != 200:
                assert set(e["response"]) == {"error"} and set(e["response"]["error"]) == {"code", "message", "status"}
                continue
            name = RESPONSE.get(e["method"], method["response"]["$ref"])
            body = dict(e["response"])
            inner = body.get("response")
            if inner is not None:  # Operation.response is a free-form object: check what it holds
                body["response"] = {}
                kind = PAYLOAD.get(e["method"])
                if kind:
                    problems += check({k: v for k, v in inner.items() if k != "@type"}, {"$ref": kind},
                                      CI["schemas"], e["method"] + ".response")
            problems += check(body, {"$ref": name}, CI["schemas"], e["method"])
        assert problems == []
