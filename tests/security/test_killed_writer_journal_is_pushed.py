"""Invariant: a writer killed mid-run (kill -9, a job timeout, a cancelled
run) still gets every write it attempted into the durable record.

The writer's own ``finally`` cannot run after SIGKILL. Its journal is on disk
line by line before each call, and the workflows' ``if: always()`` step runs
``accessctl audit push-record``, which this test runs exactly as the step
does, on the checkout the killed process left behind. The kill lands while
the process waits inside a GCP ``setIamPolicy`` call (a loopback proxy holds
that request), so its attempt line has no result."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from conftest import PROJECT, git
from fakes.flaky_proxy import FlakyProxy
from jobs_world import push, world  # noqa: F401 (fixtures)

from tools.provision import durable
from tools.provision import record as records

RECORD = ".accessctl/apply-record.jsonl"
NEW = "requests/gcp/acme-data-prod/erin-storage-viewer.yaml"
ERIN = "user:erin@acme.example"


def _origin_ids(repo) -> set[str]:
    text = git(repo.root.parent / "origin.git", "show", f"{durable.LOCAL_REF}:{durable.FILE}")
    return {json.loads(line)["id"] for line in text.splitlines()}


def _kill_during_the_gcp_write(repo, sb) -> subprocess.CompletedProcess:
    proxy = FlakyProxy(sb.gcp.rest_url, lambda method, path, n: "hold" if path.endswith(":setIamPolicy")
                       else "forward").start()
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "ACCESSCTL_GCP_ENDPOINT": proxy.url}
    proc = subprocess.Popen([sys.executable, "-m", "tools", "apply"], cwd=repo.root, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proxy.reached.wait(120), "apply never reached the GCP write: " + (proc.stderr.read() if
                                                                                proc.poll() is not None else "")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        proxy.stop()
    assert proc.returncode == -signal.SIGKILL
    return proc


def test_the_always_step_pushes_a_killed_applys_journal(world, capsys):
    repo, sb = world
    before = _origin_ids(repo)
    erin = repo.read("requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml")
    repo.write(NEW, erin.replace("roles/bigquery.dataViewer", "roles/storage.objectViewer"))
    repo.commit("erin also reads the export bucket")
    push(repo)
    _kill_during_the_gcp_write(repo, sb)

    local = [json.loads(line) for line in repo.read(RECORD).splitlines()]
    killed = [o for o in local if o["id"] not in before]
    attempt = [o for o in killed if o["phase"] == "attempt" and o["grant"]["principal"] == ERIN]
    assert attempt, "the attempt was on disk before the call"
    assert not [o for o in killed if o["phase"] == "result" and o["grant"]["principal"] == ERIN]
    assert not {o["id"] for o in killed} & _origin_ids(repo), "the killed run published nothing itself"

    # The workflow's `if: always()` step, as a process on the same checkout.
    res = repo.run_process("audit", "push-record", "--format", "json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["pushed"] == len(killed)
    assert {o["id"] for o in killed} <= _origin_ids(repo), "every line of the killed run is on origin"
    # A second push (a re-run of the step) adds nothing.
    again = repo.run_process("audit", "push-record", "--format", "json")
    assert again.code == 0 and json.loads(again.out)["pushed"] == 0
    # Read back from origin alone (no local journal): the interrupted write is an outcome unknown.
    (repo.root / RECORD).unlink()
    unknown = [r for r in records.read_all(repo.root) if r.principal == ERIN and r.run == attempt[0]["run"]]
    assert unknown and all(r.error == records.UNKNOWN_OUTCOME for r in unknown)
    # And the next run converges.
    res = repo.run_process("apply", "--format", "json")
    assert res.code == 0, res.err
    assert any(m == ERIN for b in sb.gcp.policy("acme-data-prod")["bindings"]
               if b["role"] == "roles/storage.objectViewer" for m in b["members"])


def test_a_line_cut_off_by_the_kill_is_named_and_the_rest_still_pushed(world, capsys):
    repo, _ = world
    before = _origin_ids(repo)
    line = {"v": 1, "id": "run-9:apply:1", "time": "2026-11-30T00:00:00Z", "run": "run-9", "job": "apply",
            "action": "remove", "grant": {"provider": "aws", "target": "111111111111",
                                          "principal": "user:bob@acme.example", "kind": "aws-iam-group",
                                          "entitlement": "developers"},
            "reason": "no request on main grants this", "phase": "attempt", "result": None}
    with (repo.root / RECORD).open("a") as fh:
        fh.write(json.dumps(line) + "\n" + '{"v":1,"id":"run-9:apply:2","time":"2026-11-')  # no end
    res = repo.run_process("audit", "push-record")
    assert res.code == 1
    assert "not JSON" in res.err and "Traceback" not in res.err
    assert _origin_ids(repo) - before == {"run-9:apply:1"}
