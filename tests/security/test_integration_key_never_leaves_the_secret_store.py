"""Invariant 8's one exception: a third-party integration's key exists only in
the secret store. Through apply, reconcile (report and fix), the daily expire
job's rotation (clock moved past rotate_days and past the grace period) and
the integration's expiry, every secret access key the pipeline ever issued is
collected from Secrets Manager, then looked for in everything the pipeline
printed or wrote: stdout and stderr of every command (text and JSON), the
GitHub fake's whole state (issues, PRs, comments, files pushed), the
repository's files (the journal), and every object of the durable record
branch pushed to origin. None may contain it.

The GCP half does the same for the sample integration on GCP
(requests/gcp/acme-data-prod/fivetran-loader.yaml): every key file the IAM
fake hands out (CreateServiceAccountKey's privateKeyData, the only place GCP
returns a private key) is collected at the source, and neither the key file,
its base64 form (what travels to Secret Manager), nor any 24-character piece
of its private key or of that base64 form appears in what the pipeline
printed (apply, plan, a PR's check and comment, reconcile, expire, audit
who-has/history/report) or wrote (GitHub, journal, git objects of every ref
in origin), nor in the GCP fake's state outside Secret Manager."""
from __future__ import annotations

import base64
import json
import subprocess
from datetime import datetime, timedelta, timezone

