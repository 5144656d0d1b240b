"""`accessctl demo`: the whole loop, narrated, on loopback emulators.

A developer's request PR is denied with a clear fix, fixed, approved by the
code owners, merged and applied to AWS and GCP; someone grants access by
hand and the reconcile job finds and fixes it; the clock moves past the
expiry and the grant is revoked with a cleanup PR; the audit answers. Every
step runs the real CLI in-process against the real SDKs talking to moto,
the GCP fake and the GitHub fake, on a throwaway copy of this repository.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Callable, Iterator

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from tools.core.errors import UsageError
from tools.core.tables import print_table
from tools.sandbox.demo_gcp_nhi import step_gcp_non_human

START = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)  # the samples are valid then
MAIN_AGE = timedelta(days=100)  # how long before START main's requests were merged
RECENT = ("requests/aws/acme-dev/triage-agent.yaml", "requests/aws/acme-prod/pagerduty-sync.yaml")
# The GCP agent and integration samples are requested in the last step (a PR,
# approved, merged, applied), so they are kept out of main at first.
GCP_NHI = ("requests/gcp/acme-data-dev/etl-triage-agent.yaml", "requests/gcp/acme-data-prod/fivetran-loader.yaml")
# The sample access repository ships as package data (links to the checkout's
# own folders, copied into the wheel), so the demo runs from any directory.
SAMPLE = (("policies", "policies"), ("requests", "requests"), ("github", ".github"))
ENV_KEYS = ("COLUMNS", "ACCESSCTL_TABLES", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION", "AWS_REGION", "ACCESSCTL_GCP_ENDPOINT", "ACCESSCTL_GCP_IAM_ENDPOINT",
            "GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_EVENT_PATH", "ACCESSCTL_BASE_SHA",
            "ACCESSCTL_GITHUB_TOKEN",
            "ACCESSCTL_NOW", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "ACCESSCTL_OPA_URL",
            "MOTO_IAM_LOAD_MANAGED_POLICIES")

FRANK_PATH = "requests/gcp/acme-data-prod/frank-bigquery-admin.yaml"
FRANK_FIRST = """\
# yaml-language-server: $schema=../../../tools/request/schemas/request.v1.schema.json
apiVersion: accessctl/v1
kind: AccessRequest
principal: user:frank@acme.example
requester: frank-acme
justification: Repair the partitioning of the billing dataset after last night's failed migration.
expires: "{expires}"
grants:
  - kind: gcp-project-role
    project: acme-data-prod
    role: roles/bigquery.admin
