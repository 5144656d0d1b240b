"""Contract test: the GCP fake speaks the shapes Google publishes.

Every request and response the fake exchanged while the connector ran a
full cycle (create accounts, bind, revoke, disable, list, delete) is checked
against the discovery documents that google-api-python-client ships:
Cloud Resource Manager v3 for the project IAM policy, IAM v1 for service
accounts (the fake serves IAM over gRPC; each message is compared in its
JSON mapping, which is what the REST API carries). An unknown field, a wrong
type or a method Google does not have fails the test.
"""
from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import googleapiclient
import pytest

from connectors.gcp import GcpConnector
from tools.core import orgmodel
from tools.core.model import Action, Change, Grant
from tools.core.repo import Tree
from tools.sandbox.gcp import FakeGcp

DOCS = Path(os.path.dirname(googleapiclient.__file__)) / "discovery_cache" / "documents"
ROOT = Path(__file__).resolve().parent.parent
P = "acme-data-prod"
EXPIRES = datetime(2027, 1, 1, tzinfo=timezone.utc)
# The fake's gRPC methods and the discovery methods they are (IAM v1).
IAM_METHODS = {"CreateServiceAccount": "create", "GetServiceAccount": "get", "ListServiceAccounts": "list",
               "PatchServiceAccount": "patch", "DisableServiceAccount": "disable",
               "EnableServiceAccount": "enable", "DeleteServiceAccount": "delete"}


def discovery(name: str) -> dict[str, Any]:
    return json.loads((DOCS / f"{name}.json").read_text())


RM, IAM = discovery("cloudresourcemanager.v3"), discovery("iam.v1")


def check(value: Any, schema: dict, schemas: dict, where: str = "$") -> list[str]:
    """Problems of ``value`` against a discovery-document schema (types, $ref,
    enums, formats; properties not in the schema are problems)."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        out = []
        for key, item in value.items():
            sub = props.get(key) or extra
            out += check(item, sub, schemas, f"{where}.{key}") if sub else [f"{where}.{key}: not in the schema"]
        return out
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [p for i, item in enumerate(value) for p in check(item, schema["items"], schemas, f"{where}[{i}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {value!r}"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{where}: {value!r} is not one of {schema['enum']}"]
        if schema.get("format") == "byte":
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                return [f"{where}: {value!r} is not base64"]
        if schema.get("format") in ("int64", "uint64") and not value.lstrip("-").isdigit():
            return [f"{where}: {value!r} is not an int64 string"]
        return []
    if kind == "integer":
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: expected an integer"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    return []  # "any"


def method_schema(doc: dict, method: dict) -> dict:
    """One object schema for a gRPC request: the method's path/query parameters
    plus its body's fields (how the gRPC message flattens them)."""
    props = {name: {k: v for k, v in p.items() if k in ("type", "format", "enum")}
             for name, p in method.get("parameters", {}).items()}
    if "request" in method:
        props.update(doc["schemas"][method["request"]["$ref"]].get("properties", {}))
    return {"type": "object", "properties": props}


