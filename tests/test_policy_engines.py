"""The two engines (embedded regorus, OPA server through opa-python-client)
and real OPA in-process must return the same decision for the same input."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fakes.opa_stub import OpaStub

from tools.core import orgmodel
from tools.core.errors import FindingError, UsageError
from tools.core.repo import Tree
from tools.policy.engines import OpaServerEngine, RegorusEngine, load_bundle, policy_id
from tools.policy.evaluate import evaluate_files

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"

# Requests that trip every rule, added next to the samples for parity checks.
EXTRA = {
    "requests/aws/acme-prod/mallory-admin.yaml": """apiVersion: accessctl/v1
kind: AccessRequest
principal: user:mallory@acme.example
requester: bob-acme
justification: Needs to fix production right now during the incident.
expires: "2027-06-01"
break_glass: true
grants:
  - {kind: aws-sso-assignment, account: acme-prod, permission_set: AdministratorAccess}
  - {kind: aws-sso-assignment, account: acme-prod, permission_set: DeployProd}
  - {kind: aws-sso-assignment, account: acme-prod, permission_set: ApproveDeploys}
  - {kind: aws-sso-assignment, account: acme-prod, permission_set: NotInCatalog}
""",
    "requests/aws/acme-dev/wild-role.yaml": """apiVersion: accessctl/v1
kind: ServiceAccount
provider: aws
name: wild-role
account: acme-dev
owner: nobody
purpose: Deploys anything from any repository of the organisation.
requester: alice-acme
expires: "2028-06-01"
user_managed_keys: true
oidc: {repository: "acme/*", ref: "*"}
""",
    "requests/gcp/acme-data-prod/public.yaml": """apiVersion: accessctl/v1
kind: AccessRequest
principal: group:outsiders
requester: dave-acme
justification: Share the dashboard tables with everybody who asks for it.
expires: "2026-12-01"
grants:
  - {kind: gcp-project-role, project: acme-data-prod, role: roles/bigquery.dataViewer}
