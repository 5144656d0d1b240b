"""`accessctl sandbox up/down` as a user runs it: a background process whose
exports point the real CLI at loopback clouds, and nothing left running."""
from __future__ import annotations

import json
import os
import re


def _env(exports: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(\S+)$", exports, re.M))


def test_sandbox_up_plan_apply_down(repo):
    up = repo.run_process("sandbox", "up")
    assert up.code == 0, up.err
    try:
        env = _env(up.out)
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert env["ACCESSCTL_GCP_ENDPOINT"].startswith("http://127.0.0.1:")
        again = repo.run_process("sandbox", "up")
        assert _env(again.out) == env, "a second `up` reuses the running sandbox"

        plan = repo.run_process("plan", "--format", "json", env=env)
        assert plan.code == 0, plan.err
        assert json.loads(plan.out)["summary"]["add"] > 0
        apply = repo.run_process("apply", "--format", "json", env=env)
        assert apply.code == 0, apply.out + apply.err
        second = repo.run_process("plan", "--format", "json", env=env)
        assert json.loads(second.out)["changes"] == [], "state is kept between commands"
    finally:
        state = json.loads((repo.root / ".accessctl/sandbox.json").read_text())
        down = repo.run_process("sandbox", "down")
    assert down.code == 0
    assert not (repo.root / ".accessctl/sandbox.json").exists()
    try:
        os.kill(state["pid"], 0)
        alive = True
    except OSError:
        alive = False
    assert not alive, "sandbox down leaves nothing running"


def test_sandbox_status_as_json_when_not_running(repo):
    res = repo.run_process("sandbox", "status", "--format", "json")
    assert res.code == 1
    assert json.loads(res.out) == {"running": False, "pid": None, "env": {}}
