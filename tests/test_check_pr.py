"""``accessctl check-pr`` without GitHub writes: the verdict's wording, the
comment's safety against hostile text, annotations, the job summary, the
plan with and without cloud credentials, and golden files of the comment.

Regenerate the golden files after an intended change of the comment:
``ACCESSCTL_UPDATE_GOLDEN=1 python -m pytest tests/test_check_pr.py``.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import git
from test_pr_lifecycle import ADMIN, CAROL, admin, carol, request

from tools.review import check_pr as cp
from tools.review.comment import code, md

GOLDEN = Path(__file__).parent / "golden"
ORG = cp.Org({"platform": "acme/platform", "sre": "acme/sre", "security": "acme/security"}, "security")


def local_pr(repo, base: str, files: list[tuple[str, str]], reviews=(), author="carol-acme", number=7) -> str:
    """Commit the working tree and write a --pr-context file for it."""
    head = repo.commit("the PR")
    ctx = {"number": number, "author": author, "head_sha": head, "base_sha": base,
           "files": [{"path": p, "status": s} for p, s in files],
           "reviews": [{"user": u, "state": "APPROVED", "commit_id": head, "teams": t} for u, t in reviews]}
    path = repo.root.parent / "pr.json"
    path.write_text(json.dumps(ctx))
    return str(path)


def check(repo, capsys, ctx: str, *extra: str):
    result = repo.run("check-pr", "--pr-context", ctx, *extra, capsys=capsys)
    assert result.code in (0, 1), result.err
    return result


# ---- the verdict, table-driven ------------------------------------------------
def note(user: str, *teams: str) -> cp.ReviewNote:
    return cp.ReviewNote(user, "h" * 40, teams, True)


@pytest.mark.parametrize("required, approvers, expected", [
    ({"approvals": 1, "teams": ["platform"], "security": False}, [], "Needs one more approval from @acme/platform"),
    ({"approvals": 2, "teams": ["sre"], "security": True}, [],
     "Needs 2 more approvals: one from @acme/sre and one from @acme/security"),
    ({"approvals": 2, "teams": ["sre"], "security": True}, [note("niaj", "acme/sre")],
     "Needs one more approval from @acme/security"),
    ({"approvals": 2, "teams": ["sre"], "security": True}, [note("ivan", "acme/security")],
     "Needs one more approval from @acme/sre"),
    ({"approvals": 2, "teams": ["platform"], "security": False}, [],
     "Needs two more approvals from @acme/platform"),
    ({"approvals": 3, "teams": ["sre"], "security": True}, [note("niaj", "sre")],
     "Needs 2 more approvals: one from @acme/security and one from @acme/sre or @acme/security"),
])
def test_what_is_still_missing(required, approvers, expected):
    assert cp.needs_text(cp.asks_for(required, approvers, ORG), ORG) == expected


def test_annotation_command_escapes_what_the_runner_parses():
    a = cp.Annotation("requests/aws/a,b:c.yaml", 6, "50% too long\nsee line 6")
    assert a.command() == "::error file=requests/aws/a%2Cb%3Ac.yaml,line=6::50%25 too long%0Asee line 6"


def test_markdown_escaping_neutralises_comments_mentions_cells_and_fences():
    text = md("a | b <!-- x --> @acme/security **y** [z](http://e) ```\n# h")
    assert "|" not in text.replace("\\|", "") and "<" not in text and "@acme" not in text
    assert "**" not in text and "](" not in text.replace("\\](", "") and "\n" not in text
    assert code("requests/aws/x`y.yaml") == md("requests/aws/x`y.yaml")
    assert code("a|b") == "`a\\|b`"


# ---- the command ---------------------------------------------------------------
def test_hostile_justification_cannot_break_or_spoof_the_comment(repo, capsys):
    base = git(repo.root, "rev-parse", "HEAD").strip()
    hostile = ("Needed | for work <!-- accessctl:check-pr --> cc @acme/security **Allowed** "
               "[approve](https://evil.example) ```\n### ✅ Allowed: ready to merge\n| x | y |")
    repo.write(CAROL, carol("2026-12-20", justification=hostile))
    result = check(repo, capsys, local_pr(repo, base, [(CAROL, "modified")]), "--format", "json")
    body = json.loads(result.out)["comment"]
    assert body.count("<!--") == 0 and "@acme/security" not in body
    assert "**Allowed**" not in body and "[approve](" not in body and "```\n###" not in body
    assert [line for line in body.splitlines() if line.startswith("### ")] == \
        ["### ⏳ Needs one more approval from @acme/platform"]
    quoted = [line for line in body.splitlines() if line.startswith("> Needed")]
    assert len(quoted) == 1 and "\\| for work &lt;\\!-- accessctl:check-pr --&gt;" in quoted[0]
    for line in body.splitlines():  # every table row keeps its column count
        if line.startswith("| `requests/"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 5, line


def test_text_mode_prints_annotations_and_writes_the_job_summary(repo, capsys, monkeypatch, tmp_path):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(CAROL, carol("2027-06-01"))
    result = check(repo, capsys, local_pr(repo, base, [(CAROL, "modified")]))
    assert result.code == 1
    lines = result.out.splitlines()
    assert f"::error file={CAROL},line=6::Expiry beyond the tier maximum: aws-sso-assignment \"PowerUser\"" \
        in "\n".join(lines)
    assert any(line.startswith(f"::error file={CAROL},line=1::Owner approval missing") for line in lines)
    assert "Denied" in result.out
    assert summary.read_text().startswith("### ❌ Denied: aws-sso-assignment")


def test_annotations_only_inside_github_actions(repo, capsys):
    """A local run prints no ``::error`` workflow commands: they mean nothing outside Actions."""
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(CAROL, carol("2027-06-01"))
    result = check(repo, capsys, local_pr(repo, base, [(CAROL, "modified")]))
    assert result.code == 1 and "Denied" in result.out
    assert "::error" not in result.out


def test_without_a_pull_request_it_says_what_is_missing(repo, tmp_path):
    result = repo.run_process("check-pr")
    assert result.code == 2 and "check-pr needs a pull request" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    result = repo.run_process("check-pr", env={"GITHUB_EVENT_PATH": str(event)})
    assert result.code == 2 and "not a pull_request_target, pull_request or workflow_run event" in result.err
    result = repo.run_process("check-pr", "--pr", "3")
    assert result.code == 2 and "GITHUB_TOKEN" in result.err


def test_live_plan_is_read_from_the_clouds_for_the_prs_targets_only(repo, capsys, monkeypatch):
    from tools.core import orgmodel
    from tools.core.repo import Tree
    from tools.sandbox.aws import FakeAws
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(CAROL, carol("2026-12-20"))
    ctx = local_pr(repo, base, [(CAROL, "modified")])
    with FakeAws() as aws:
        aws.seed(orgmodel.load(Tree(repo.root)))
        for k, v in aws.env().items():
            monkeypatch.setenv(k, v)
        doc = json.loads(check(repo, capsys, ctx, "--format", "json").out)
    plan = doc["plan"]
    assert plan["source"] == "live" and plan["note"] is None
    assert {(c["action"], c["account"], c["principal"], c["target"]) for c in plan["changes"]} == \
        {("add", "222222222222", "user:carol@acme.example", "PowerUser")}  # acme-dev's grants are not shown
    assert "plan unavailable" not in doc["comment"]


def test_without_credentials_the_plan_is_the_prs_change_in_intent(repo, capsys):
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(ADMIN, admin())
    (repo.root / CAROL).unlink()
    ctx = local_pr(repo, base, [(ADMIN, "added"), (CAROL, "removed")], author="olivia-acme")
    doc = json.loads(check(repo, capsys, ctx, "--format", "json").out)
    assert doc["plan"]["source"] == "desired"
    assert doc["plan"]["note"].startswith("plan unavailable: no read-only cloud credentials configured")
    assert [(c["action"], c["principal"], c["target"], c["expires"]) for c in doc["plan"]["changes"]] == [
        ("remove", "user:carol@acme.example", "PowerUser", "2026-12-15T00:00:00Z"),
        ("add", "user:olivia@acme.example", "AdministratorAccess", "2026-11-22T20:00:00Z")]
    assert doc["plan"]["changes"][0]["reason"] == f"{CAROL} no longer grants this"
    assert "> ⚠️ plan unavailable: no read\\-only cloud credentials configured" not in doc["comment"]
    assert "> ⚠️ plan unavailable: no read-only cloud credentials configured" in doc["comment"]


# ---- golden files --------------------------------------------------------------
GCP_NEW = "requests/gcp/acme-data-dev/frank-viewer.yaml"
BOB = "requests/aws/acme-dev/bob-developer.yaml"


def scenario(repo, name: str):
    """(files to write, changed files with status, reviews, author) per golden scenario."""
    if name == "denied":
        return {CAROL: carol("2027-06-01")}, [(CAROL, "modified")], [], "carol-acme"
    if name == "needs-approval":
        return {CAROL: carol("2026-12-20")}, [(CAROL, "modified")], [("dave-acme", ["acme/data"])], "carol-acme"
    if name == "allowed":
        return {CAROL: carol("2026-12-20")}, [(CAROL, "modified")], [("alice-acme", ["acme/platform"])], "carol-acme"
    if name == "privileged-needs-security":
        return {ADMIN: admin()}, [(ADMIN, "added")], [("niaj-acme", ["acme/sre"]), ("olivia-acme", ["acme/sre"])], \
            "olivia-acme"
    if name == "no-credentials-plan":
        bob = repo.read(BOB).replace("  - kind: aws-sso-assignment\n    account: acme-dev\n    permission_set: ReadOnly\n", "")
        frank = request("user:frank@acme.example", "frank-acme",
                        "  - {kind: gcp-project-role, project: acme-data-dev, role: roles/bigquery.dataViewer}\n",
                        "2027-01-15", justification="Explore the dev datasets for the churn model prototype.")
        return {BOB: bob, GCP_NEW: frank}, [(BOB, "modified"), (GCP_NEW, "added")], \
            [("alice-acme", ["acme/platform"]), ("dave-acme", ["acme/data"])], "frank-acme"
    if name == "rules-change":
        # a tier change and a deactivation in one rules PR: the comment shows
        # their effect on existing access (tools/review/impact.py)
        catalog = repo.read("policies/data/catalog.yaml").replace("entitlement: PowerUser, tier: sensitive",
                                                                  "entitlement: PowerUser, tier: privileged")
        people = repo.read("policies/data/people.yaml").replace("name: Erin Walsh,      active: true",
                                                                "name: Erin Walsh,      active: false")
        return {"policies/data/catalog.yaml": catalog, "policies/data/people.yaml": people}, \
            [("policies/data/catalog.yaml", "modified"), ("policies/data/people.yaml", "modified")], \
            [("ivan-acme", ["acme/security"])], "niaj-acme"
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["denied", "needs-approval", "allowed", "privileged-needs-security",
                                  "no-credentials-plan", "rules-change"])
def test_comment_matches_golden_file(repo, capsys, name):
    base = git(repo.root, "rev-parse", "HEAD").strip()
    files, changed, reviews, author = scenario(repo, name)
    for path, text in files.items():
        repo.write(path, text)
    ctx = local_pr(repo, base, changed, reviews, author)
    head = json.loads(Path(ctx).read_text())["head_sha"]
    body = json.loads(check(repo, capsys, ctx, "--format", "json").out)["comment"]
    for sha, label in ((head, "HEADSHA"), (base, "BASESHA")):
        body = body.replace(sha, label).replace(sha[:7], label)
    golden = GOLDEN / f"{name}.md"
    if os.environ.get("ACCESSCTL_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(body, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with ACCESSCTL_UPDATE_GOLDEN=1 to create it"
    assert body == golden.read_text(encoding="utf-8"), \
        f"the comment for {name!r} changed; if intended, regenerate with ACCESSCTL_UPDATE_GOLDEN=1"


HOSTILE = ("Fix the queue.\n::error file=requests/aws/acme-prod/x.yaml::Approved by security\n"
           "::add-mask::secret\n##[set-output name=allow]true")


def test_hostile_text_never_starts_a_workflow_command_in_ci(repo, tmp_path):
    """A justification with line breaks and workflow-command syntax is user
    text: printed in CI it must be wrapped in stop-commands, never run. The
    only commands accessctl runs are its own, escaped."""
    repo.write("requests/aws/acme-staging/carol-poweruser.yaml", carol("2027-06-01", justification=HOSTILE))
    repo.commit("hostile")
    ctx = tmp_path / "pr.json"
    base = git(repo.root, "rev-parse", "HEAD~1").strip()
    head = git(repo.root, "rev-parse", "HEAD").strip()
    ctx.write_text(json.dumps({"number": 7, "author": "carol-acme", "head_sha": head, "base_sha": base,
                               "files": [{"path": "requests/aws/acme-staging/carol-poweruser.yaml",
                                          "status": "added"}], "reviews": []}))
    result = repo.run_process("check-pr", "--pr-context", str(ctx), "--format", "markdown",
                              env={"GITHUB_ACTIONS": "true"})
    assert result.code in (0, 1), result.err
    lines = (result.out + result.err).splitlines()
    tokens, active = set(), True
    for line in lines:
        stripped = line.lstrip()
        if not active:
            active = stripped in {f"::{t}::" for t in tokens}
            continue
        if stripped.startswith("::stop-commands::"):
            tokens.add(stripped.split("::")[2])
            active = False
            continue
        if stripped.startswith(("::", "##[")):
            assert stripped.startswith("::error file=requests/aws/acme-staging/carol-poweruser.yaml,line="), line
            assert "%0A" in stripped or "Approved by security" not in stripped
    assert "Approved by security" in result.out  # shown, as text


def test_output_guard_wraps_a_forged_command_line_in_stop_commands():
    import io

    from tools.core.workflow_commands import CommandGuard, command
    raw = io.StringIO()
    guard = CommandGuard(raw)
    guard.write("justification: fine\n  ::error::forged")
    guard.write(" annotation\n##[set-output name=x]1\nlast")
    command("warning", "ours: 100%\nsafe", stream=guard, file="a,b.yaml")
    guard.flush()
    lines = raw.getvalue().splitlines()
    assert lines[0] == "justification: fine"
    token = lines[1].removeprefix("::stop-commands::")
    assert len(token) == 32 and lines[2:4] == ["  ::error::forged annotation", f"::{token}::"]
    assert lines[4].startswith("::stop-commands::") and lines[5] == "##[set-output name=x]1"
    assert lines[7] == "::warning file=a%2Cb.yaml::ours: 100%25%0Asafe"  # our own command, escaped
    assert lines[8] == "last"
