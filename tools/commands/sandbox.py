"""``accessctl sandbox up|down|status``: loopback AWS, GCP and Google Groups for trying things out.

``eval "$(accessctl sandbox up)"`` starts the emulators in the background,
seeded from this repository's org model, and points the shell at them.
The emulators live in ``tools/sandbox`` and need the ``sandbox`` extra
(``pip install 'accessctl[sandbox]'``): moto's server and grpcio.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tools.core.errors import EXIT_OK, UsageError
from tools.core.output import emit_json

STATE = ".accessctl/sandbox.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["up", "down", "status"])


def require_extra() -> None:
    """The emulators' own dependencies come with the ``sandbox`` extra only."""
    missing = [m for m in ("moto", "grpc", "werkzeug") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"the sandbox needs {', '.join(missing)}: pip install 'accessctl[sandbox]'")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _state(root: Path) -> dict | None:
    path = root / STATE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    return state if _alive(state["pid"]) else None


def exports(env: dict[str, str]) -> str:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))


def _emit(ctx, state: dict | None, shell: str) -> None:
    """Shell lines for `eval`, or with --format json the same as an object."""
    if ctx.format == "json":
        emit_json({"running": state is not None, "pid": state and state["pid"],
                   "env": state["env"] if state else {}})
    else:
        sys.stdout.write(shell)


def run(args, ctx) -> int:
    root: Path = ctx.root
    state = _state(root)
    if args.action == "status":
        print(f"sandbox running (pid {state['pid']})" if state else "sandbox not running", file=sys.stderr)
        _emit(ctx, state, exports(state["env"]) if state else "")
        return EXIT_OK if state else 1
    if args.action == "down":
        if state:
            os.kill(state["pid"], signal.SIGTERM)
            for _ in range(100):
                if not _alive(state["pid"]):
                    break
                time.sleep(0.05)
        (root / STATE).unlink(missing_ok=True)
        print("sandbox stopped", file=sys.stderr)
        _emit(ctx, None, "unset AWS_ENDPOINT_URL ACCESSCTL_GCP_ENDPOINT ACCESSCTL_GCP_IAM_ENDPOINT "
                         "ACCESSCTL_CLOUDIDENTITY_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN\n")
        return EXIT_OK
    if state is None:
        (root / STATE).parent.mkdir(parents=True, exist_ok=True)
        (root / STATE).unlink(missing_ok=True)
        log = open(root / ".accessctl/sandbox.log", "ab")
        require_extra()
        proc = subprocess.Popen([sys.executable, "-m", "tools.sandbox.sandbox", "--repo", str(root),
                                 "--state", str(root / STATE)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True)
        for _ in range(600):
            state = _state(root)
            if state or proc.poll() is not None:
                break
            time.sleep(0.05)
        if state is None:
            raise UsageError(f"the sandbox did not start; see {root / '.accessctl/sandbox.log'}")
        print(f"sandbox started (pid {state['pid']}); stop it with: eval \"$(accessctl sandbox down)\"",
              file=sys.stderr)
    _emit(ctx, state, exports(state["env"]))
    return EXIT_OK
