"""API calls to grant 100 role bindings in one GCP project.

accessctl's connector batches every binding change of a project into one
read-modify-write (1 getIamPolicy + 1 setIamPolicy). Per-member IaC
resources (e.g. one ``google_project_iam_member`` each) do a get and a set
per binding, 200 calls for 100 bindings, each a chance to hit quota or an
etag conflict. Both run here against the loopback fake, in one process, and
the fake counts the calls it served.

Run: ``python bench/gcp_calls.py`` (or ``python -m bench.gcp_calls``).
"""
from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "acme-data-prod"
ROLES = ("roles/bigquery.dataViewer", "roles/bigquery.dataEditor", "roles/bigquery.admin")


def _grants(n: int) -> list[Any]:
    from tools.core.model import Grant
    return [Grant("gcp", PROJECT, f"user:bench{i:03d}@acme.example", "gcp-project-role", ROLES[i % 3],
                  datetime(2027, 1, 31, tzinfo=timezone.utc), f"requests/gcp/{PROJECT}/bench{i:03d}.yaml")
            for i in range(n)]


def _connector_run(fake: Any, org: Any, n: int) -> tuple[int, float]:
    from connectors.gcp import GcpConnector
    from tools.core.model import Action, Change
    fake.reset()
    conn = GcpConnector(org, endpoint=fake.rest_url, iam_endpoint=fake.grpc_target)
    target = org.target("gcp", PROJECT)
    start = time.perf_counter()
    results = conn.apply(target, [Change(Action.ADD, g) for g in _grants(n)])
    elapsed = time.perf_counter() - start
    conn.close()
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return fake.calls["getIamPolicy"] + fake.calls["setIamPolicy"], elapsed


def _naive_run(fake: Any, org: Any, n: int) -> tuple[int, float]:
    """One read-modify-write per binding, the way per-member resources apply."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import resourcemanager_v3
    from google.iam.v1 import policy_pb2

    from connectors.gcp_policy import Members, expiry_condition
    fake.reset()
    client = resourcemanager_v3.ProjectsClient(credentials=AnonymousCredentials(), transport="rest",
                                               client_options=ClientOptions(api_endpoint=fake.rest_url))
    members = Members(org)
    resource = f"projects/{PROJECT}"
    start = time.perf_counter()
    for g in _grants(n):
        policy = client.get_iam_policy(request={"resource": resource,
                                                "options": {"requested_policy_version": 3}})
        cond = expiry_condition(g.request, g.expires)
        binding = policy_pb2.Binding(role=g.entitlement, members=[members.to_member(g.principal)])
        binding.condition.expression, binding.condition.title = cond.expression, cond.title
        binding.condition.description = cond.description
        policy.bindings.append(binding)
        policy.version = 3
        client.set_iam_policy(request={"resource": resource, "policy": policy})
    elapsed = time.perf_counter() - start
    client.transport.close()
    return fake.calls["getIamPolicy"] + fake.calls["setIamPolicy"], elapsed


def main(n: int = 100) -> dict[str, Any]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tools.core import orgmodel
    from tools.core.repo import Tree
    from tools.sandbox.gcp import FakeGcp

    org = orgmodel.load(Tree(ROOT))
    with FakeGcp([PROJECT]) as fake:
        conn_calls, conn_time = _connector_run(fake, org, n)
        naive_calls, naive_time = _naive_run(fake, org, n)
    result = {"bindings": n, "connector_calls": conn_calls, "naive_calls": naive_calls,
              "connector_seconds": round(conn_time, 4), "naive_seconds": round(naive_time, 4),
              "time_ratio": round(naive_time / conn_time, 1) if conn_time else None}
    markdown = "\n".join([
        f"| {n} bindings, one project | API calls | wall time (s) |",
        "| --- | ---: | ---: |",
        f"| accessctl connector (1 read-modify-write) | {conn_calls} | {conn_time:.3f} |",
        f"| per-binding get+set baseline | {naive_calls} | {naive_time:.3f} |",
        "",
        f"Baseline / connector: {naive_calls / max(conn_calls, 1):.0f}x the calls, "
        f"{result['time_ratio']}x the wall time (loopback, so real latency widens the gap)."])
    print(markdown)
    return {"title": "GCP IAM calls per apply", "markdown": markdown, "figures": result}


if __name__ == "__main__":
    main()