@pytest.fixture(scope="module")
def journal():
    """One full cycle of the connector against the fake, every exchange recorded."""
    org = orgmodel.load(Tree(ROOT))
    target = org.target("gcp", P)
    with FakeGcp([P], propagation=1) as fake:
        fake.journal = []
        gcp = GcpConnector(org, endpoint=fake.rest_url, iam_endpoint=fake.grpc_target,
                           backoff_initial=0.001, backoff_max=0.01, page_size=1)
        sa = Grant("gcp", P, f"serviceAccount:{P}/nightly-loader", "gcp-service-account", "nightly-loader",
                   EXPIRES, f"requests/gcp/{P}/nightly-loader.yaml",
                   (("owner", "data"), ("purpose", "Loads the nightly exports.")))
        bind = Grant("gcp", P, sa.principal, "gcp-project-role", "roles/bigquery.dataViewer", EXPIRES, sa.request)
        user = replace(bind, principal="user:erin@acme.example", request=f"requests/gcp/{P}/erin.yaml")
        fake.seed_service_account(P, "other-account")
        try:
            assert all(r.ok for r in gcp.apply(target, [Change(Action.ADD, sa), Change(Action.ADD, bind),
                                                        Change(Action.ADD, user)]))
            gcp.read(target)
            newer = replace(sa, attributes=(("owner", "data"), ("purpose", "Loads exports.")))
            assert all(r.ok for r in gcp.apply(target, [Change(Action.UPDATE, newer, sa)]))
            assert all(r.ok for r in gcp.apply(target, [Change(Action.REMOVE, bind), Change(Action.REMOVE, sa, sa)]))
            assert all(r.ok for r in gcp.apply(target, [Change(Action.UPDATE, newer, sa)]))  # enable again
            gcp.apply(target, [Change(Action.REMOVE, newer, newer)])
            gcp.delete_service_account(P, "nightly-loader")
            gcp.read(target)
        finally:
            gcp.close()
        yield fake.journal


def test_every_fake_method_is_a_published_method(journal):
    rm = RM["resources"]["projects"]["methods"]
    iam = IAM["resources"]["projects"]["resources"]["serviceAccounts"]["methods"]
    seen = {e["method"] for e in journal}
    assert {"getIamPolicy", "setIamPolicy", "CreateServiceAccount", "ListServiceAccounts",
            "DeleteServiceAccount"} <= seen
    for entry in journal:
        if entry["http"] == "grpc":
            assert IAM_METHODS[entry["method"]] in iam
            continue
        method = rm[entry["method"]]
        assert entry["http"] == method["httpMethod"]
        resource = entry["path"].removeprefix("/v3/").rsplit(":", 1)[0]
        assert re.fullmatch(method["parameters"]["resource"]["pattern"], resource), entry["path"]
        assert entry["path"] == "/" + method["flatPath"].replace("{projectsId}", resource.split("/")[1])


def test_resource_manager_bodies_match_the_discovery_document(journal):
    rm = RM["resources"]["projects"]["methods"]
    exchanges = [e for e in journal if e["http"] != "grpc"]
    assert exchanges
    for entry in exchanges:
        method = rm[entry["method"]]
        assert check(entry["request"], method["request"], RM["schemas"]) == [], entry
        assert check(entry["response"], method["response"], RM["schemas"]) == [], entry


def test_iam_messages_match_the_discovery_document(journal):
    iam = IAM["resources"]["projects"]["resources"]["serviceAccounts"]["methods"]
    exchanges = [e for e in journal if e["http"] == "grpc"]
    assert {e["method"] for e in exchanges} >= {"CreateServiceAccount", "PatchServiceAccount",
                                                "DisableServiceAccount", "EnableServiceAccount"}
    for entry in exchanges:
        method = iam[IAM_METHODS[entry["method"]]]
        assert check(entry["request"], method_schema(IAM, method), IAM["schemas"]) == [], entry
        response = method.get("response", {"type": "object", "properties": {}})
        assert check(entry["response"], response, IAM["schemas"]) == [], entry


def test_the_checker_catches_a_shape_google_does_not_publish():
    """The contract test can fail: a field Google does not have, a wrong type."""
    policy = {"version": 3, "etag": "BwWWja0YfJA=", "bindings": [{"role": "r", "members": ["user:a@b"]}]}
    assert check(policy, {"$ref": "Policy"}, RM["schemas"]) == []
    assert check({**policy, "owner": "x"}, {"$ref": "Policy"}, RM["schemas"]) == ["$.owner: not in the schema"]
    assert check({**policy, "version": "3"}, {"$ref": "Policy"}, RM["schemas"]) == ["$.version: expected an integer"]
    assert check({"email": 5}, {"$ref": "ServiceAccount"}, IAM["schemas"]) == ["$.email: expected a string, got 5"]
