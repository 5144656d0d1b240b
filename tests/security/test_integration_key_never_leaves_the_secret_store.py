"""Invariant 8's one exception: a third-party integration's key exists only in
the secret store. Through apply, reconcile (check and fix), the daily expire
job's rotation (clock moved past rotate_days and past the grace period) and
the integration's expiry, every secret access key the pipeline ever issued is
collected from Secrets Manager, then looked for in everything the pipeline
printed or wrote: stdout and stderr of every command (text and JSON), the
GitHub fake's whole state (issues, PRs, comments, files pushed), the
repository's files (the journal), and every object of the durable record
branch pushed to origin. None may contain it."""
from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone

from conftest import git
from jobs_world import sandbox, world  # noqa: F401

from tools.sandbox.github import FakeGitHub

PROD = "333333333333"
SECRET = "accessctl/acme-prod/pagerduty-sync"


def _secret(sb) -> dict | None:
    sm = sb.aws.client("secretsmanager", PROD)
    try:
        return json.loads(sm.get_secret_value(SecretId=SECRET)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        return None


def test_no_secret_value_is_ever_printed_or_written_outside_the_secret_store(world, capsys, monkeypatch):
    repo, sb = world
    gh = FakeGitHub().start()
    try:
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", gh.full_name)
        monkeypatch.setenv("GITHUB_TOKEN", "x")
        seen: set[str] = set()
        printed: list[str] = []

        def run(*args: str) -> None:
            for fmt in ("text", "json"):
                capsys.readouterr()
                res = repo.run(*args, "--format", fmt, capsys=capsys)
                printed.extend([res.out, res.err])
                if fmt == "text" and args[0] in ("expire",):
                    break  # a writer runs once per clock step
            value = _secret(sb)
            if value:
                seen.add(value["SecretAccessKey"])

        first = _secret(sb)
        assert first, "apply on main issued the sample integration's key into Secrets Manager"
        seen.add(first["SecretAccessKey"])
        run("plan")
        run("reconcile", "--mode", "check")
        sb.aws.client("iam", PROD).create_access_key(UserName="pagerduty-sync")  # a key nobody asked for
        run("reconcile", "--mode", "fix")
        now = datetime.now(timezone.utc)
        for days in (31, 33, 62, 64):  # rotate, drop the old key after its grace, again
            monkeypatch.setenv("ACCESSCTL_NOW", (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"))
            run("expire")
            run("reconcile", "--mode", "check")
            run("audit", "who-has", "--principal", "serviceAccount:acme-prod/pagerduty-sync")
        assert len(seen) >= 3, "the key was rotated at least twice"
        monkeypatch.setenv("ACCESSCTL_NOW", "2027-02-01T00:00:00Z")  # the integration expires
        run("expire")
        assert _secret(sb) is None, "expiry deleted the secret"
        assert not sb.aws.client("iam", PROD).list_users(PathPrefix="/accessctl/")["Users"]

        written = [json.dumps(vars(gh), default=repr)]
        for path in repo.root.rglob("*"):
            if path.is_file() and ".git" not in path.parts:
                written.append(path.read_text(errors="replace"))
        origin = repo.root.parent / "origin.git"
        written.append(subprocess.run(["git", "-C", str(origin), "log", "--all", "-p", "--format=%H %s%n%b"],
                                      capture_output=True, text=True).stdout)
        written.append(git(repo.root, "log", "--all", "-p"))
        haystack = "\n".join(printed + written)
        assert "pagerduty-sync" in haystack, "the scan looked at the runs that handled the integration"
        for value in seen:
            assert value not in haystack, "a secret access key left the secret store"
    finally:
        gh.stop()