""",
}


@pytest.fixture
def stub():
    s = OpaStub().start()
    yield s
    s.stop()


def with_extras(repo):
    for path, text in EXTRA.items():
        repo.write(path, text)
    repo.commit("extras")
    return repo


def inputs(repo):
    ev = evaluate_files(repo.root, now=NOW, keep_input=True)
    return ev, [d.input for d in ev.decisions if d.input is not None]


def test_regorus_and_real_opa_agree_on_every_request(repo):
    from opa_bindings import OpaEngine
    with_extras(repo)
    ev, docs = inputs(repo)
    assert len(docs) == 15
    opa = OpaEngine()
    for path, src in ev.bundle.modules.items():
        opa.add_policy(path, src)
    opa.add_data(ev.bundle.data)
    regorus = RegorusEngine(ev.bundle)
    denied = 0
    for doc in docs:
        mine = regorus.decide(doc)
        assert mine == opa.eval_document("access.decision", doc), doc["file"]
        denied += not mine["allow"]
    rules = {v["rule"] for d in ev.decisions for v in d.violations}
    assert denied == 3
    assert {"principal-unknown", "break-glass-too-long", "sod-conflict", "catalog-not-requestable",
            "identity-oidc-trust", "identity-user-managed-keys", "identity-owner-unknown",
            "identity-expiry-too-long", "expiry-too-long"} <= rules


def test_opa_server_engine_follows_the_rest_api_and_agrees(repo, stub):
    with_extras(repo)
    embedded = evaluate_files(repo.root, now=NOW)
    served = evaluate_files(repo.root, now=NOW, env={"ACCESSCTL_OPA_URL": stub.url})
    assert served.engine == "opa-server"
    assert [d.as_json() for d in served.decisions] == [d.as_json() for d in embedded.decisions]
    assert stub.errors == []
    modules = set(embedded.bundle.modules)
    assert set(stub.policies) == {policy_id(p) for p in modules}
    puts = [c for c in stub.calls if c.method == "PUT" and c.path.startswith("/v1/policies/")]
    assert len(puts) == len(modules) and all(c.content_type == "text/plain" for c in puts)
    assert [c.path for c in stub.calls if c.path.startswith("/v1/data/org")] == ["/v1/data/org"]
    queries = [c for c in stub.calls if c.method == "POST"]
    assert len(queries) == 15 and {c.path for c in queries} == {"/v1/data/access/decision"}
    assert stub.data["org"]["organization"]["security_team"] == "security"


def test_opa_server_engine_removes_our_stale_modules_only(repo, stub):
    stub.policies["accessctl/policies/access/rules/old/old.rego"] = "package access.rules.old\n\nx := 1\n"
    stub.policies["someone-else/keep.rego"] = "package other\n\ny := 2\n"
    org = orgmodel.load(Tree(repo.root))
    OpaServerEngine(load_bundle(Tree(repo.root), org), stub.url)
    assert "accessctl/policies/access/rules/old/old.rego" not in stub.policies
    assert "someone-else/keep.rego" in stub.policies
    assert [c.method for c in stub.calls if "old.rego" in c.path] == ["DELETE"]


def test_unreachable_opa_server_is_a_one_line_usage_error(repo):
    result = repo.run_process("evaluate", env={"ACCESSCTL_OPA_URL": "http://127.0.0.1:9"})
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "OPA server at http://127.0.0.1:9" in result.err and len(result.err.strip().splitlines()) == 1


def test_bad_opa_url_is_a_usage_error(repo):
    org = orgmodel.load(Tree(repo.root))
    with pytest.raises(UsageError, match="must look like"):
        OpaServerEngine(load_bundle(Tree(repo.root), org), "opa.internal:8181")


def test_a_policy_that_does_not_compile_names_file_and_line(repo):
    repo.write("policies/access/rules/broken/broken.rego", "package access.rules.broken\n\nx := 1 +\n")
    org = orgmodel.load(Tree(repo.root))
    with pytest.raises(FindingError, match=r"policies/access/rules/broken/broken.rego:\d+:\d+: expecting expression"):
        RegorusEngine(load_bundle(Tree(repo.root), org))


def test_policies_compile_once_per_run(repo, monkeypatch):
    import regorus
    made = []
    real = regorus.Engine
    monkeypatch.setattr(regorus, "Engine", lambda: made.append(1) or real())
    ev = evaluate_files(repo.root, now=NOW)
    assert len(ev.decisions) == 12 and len(made) == 1


# ---- every OPA error answer becomes one clear line --------------------------
# Bodies follow OPA's ErrorV1 (v1/server/types/types.go) as writer.ErrorAuto
# sends them (v1/server/writer/writer.go).
CONFLICT = {"code": "internal_error", "message": "error(s) occurred while evaluating query",
            "errors": [{"code": "eval_conflict_error", "message": "functions must not produce multiple outputs",
                        "location": {"file": "accessctl/policies/access/waivers/waivers.rego", "row": 12, "col": 1}}]}
COMPILE = {"code": "invalid_parameter", "message": "error(s) occurred while compiling module(s)",
           "errors": [{"code": "rego_parse_error", "message": "unexpected eof token",
                       "location": {"file": "accessctl/policies/access/lib/lib.rego", "row": 3, "col": 8}}]}


@pytest.mark.parametrize("answer, expected", [
    (("GET /v1/policies", 401, {"code": "unauthorized", "message": "missing or invalid credentials"}),
     "HTTP 401 unauthorized: missing or invalid credentials; the server requires a token"),
    (("PUT /v1/policies/", 400, COMPILE),
     "invalid_parameter: error(s) occurred while compiling module(s) "
     "(accessctl/policies/access/lib/lib.rego:3: rego_parse_error: unexpected eof token)"),
    (("PUT /v1/policies/", 502, b"<html><body>Bad Gateway</body></html>"), "not JSON"),
    (("PUT /v1/data/org", 404, {"code": "resource_not_found", "message": "storage_not_found_error: /org"}),
     "resource_not_found: storage_not_found_error: /org; is ACCESSCTL_OPA_URL the server's root"),
])
def test_opa_server_refusing_the_upload_is_a_clear_usage_error(repo, stub, answer, expected):
    where, status, body = answer
    stub.answers[where] = (status, body)
    org = orgmodel.load(Tree(repo.root))
    with pytest.raises(UsageError) as err:
        OpaServerEngine(load_bundle(Tree(repo.root), org), stub.url)
    assert str(err.value).startswith(f"OPA server at {stub.url}: ")
    assert expected in str(err.value)
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)


def test_opa_evaluation_error_denies_the_file_with_the_servers_reason(repo, stub):
    stub.answers["POST /v1/data/access/decision"] = (500, CONFLICT)
    ev = evaluate_files(repo.root, [CAROL], now=NOW, env={"ACCESSCTL_OPA_URL": stub.url})
    [d] = ev.decisions
    assert d.allow is False and [v["rule"] for v in d.violations] == ["policy-error"]
    message = d.violations[0]["message"]
    assert "could not evaluate " + CAROL in message
    assert "accessctl/policies/access/waivers/waivers.rego:12: eval_conflict_error" in message


def test_opa_undefined_decision_denies_the_file_and_says_so(repo, stub):
    stub.answers["POST /v1/data/access/decision"] = (200, {})
    ev = evaluate_files(repo.root, [CAROL], now=NOW, env={"ACCESSCTL_OPA_URL": stub.url})
    [d] = ev.decisions
    assert d.allow is False
    assert "data.access.decision is undefined" in d.violations[0]["message"]


def test_opa_query_refused_stops_the_run_with_exit_2(repo, stub):
    stub.answers["POST /v1/data/"] = (404, {"code": "resource_not_found", "message": "not found"})
    result = repo.run_process("evaluate", CAROL, env={"ACCESSCTL_OPA_URL": stub.url})
    assert result.code == 2 and "Traceback" not in result.err
    assert "resource_not_found: not found" in result.err


def test_opa_python_client_is_pinned_to_a_version_with_the_api_we_use():
    import tomllib
    from conftest import PROJECT
    deps = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "opa-python-client>=2.0.5" in deps