"""


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@dataclass
class World:
    repo: Path
    console: Console
    cli: Callable[[list[str]], int]
    now: datetime = START
    pr: int = 0
    frank_expires: datetime = START
    review_pr: int = 0
    review_file: str = ""
    steps: list[str] | None = None  # titles of the steps run, for --format json

    def git(self, *args: str) -> str:
        stamp = self.now.strftime("%Y-%m-%dT%H:%M:%S+00:00")  # commits happen on the demo's clock
        env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        return subprocess.run(["git", "-C", str(self.repo), *args], check=True, capture_output=True,
                              text=True, env=env).stdout.strip()

    def run(self, *args: str) -> Result:
        """The real CLI, in-process, in the demo repository."""
        out, err = io.StringIO(), io.StringIO()
        old = os.getcwd()
        os.environ["ACCESSCTL_NOW"] = self.now.strftime("%Y-%m-%dT%H:%M:%SZ")
        os.environ["COLUMNS"] = str(self.console.width)  # tables fit the narration
        os.environ["ACCESSCTL_TABLES"] = "fit" if self.console.is_terminal else "full"
        os.chdir(self.repo)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = self.cli(list(args))
        finally:
            os.chdir(old)
        return Result(code, out.getvalue(), err.getvalue())

    def shell(self, *args: str) -> None:
        self.console.print(f"[bold cyan]$ accessctl {' '.join(args)}[/]")


@contextlib.contextmanager
def _environment() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _make_repo(dest: Path) -> None:
    sample = resources.files("tools.sandbox") / "sample"
    for packaged, name in SAMPLE:
        with resources.as_file(sample / packaged) as src:
            shutil.copytree(src, dest / name)
    for path in GCP_NHI:
        (dest / path).unlink()  # step 13 requests them
    # Merged a little over three months before the demo's clock: the access
    # reviews of sensitive roles and service accounts (every 90 days) are due.
    # The agent and the integration were requested last week: not due for
    # review yet, so the review steps leave them to step 12.
    def commit(when: datetime, *args: str) -> None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        subprocess.run(["git", "-C", str(dest), *args], check=True, capture_output=True, env=env)

    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "demo@acme.example"],
                 ["config", "user.name", "Acme"], ["add", "-A", "--", ".", *(f":!{p}" for p in RECENT)],
                 ["commit", "-q", "-m", "Acme's access today"]):
        commit(START - MAIN_AGE, *args)
    commit(START - timedelta(days=7), "add", "-A")
    commit(START - timedelta(days=7), "commit", "-q", "-m", "An AI agent and a third-party integration")


def run_demo(console: Console, cli: Callable[[list[str]], int],
             summary: Callable[[dict], None] | None = None) -> int:
    """Narrate on ``console``; ``cli`` is the accessctl entry point the steps
    run in-process; ``summary`` receives the steps run (for --format json)."""
    from tools.core.orgmodel import load
    from tools.core.repo import Tree
    from tools.sandbox.github import FakeGitHub
    from tools.sandbox.demo_teams import step_teams  # its own module: it imports World from here
    from tools.sandbox.sandbox import Sandbox

    started = time.monotonic()
    with _environment(), tempfile.TemporaryDirectory(prefix="accessctl-demo-") as tmp:
        repo = Path(tmp) / "access"
        _make_repo(repo)
        world = World(repo, console, cli)
        console.rule("[bold]accessctl demo[/]: access requests as pull requests")
        console.print("Starting loopback AWS (moto), GCP and GitHub emulators, seeded from the org model.")
        with Sandbox(load(Tree(repo))) as sandbox, FakeGitHub(org="acme", repo="access") as gh:
            os.environ.update(sandbox.env())
            os.environ.update({"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.full_name,
                               "ACCESSCTL_GITHUB_TOKEN": "x"})  # the sandbox's token of the accessctl App
            for team in sandbox.org.teams.values():
                gh.add_team(team.github_team.split("/", 1)[1], list(team.members))
            steps: list[Callable[[World, object, object], None]] = [
                step_baseline, step_pr_denied, step_pr_fixed, step_approved, step_merge_apply,
                step_console_drift, step_expiry, step_audit, step_review_open, step_review_merged,
                step_review_overdue, step_non_human, step_gcp_non_human, step_teams]
            for step in steps:
                step(world, sandbox, gh)
        elapsed = time.monotonic() - started
    if summary:
        summary({"ok": True, "seconds": round(elapsed, 1), "steps": world.steps})
    console.rule(f"[bold green]Demo finished in {elapsed:.1f} s[/]: emulators stopped, temporary repository removed")
    return 0


# ---- the steps ---------------------------------------------------------------

def _title(world: World, n: int, text: str, why: str) -> None:
    world.steps = [*(world.steps or []), text]
    world.console.print()
    world.console.rule(f"[bold]{n}. {text}")
    world.console.print(f"[dim]{why}[/]")


def _expect(result: Result, code: int, what: str) -> None:
    if result.code != code:
        raise UsageError(f"demo step failed: {what} exited {result.code}, expected {code}: "
                         f"{(result.err or result.out).strip()[:500]}")


def _apply_table(results: list[dict]) -> Table:
    table = Table(show_edge=False)
    for col in ("", "where", "principal", "what", "API calls"):
        table.add_column(col)
    for r in results:
        where = r.get("account_name") or r.get("account") or r.get("project")
        table.add_row("[green]+[/]" if r["action"] == "add" else "[red]-[/]" if r["action"] == "remove" else "~",
                      where, r["principal"], f"{r['kind']} {r['target']}", str(r.get("calls", 0)))
    return table


def step_baseline(world: World, sandbox, gh) -> None:
    _title(world, 1, "Acme already runs accessctl",
           "main holds 8 requests; the merge job has applied them to AWS and GCP.")
    world.shell("apply")
    res = world.run("apply", "--format", "json")
    _expect(res, 0, "apply")
    doc = res.json()
    world.console.print(f"applied {len(doc['results'])} grant(s) in {doc['summary']['calls']} API calls; "
                        "a second run makes none:")
    again = world.run("apply", "--format", "json").json()
    world.console.print(f"  second apply: {len(again['results'])} change(s), {again['summary']['calls']} calls")


def _open_or_push(world: World, gh, text: str, message: str, pr: int | None) -> int:
    base = world.git("rev-parse", "main")
    if pr is None:
        world.git("checkout", "-q", "-b", "frank/bigquery-admin")
    (world.repo / FRANK_PATH).write_text(text)
    # Only the request: the PR's files come from git, and anything else
    # (the apply record the baseline step wrote) would ride along.
    world.git("add", "--", FRANK_PATH)
    world.git("commit", "-q", "-m", message)
    head = world.git("rev-parse", "HEAD")
    if pr is None:
        gh.branches["main"]["sha"] = base
        pr = gh.add_pr("frank-acme", [(FRANK_PATH, "added")], title="Frank: BigQuery admin on acme-data-prod",
                       head_ref="frank/bigquery-admin", head_sha=head)
    else:
        gh.pulls[pr].head_sha = head
    gh.set_contents(pr, {FRANK_PATH: text})
    event = world.repo.parent / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr, "base": {"sha": base}, "head": {"sha": head}}}))
    os.environ["GITHUB_EVENT_PATH"] = str(event)
    os.environ["ACCESSCTL_BASE_SHA"] = base
    return pr


def _check(world: World, gh, pr: int, code: int) -> dict:
    world.shell("check-pr")
    res = world.run("check-pr", "--format", "json")
    _expect(res, code, "check-pr")
    doc = res.json()
    comment = [c for c in gh.pr_comments(pr)]
    body = comment[-1]["body"] if comment else doc.get("comment", "")
    first = next((line for line in body.splitlines() if line.strip() and not line.startswith("<!--")), "")
    world.console.print(Panel(Markdown(first), title=f"PR #{pr} comment (one comment, updated in place: "
                                                     f"{len(comment)} on the PR)", expand=False))
    return doc


def step_pr_denied(world: World, sandbox, gh) -> None:
    _title(world, 2, "Frank asks for BigQuery admin in production",
           "A privileged role for three days, without a ticket: the PR check denies it and says how to fix it.")
    world.pr = _open_or_push(world, gh, FRANK_FIRST.format(expires=(world.now + timedelta(days=3))
                                                           .strftime("%Y-%m-%dT%H:%M:%SZ")),
                             "Frank: BigQuery admin on acme-data-prod", None)
    doc = _check(world, gh, world.pr, 1)
    table = Table(show_edge=False)
    table.add_column("rule")
    table.add_column("what is wrong")
    table.add_column("how to fix it")
    for f in doc["files"]:
        for v in f["violations"]:
            table.add_row(v["rule"], v["message"], v.get("remediation", ""))
    print_table(world.console, table)


def step_pr_fixed(world: World, sandbox, gh) -> None:
    _title(world, 3, "Frank follows the fix",
           "Eight hours, with the incident ticket. Now only the approvals are missing.")
    fixed = FRANK_FIRST.format(expires=(world.now + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    fixed = fixed.replace("expires:", "ticket: DATA-99\nexpires:")
    world.frank_expires = world.now + timedelta(hours=8)
    _open_or_push(world, gh, fixed, "Eight hours, with the ticket", world.pr)
    _check(world, gh, world.pr, 1)


def step_approved(world: World, sandbox, gh) -> None:
    _title(world, 4, "The code owners approve",
           "Privileged access needs two approvals on the head commit, one from security. An approval "
           "of an older commit, or from outside the owning teams, does not count.")
    head = gh.pulls[world.pr].head_sha
    gh.add_review(world.pr, "olivia-acme", "APPROVED", head)
    gh.add_review(world.pr, "dave-acme", "APPROVED", head)
    world.console.print("olivia-acme (sre, not an owner here) and dave-acme (data lead) approve:")
    _check(world, gh, world.pr, 1)
    gh.add_review(world.pr, "ivan-acme", "APPROVED", head)
    world.console.print("ivan-acme (security) approves:")
    _check(world, gh, world.pr, 0)
    runs = [r for r in gh.check_runs.values() if r["head_sha"] == head]
    newest = max(runs, key=lambda r: r["id"]) if runs else {}
    world.console.print(f"check run {newest.get('name')}: [green]{newest.get('conclusion')}[/] (posted by the "
                        f"{(newest.get('app') or {}).get('slug')} App) — branch protection now lets the PR merge")


def step_merge_apply(world: World, sandbox, gh) -> None:
    _title(world, 5, "Merged: the apply job provisions exactly what changed",
           "`apply --since` reads and writes only the targets whose requests changed.")
    before = world.git("rev-parse", "main")
    world.git("checkout", "-q", "main")
    world.git("merge", "-q", "--no-ff", "frank/bigquery-admin", "-m",
              f"Merge pull request #{world.pr} from acme/frank/bigquery-admin")
    gh.merge(world.pr, world.git("rev-parse", "HEAD"))  # what GitHub's commit -> pulls association reports
    world.shell(f"apply --since {before[:7]}")
    res = world.run("apply", "--since", before, "--format", "json")
    _expect(res, 0, "apply --since")
    doc = res.json()
    for v in doc["verification"]["files"]:
        world.console.print(f"re-verified before provisioning: {v['file']} — {v['why']} "
                            "(merged PR found through GitHub's commit → pulls association)")
    print_table(world.console, _apply_table(doc["results"]))
    world.console.print(f"{doc['summary']['calls']} API calls in total (one getIamPolicy + one setIamPolicy).")
    binding = next(b for b in sandbox.gcp.policy("acme-data-prod")["bindings"]
                   if b["role"] == "roles/bigquery.admin")
    world.console.print(f"GCP binding condition: [yellow]{binding['condition']['expression']}[/] "
                        "— GCP itself ends the access.")


def step_console_drift(world: World, sandbox, gh) -> None:
    _title(world, 6, "Someone grants access by hand in the AWS console",
           "The hourly reconcile job reports the drift in a GitHub issue, then fixes it.")
    sandbox.aws.client("iam", "111111111111").add_user_to_group(GroupName="developers",
                                                               UserName="heidi@acme.example")
    world.console.print("console: heidi@acme.example added to IAM group developers in acme-dev")
    world.shell("reconcile --mode report")
    res = world.run("reconcile", "--format", "json")
    _expect(res, 1, "reconcile --mode report")
    for d in res.json()["drift"]:
        world.console.print(f"  [red]{d['kind']}[/] {d['principal']} {d['grant_kind']} {d['target']} "
                            f"in {d.get('account_name') or d.get('account') or d.get('project')}")
    opened = [(n, i) for n, i in gh.issues.items() if i["state"] == "open"]
    for n, issue in opened:
        world.console.print(f"GitHub issue #{n} opened: {issue['title']}")
    world.shell("reconcile --mode fix")
    res = world.run("reconcile", "--mode", "fix", "--format", "json")
    _expect(res, 0, "reconcile --mode fix")
    doc = res.json()
    world.console.print(f"fixed {doc['summary']['fixed']} drifted grant(s); read again: "
                        f"{doc['summary']['remaining_after_fix']} left")
    _expect(world.run("reconcile", "--format", "json"), 0, "reconcile after fix")
    for n, issue in gh.issues.items():
        if issue["state"] == "closed":
            world.console.print(f"next run is clean: issue #{n} closed")


def step_expiry(world: World, sandbox, gh) -> None:
    _title(world, 7, "Nine hours later: Frank's access has expired",
           "GCP already refuses it (the condition); the daily expire job removes the dead binding "
           "and opens one PR deleting the expired request file.")
    world.now = world.frank_expires + timedelta(hours=1)
    world.shell("expire")
    res = world.run("expire", "--format", "json")
    _expect(res, 0, "expire")
    doc = res.json()
    for r in doc["revoked"]:
        world.console.print(f"  [red]revoked[/] {r['principal']} {r['target']} — {r['reason']}")
    if doc["cleanup_pr"]:
        pr = gh.pulls[doc["cleanup_pr"]]
        world.console.print(f"PR #{pr.number} opened: {pr.title}")
    still = [b for b in sandbox.gcp.policy("acme-data-prod")["bindings"] if b["role"] == "roles/bigquery.admin"]
    world.console.print(f"bigquery.admin bindings left in acme-data-prod: {len(still)}")


def step_audit(world: World, sandbox, gh) -> None:
    _title(world, 8, "The auditor asks", "Who holds what in acme-data-prod, and what happened to Frank's access?")
    world.console.print("[dim](the request file is still on main until the cleanup PR merges)[/]")
    for args in (("audit", "who-has", "acme-data-prod"), ("audit", "history", "user:frank@acme.example")):
        world.shell(*args)
        res = world.run(*args)
        _expect(res, 0, " ".join(args))
        world.console.print(res.out.rstrip())


REVIEW_PLATFORM = "reviews/{date}/platform.yaml"
CAROL_PATH = "requests/aws/acme-staging/carol-poweruser.yaml"


def step_review_open(world: World, sandbox, gh) -> None:
    _title(world, 9, "The access review: owners confirm what is still needed",
           "Sensitive roles and service accounts are reviewed every 90 days. The scheduled job opens one "
           "PR per owning team with a file listing each grant due, every entry `keep`.")
    world.now = START + timedelta(days=1)
    world.shell("review open")
    res = world.run("review", "open", "--format", "json")
    _expect(res, 0, "review open")
    doc = res.json()
    for o in doc["opened"]:
        world.console.print(f"PR #{o['pr']} for team {o['team']}: {o['file']} — " + ", ".join(o["requests"]))
    platform = next(o for o in doc["opened"] if o["team"] == "platform")
    world.review_pr = platform["pr"]
    # the platform owners mark carol's PowerUser revoke and keep the rest
    text = gh.branches[gh.pulls[platform["pr"]].head_ref]["files"][platform["file"]].decode()
    lines, in_carol = [], False
    for line in text.splitlines():
        if line.startswith("  - request:"):
            in_carol = CAROL_PATH in line
        if in_carol and line.strip() == "decision: keep":
            line = line.replace("keep", "revoke")
        lines.append(line)
    world.review_file = platform["file"]
    base = world.git("rev-parse", "main")
    world.git("checkout", "-q", "-b", "review/platform")
    (world.repo / platform["file"]).parent.mkdir(parents=True, exist_ok=True)
    (world.repo / platform["file"]).write_text("\n".join(lines) + "\n")
    world.git("add", "--", platform["file"])
    world.git("commit", "-q", "-m", "carol's PowerUser is no longer needed")
    head = world.git("rev-parse", "HEAD")
    pr = gh.pulls[platform["pr"]]
    pr.head_sha, pr.base_sha, pr.files = head, base, gh._files([(platform["file"], "added")])
    gh.set_contents(pr.number, {platform["file"]: "\n".join(lines) + "\n"})  # apply re-verifies this content
    event = world.repo.parent / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr.number, "base": {"sha": base}, "head": {"sha": head}}}))
    os.environ["GITHUB_EVENT_PATH"] = str(event)
    os.environ["ACCESSCTL_BASE_SHA"] = base
    world.console.print("The platform owners change carol's entry to `decision: revoke`. carol-acme approves: "
                        "that attests the service account, never her own access. Then alice-acme (who "
                        "requested the service account) approves:")
    gh.add_review(pr.number, "carol-acme", "APPROVED", head)
    _check(world, gh, pr.number, 1)
    gh.add_review(pr.number, "alice-acme", "APPROVED", head)
    _check(world, gh, pr.number, 0)


def step_review_merged(world: World, sandbox, gh) -> None:
    _title(world, 10, "The review merges: revoked access goes at once, the rest is attested",
           "Review files are inputs of the desired state: apply revokes what the owners marked `revoke` and "
           "records who attested the grants they kept.")
    before = world.git("rev-parse", "main")
    world.git("checkout", "-q", "main")
    world.git("merge", "-q", "--no-ff", "review/platform", "-m",
              f"Merge pull request #{world.review_pr} from acme/review/platform")
    gh.merge(world.review_pr, world.git("rev-parse", "HEAD"))
    world.shell(f"apply --since {before[:7]}")
    res = world.run("apply", "--since", before, "--format", "json")
    _expect(res, 0, "apply --since")
    for r in res.json()["results"]:
        world.console.print(f"  [red]revoked[/] {r['principal']} {r['target']} — {r['reason']}")
    world.shell("audit report --format json")
    doc = world.run("audit", "report", "--format", "json").json()
    for row in doc["rows"]:
        if row.get("access_review"):
            a = row["access_review"]
            world.console.print(f"  kept: {row['principal']} {row['entitlement']} — reviewed {a['time'][:10]} "
                                f"by {', '.join(a['reviewers'] or ['?'])}")
    cov = doc["review_coverage"]
    world.console.print(f"review coverage: {cov['reviewed_on_time']} reviewed on time, {cov['due']} due, "
                        f"{cov['overdue']} overdue, {cov['revoked_by_review']} revoked by review")


def step_review_overdue(world: World, sandbox, gh) -> None:
    _title(world, 11, "Nobody reviewed the data team's grants: past the deadline they go",
           "An overdue review leaves the desired state like an expired grant: the expire job revokes it and "
           "its cleanup PR removes the files.")
    world.now = START + timedelta(days=6)  # the deadline (due + 14 days) has passed
    world.shell("expire")
    res = world.run("expire", "--format", "json")
    _expect(res, 0, "expire")
    doc = res.json()
    for r in doc["revoked"]:
        world.console.print(f"  [red]revoked[/] {r['principal']} {r['target']} — {r['reason']}")
    if doc["cleanup_pr"]:
        pr = gh.pulls[doc["cleanup_pr"]]
        world.console.print(f"PR #{pr.number} opened: {pr.title}")


def step_non_human(world: World, sandbox, gh) -> None:
    _title(world, 12, "An AI agent and a third-party integration",
           "Both samples were applied with main: the agent's role has no key; the integration's one key lives "
           "only in Secrets Manager, is rotated by the daily job, and is deleted at expiry.")
    dev, prod = sandbox.aws.client("iam", "111111111111"), sandbox.aws.client("iam", "333333333333")
    secrets = sandbox.aws.client("secretsmanager", "333333333333")
    role = dev.get_role(RoleName="triage-agent")["Role"]
    trusted = [st["Principal"] for st in role["AssumeRolePolicyDocument"]["Statement"]]
    world.console.print(f"agent role triage-agent: trusted by {trusted}, sessions of "
                        f"{role['MaxSessionDuration'] // 60} minutes, boundary "
                        f"{role['PermissionsBoundary']['PermissionsBoundaryArn'].rpartition('/')[2]}")
    name = "accessctl/acme-prod/pagerduty-sync"
    values: set[str] = set()
    outputs: list[str] = []

    def key() -> str:
        stored = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
        values.add(stored["SecretAccessKey"])
        return "ending " + stored["AccessKeyId"][-4:]  # the id's tail only; the secret half is never shown

    def live_keys() -> int:
        return len(prod.list_access_keys(UserName="pagerduty-sync")["AccessKeyMetadata"])

    tags = {t["Key"]: t["Value"] for t in secrets.describe_secret(SecretId=name)["Tags"]}
    world.console.print(f"integration pagerduty-sync: key {key()} in secret {name} "
                        f"(owner {tags['owner']}, vendor {tags['vendor']}, expires {tags['expires'][:10]})")
    for days, what in ((31, "31 days later: the key is older than rotate_days (30)"),
                       (32.1, "25 hours after the rotation: the grace period (24 h) is over")):
        world.now = START + timedelta(days=days)
        world.console.print(f"[dim]{what}[/]")
        world.shell("expire --provider aws")
        res = world.run("expire", "--provider", "aws", "--format", "json")
        outputs += [res.out, res.err]
        _expect(res, 0, "expire")
        for r in res.json()["rotated"]:
            verb = "rotated" if r["action"] == "update" else "deleted the old key of"
            world.console.print(f"  [green]{verb}[/] {r['principal']}: key now {key()}, "
                                f"{live_keys()} key(s) on the user")
    world.now = datetime(2027, 2, 1, 1, tzinfo=timezone.utc)
    world.console.print("[dim]2027-02-01: the agent and the integration expire[/]")
    world.shell("expire --provider aws")
    res = world.run("expire", "--provider", "aws", "--format", "json")
    outputs += [res.out, res.err]
    _expect(res, 0, "expire")
    gone = [r["principal"] for r in res.json()["revoked"] if r["principal"].endswith(("triage-agent", "pagerduty-sync"))]
    world.console.print(f"  [red]removed[/] {', '.join(sorted(set(gone)))}; secrets left: "
                        f"{len(secrets.list_secrets()['SecretList'])}, integration users left: "
                        f"{len(prod.list_users(PathPrefix='/accessctl/')['Users'])}")
    leaked = [v for v in values if any(v in o for o in outputs)]
    if leaked:
        raise UsageError("demo: a secret access key appeared in the pipeline's output")
    world.console.print(f"the {len(values)} secret access key(s) issued never appeared in any output "
                        f"(checked {len(outputs)} outputs)")
