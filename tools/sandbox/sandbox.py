"""The loopback sandbox: moto for AWS, the GCP fake and the Cloud Identity Groups fake, seeded from the org model.

Used three ways: in-process by tests and `accessctl demo`, and as a
background process by `accessctl sandbox up` (``python -m tools.sandbox.sandbox``),
which keeps the emulators' state until `accessctl sandbox down`.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tools.core.orgmodel import OrgModel, load
from tools.core.repo import Tree
from tools.sandbox.aws import FakeAws, Seeded
from tools.sandbox.cloudidentity import FakeCloudIdentity
from tools.sandbox.gcp import FakeGcp

# What an organisation already has in GCP before adopting the pipeline: the
# pipeline must leave all of it byte-for-byte unchanged.
# The platform's agent runtime in each project (the account a GCP agent's
# impersonated_by names): IAM refuses a binding for a service account that
# does not exist (https://cloud.google.com/iam/docs/service-account-permissions),
# as AWS refuses a trust policy naming a missing role (tools/sandbox/aws.py).
AGENT_RUNTIME_ACCOUNT = "agent-runtime"
UNMANAGED_GCP = [
    {"role": "roles/editor", "members": ["serviceAccount:123456789-compute@developer.gserviceaccount.com"]},
    {"role": "roles/logging.viewer", "members": ["group:sre@acme.example"],
     "condition": {"title": "business-hours", "expression": "request.time.getHours('UTC') < 18"}},
]


@dataclass
class Sandbox:
    org: OrgModel
    aws: FakeAws = field(default_factory=FakeAws)
    gcp: FakeGcp = field(default_factory=FakeGcp)
    groups: FakeCloudIdentity = field(default_factory=FakeCloudIdentity)
    seeded: Seeded | None = None

    def start(self) -> "Sandbox":
        self.aws.start()
        self.gcp.start()
        self.groups.start()
        return self.reseed()

    def reseed(self) -> "Sandbox":
        """Forget everything, then seed from the org model again."""
        self.aws.reset()
        self.gcp.reset()
        self.groups.reset()
        self.seeded = self.aws.seed(self.org)
        # Google Groups as teams.yaml lists them (like the Identity Center groups seeded above)
        for team in self.org.teams.values():
            if team.group_email:
                self.groups.add_group(team.group_email, [
                    p.email for p in (self.org.people_by_login.get(m.lower()) for m in team.members) if p])
        for target in self.org.targets.values():
            if target.provider == "gcp":
                self.gcp.add_project(target.id, [dict(b) for b in UNMANAGED_GCP])
                self.gcp.seed_service_account(target.id, AGENT_RUNTIME_ACCOUNT,
                                              "agent runtime (seeded by tools/sandbox/sandbox.py)")
        return self

    def stop(self) -> None:
        self.groups.stop()
        self.gcp.stop()
        self.aws.stop()

    def env(self) -> dict[str, str]:
        return {**self.aws.env(), **self.gcp.env(), **self.groups.env()}

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    """Background server for `accessctl sandbox up`: write the endpoints, wait for SIGTERM."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--state", required=True)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sandbox = Sandbox(load(Tree(Path(args.repo)))).start()
    state = Path(args.state)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "env": sandbox.env()}))
    tmp.replace(state)  # atomic: `sandbox up` waits for this file
    try:
        stop.wait()
    finally:
        sandbox.stop()
        state.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