from conftest import NOW, git
from jobs_world import world  # noqa: F401

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
        run("reconcile", "--mode", "report")
        sb.aws.client("iam", PROD).create_access_key(UserName="pagerduty-sync")  # a key nobody asked for
        run("reconcile", "--mode", "fix")
        now = datetime.now(timezone.utc)
        for days in (31, 33, 62, 64):  # rotate, drop the old key after its grace, again
            monkeypatch.setenv("ACCESSCTL_NOW", (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"))
            run("expire")
            run("reconcile", "--mode", "report")
            run("audit", "who-has", "--principal", "serviceAccount:acme-prod/pagerduty-sync")
        assert len(seen) >= 3, "the key was rotated at least twice"
        monkeypatch.setenv("ACCESSCTL_NOW", "2027-02-01T00:00:00Z")  # the integration expires
        run("expire")
        assert _secret(sb) is None, "expiry deleted the secret"
        assert not sb.aws.client("iam", PROD).list_users(PathPrefix="/accessctl/")["Users"]

        written = _written(repo, gh)
        haystack = "\n".join(printed + written)
        assert "pagerduty-sync" in haystack, "the scan looked at the runs that handled the integration"
        for value in seen:
            assert value not in haystack, "a secret access key left the secret store"
    finally:
        gh.stop()


# ---- GCP: the key file lives only in Secret Manager ---------------------------

GCP_PROD = "acme-data-prod"
GCP_FILE = "requests/gcp/acme-data-prod/fivetran-loader.yaml"
GCP_SECRET = f"projects/{GCP_PROD}/secrets/accessctl-fivetran-loader"
GCP_SA = f"fivetran-loader@{GCP_PROD}.iam.gserviceaccount.com"
PIECE = 24  # characters of base64: 144 bits, far beyond guessing and beyond chance matches


def _pieces(text: str) -> set[str]:
    return {text[i:i + PIECE] for i in range(len(text) - PIECE + 1)}


def _key_material(key_file: bytes) -> tuple[list[str], set[str]]:
    """Whole forms of one key file, and the pieces of it that must not show."""
    doc = json.loads(key_file)
    private = doc["private_key"]
    body = "".join(line for line in private.splitlines() if "-----" not in line)
    encoded = base64.b64encode(key_file).decode()
    whole = [key_file.decode(), encoded, private, json.dumps(private)[1:-1], body]
    return whole, _pieces(body) | _pieces(encoded[len(encoded) // 4:])  # past the public "type"/"project_id" prefix


def _check_pr(repo, gh, monkeypatch) -> int:
    """A renewal PR for the integration, approved by security and the data team:
    check-pr plans it and comments on the PR."""
    base = git(repo.root, "rev-parse", "HEAD").strip()
    git(repo.root, "checkout", "-q", "-b", "renew-fivetran")
    text = (repo.root / GCP_FILE).read_text().replace('expires: "2027-02-19"', 'expires: "2027-02-18"')
    repo.write(GCP_FILE, text)
    repo.commit("renew the Fivetran loader")
    head = git(repo.root, "rev-parse", "HEAD").strip()
    gh.branches["main"]["sha"] = base
    pr = gh.add_pr("dave-acme", [(GCP_FILE, "modified")], title="Renew fivetran-loader", head_ref="renew-fivetran",
                   head_sha=head, contents={GCP_FILE: text})
    for reviewer in ("ivan-acme", "erin-acme"):  # security and the owner team
        gh.add_review(pr, reviewer, "APPROVED", head)
    event = repo.root.parent / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr, "base": {"sha": base}, "head": {"sha": head}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("ACCESSCTL_BASE_SHA", base)
    return pr


def test_no_gcp_key_material_is_ever_printed_or_written_outside_secret_manager(capsys, world, monkeypatch):
    repo, sb = world  # capsys first: the world's apply, which issued the first key, is captured too
    printed: list[str] = [capsys.readouterr().out]
    assert "fivetran-loader" in printed[0], "the scan sees the apply that issued the first key"
    issued: list[bytes] = [sb.gcp.secret_value(GCP_PROD, "accessctl-fivetran-loader")]
    create_key = sb.gcp.create_key

    def recording(email, when=None):  # every key file the fake's IAM hands out, planted ones included
        key = create_key(email, when)
        issued.append(key.private_key_data)
        return key

    monkeypatch.setattr(sb.gcp, "create_key", recording)
    gh = FakeGitHub().start()
    try:
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", gh.full_name)
        monkeypatch.setenv("GITHUB_TOKEN", "x")

        def run(*args: str, once: bool = False) -> int:
            code = 0
            for fmt in ("text",) if once else ("text", "json"):
                capsys.readouterr()
                res = repo.run(*args, "--format", fmt, capsys=capsys)
                printed.extend([res.out, res.err])
                code = res.code
            return code

        run("plan")
        pr = _check_pr(repo, gh, monkeypatch)
        assert run("check-pr") == 0
        assert gh.pr_comments(pr), "check-pr commented on the PR (scanned below with the GitHub state)"
        git(repo.root, "checkout", "-q", "main")
        monkeypatch.delenv("GITHUB_EVENT_PATH")
        monkeypatch.delenv("ACCESSCTL_BASE_SHA")

        sb.gcp.create_key(GCP_SA)  # a key nobody asked for
        assert run("reconcile", "--mode", "report", "--provider", "gcp") == 1
        assert run("reconcile", "--mode", "fix", "--provider", "gcp", once=True) == 0
        start = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
        for days in (31, 32.1, 62, 63.1):  # rotate, drop the old key after its grace, again
            monkeypatch.setenv("ACCESSCTL_NOW", (start + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"))
            assert run("expire", "--provider", "gcp", once=True) == 0
            run("reconcile", "--mode", "report", "--provider", "gcp")
            run("audit", "who-has", GCP_PROD)
            run("audit", "history", "serviceAccount:acme-data-prod/fivetran-loader")
        for fmt in ("text", "json", "html"):
            capsys.readouterr()
            res = repo.run("audit", "report", "--format", fmt, capsys=capsys)
            printed.extend([res.out, res.err])
        assert len({json.loads(k)["private_key_id"] for k in issued}) >= 4, "apply, planted, two rotations"
        monkeypatch.setenv("ACCESSCTL_NOW", "2027-02-19T01:00:00Z")  # the integration expires
        assert run("expire", "--provider", "gcp", once=True) == 0
        assert GCP_SECRET not in sb.gcp.secrets and not sb.gcp.sa_keys.get(GCP_SA)

        written = _written(repo, gh) + [
            json.dumps({k: v for k, v in vars(sb.gcp).items() if k != "secrets"}, default=repr)]
        haystack = "\n".join(printed + written)
        assert "fivetran-loader" in haystack and "accessctl-fivetran-loader" in haystack, \
            "the scan looked at the runs that handled the integration"
        for key_file in issued:
            whole, pieces = _key_material(key_file)
            for form in whole:
                assert form not in haystack, "a GCP key file left Secret Manager"
            leaked = [p for p in pieces if p in haystack]
            assert not leaked, f"{len(leaked)} piece(s) of a GCP private key left Secret Manager"
    finally:
        gh.stop()


def _written(repo, gh) -> list[str]:
    """Everything the pipeline wrote outside the clouds: the GitHub fake's
    state, the checkout's files (journal included), every git object here
    and in origin."""
    written = [json.dumps(vars(gh), default=repr)]
    for path in repo.root.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            written.append(path.read_text(errors="replace"))
    origin = repo.root.parent / "origin.git"
    written.append(subprocess.run(["git", "-C", str(origin), "log", "--all", "-p", "--format=%H %s%n%b"],
                                  capture_output=True, text=True).stdout)
    written.append(git(repo.root, "log", "--all", "-p"))
    return written

