"""A dropped connection is retried like a 503, and a write whose answer was
lost is not made twice: the retry restarts the read-modify-write from the
read, finds the binding there, and writes nothing.

Real google-cloud-resource-manager (REST over ``requests``) against the GCP
fake, through a loopback proxy that resets chosen connections
(tests/fakes/flaky_proxy.py)."""
from __future__ import annotations

import json

import pytest
from conftest import make_repo
from fakes.flaky_proxy import FlakyProxy


NEW = "requests/gcp/acme-data-prod/erin-storage-viewer.yaml"
ROLE = "roles/storage.objectViewer"
MEMBER = "user:erin@acme.example"


@pytest.fixture
def world(sandbox, tmp_path, monkeypatch):
    sandbox.reseed()
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    repo = make_repo(tmp_path / "access")
    assert repo.run("apply").code == 0
    erin = repo.read("requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml")
    repo.write(NEW, erin.replace("roles/bigquery.dataViewer", ROLE))
    repo.commit("erin also reads the export bucket")
    return repo, sandbox


def _members(sb, role=ROLE) -> list[str]:
    return [m for b in sb.gcp.policy("acme-data-prod")["bindings"] if b["role"] == role for m in b["members"]]


def _through(world, monkeypatch, plan) -> FlakyProxy:
    _, sb = world
    proxy = FlakyProxy(sb.gcp.rest_url, plan).start()
    monkeypatch.setenv("ACCESSCTL_GCP_ENDPOINT", proxy.url)
    return proxy


def test_a_write_whose_answer_was_cut_off_converges_without_a_second_write(world, monkeypatch, capsys):
    repo, sb = world
    # The first setIamPolicy reaches GCP and is applied; the reply is lost to a reset.
    proxy = _through(world, monkeypatch, lambda method, path, n: "reset-after"
                     if path.endswith(":setIamPolicy") and n == 1 else "forward")
    try:
        res = repo.run("apply", "--format", "json", capsys=capsys)
    finally:
        proxy.stop()
    assert res.code == 0, res.out + res.err
    assert _members(sb).count(MEMBER) == 1
    assert proxy.count(":setIamPolicy") == 1, "the retry read the policy, found the binding and wrote nothing"
    assert proxy.count(":setIamPolicy", "reset-after") == 1, "the connection really was dropped"
    assert proxy.count(":getIamPolicy") >= 2, "the cycle restarted from the read"
    [result] = [r for r in json.loads(res.out)["results"] if r["principal"] == MEMBER]
    assert result["ok"] and result["action"] == "add"
    # And the next run has nothing left to do.
    res = repo.run("plan", "--format", "json", capsys=capsys)
    assert json.loads(res.out)["changes"] == []


def test_resets_on_the_read_and_before_the_write_are_retried(world, monkeypatch, capsys):
    repo, sb = world

    def plan(method, path, n):
        if path.endswith(":getIamPolicy") and n == 1:
            return "reset"  # the planning read
        if path.endswith(":setIamPolicy") and n <= 2:
            return "reset"  # twice before the write reaches GCP
        return "forward"
    proxy = _through(world, monkeypatch, plan)
    try:
        res = repo.run("apply", "--format", "json", capsys=capsys)
    finally:
        proxy.stop()
    assert res.code == 0, res.out + res.err
    assert _members(sb).count(MEMBER) == 1
    assert proxy.count(":setIamPolicy", "reset") == 2
    assert [s.status for s in proxy.seen if s.path.endswith(":setIamPolicy") and s.status] == [200], \
        "exactly one write reached GCP"


def test_resets_that_never_stop_fail_the_target_not_the_run(world, monkeypatch, capsys):
    """Retries are bounded: a connection that always drops is named in the output and exits 1; the
    other cloud's changes still go ahead."""
    repo, sb = world
    aws_req = "requests/aws/acme-dev/heidi-developer.yaml"
    repo.write(aws_req, repo.read("requests/aws/acme-dev/bob-developer.yaml").replace("bob", "heidi"))
    repo.commit("heidi too")
    proxy = _through(world, monkeypatch, lambda method, path, n: "reset" if path.endswith(":setIamPolicy")
                     else "forward")
    try:
        res = repo.run("apply", "--format", "json", capsys=capsys)
    finally:
        proxy.stop()
    assert res.code == 1
    doc = json.loads(res.out)
    failed = [r for r in doc["results"] if not r["ok"]]
    assert failed and all(r["principal"] == MEMBER for r in failed)
    assert any("reset" in (r["error"] or "").lower() or "connection" in (r["error"] or "").lower() for r in failed)
    assert _members(sb).count(MEMBER) == 0
    iam = sb.aws.client("iam", "111111111111")
    assert "heidi@acme.example" in {u["UserName"] for u in iam.get_group(GroupName="developers")["Users"]}
