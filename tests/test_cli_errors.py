"""Day one, errors: each mistake a new user makes is named once, with its
fix, in one run, by a real `accessctl` process (no traceback reaches them)."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import NOW, PROJECT, git

THREE_MISTAKES = """\
apiVersion: accessctl/v1
kind: AccessRequest
principal: group:data-engs
requester: dave-acme
justification: too short
expires: "2027-02-30"
grants:
  - kind: gcp-project-role
    project: acme-data-prod
    role: roles/bigquery.dataViewer
"""
PATH = "requests/gcp/acme-data-prod/data-viewer.yaml"


def test_validate_reports_every_problem_of_a_file_in_one_run(repo):
    repo.write(PATH, THREE_MISTAKES)
    r = repo.run_process("validate", PATH)
    assert r.code == 1, r.out + r.err
    assert "justification is too short (9 characters)" in r.out
    assert "expires '2027-02-30' is not a real date" in r.out and "February 2027 has 28 days" in r.out
    assert "team 'data-engs' does not exist" in r.out and "use one of: data," in r.out
    assert "3 error(s) in 1 of 1 file(s)" in r.out
    assert "Traceback" not in r.out + r.err


def test_a_broken_file_never_makes_a_valid_one_its_duplicate(repo):
    """The partly-read file is checked against the valid ones, never the reverse:
    otherwise a typo in a new file could take a valid grant out of main."""
    sample = "requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml"
    broken = repo.read(sample).replace("justification: Build", "justification: x\nticket: nope\n#")
    repo.write("requests/gcp/acme-data-prod/aaa-copy.yaml", broken)  # sorts before the sample
    r = repo.run_process("validate", "--format", "json")
    files = {e["file"] for e in __import__("json").loads(r.out)["errors"]}
    assert files == {"requests/gcp/acme-data-prod/aaa-copy.yaml"}, r.out


def test_tab_indentation_is_named_with_its_fix(repo):
    repo.write(PATH, THREE_MISTAKES.replace("  - kind", "\t- kind"))
    r = repo.run_process("validate", PATH)
    assert r.code == 1
    assert f"{PATH}:8: YAML does not allow tabs for indentation; use spaces" in r.out


def test_evaluate_denies_what_validate_rejects_and_says_approvals_were_not_checked(repo):
    sample = repo.read("requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml")
    repo.write("requests/gcp/acme-data-dev/erin.yaml", sample)              # grant for another folder
    repo.write("requests/gcp/acme-data-prod/erin-again.yaml", sample)       # the same grant twice
    r = repo.run_process("evaluate", "requests/gcp/acme-data-dev/erin.yaml",
                         "requests/gcp/acme-data-prod/erin-again.yaml")
    assert r.code == 1, r.out + r.err
    assert "ALLOW" not in r.out
    assert "DENY  requests/gcp/acme-data-dev/erin.yaml" in r.out
    assert "but this file is under requests/gcp/acme-data-dev/" in r.out
    assert "DENY  requests/gcp/acme-data-prod/erin-again.yaml" in r.out and "already requested in" in r.out
    assert "approvals not checked: no PR context" in r.out
    js = repo.run_process("evaluate", "--format", "json", "requests/gcp/acme-data-dev/erin.yaml")
    doc = __import__("json").loads(js.out)
    assert doc[0]["allow"] is False and doc[0]["violations"][0]["rule"] == "invalid-request"


def test_unknown_role_in_who_has_is_a_usage_error_listing_the_roles(repo):
    r = repo.run_process("audit", "who-has", "acme-data-prod", "--role", "roles/bigquery.viewer")
    assert r.code == 2, r.out + r.err
    assert "--role 'roles/bigquery.viewer' is not a role in gcp/acme-data-prod" in r.err
    assert "roles/bigquery.dataViewer" in r.err and "Traceback" not in r.err


def test_since_that_is_not_a_commit_is_a_usage_error(repo):
    for command in ("plan", "apply"):
        r = repo.run_process(command, "--since", "no-such-ref")
        assert r.code == 2, (command, r.out, r.err)
        assert "--since 'no-such-ref' is not a commit of this repository" in r.err


def test_since_all_zero_still_means_everything(repo):
    from tools.core.repo import require_commit
    assert require_commit(repo.root, "0" * 40, "--since") is None
    head = git(repo.root, "rev-parse", "HEAD").strip()
    assert require_commit(repo.root, "HEAD", "--since") == head


def test_version():
    r = subprocess.run([sys.executable, "-m", "tools", "--version"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(PROJECT)}, cwd=PROJECT)
    assert r.returncode == 0 and r.stdout.startswith("accessctl ") and r.stdout.split()[1][0].isdigit()


BUG = ("import sys, tools.commands.validate as v\n"
       "def run(args, ctx):\n    raise KeyError('boom')\n"
       "v.run = run\n"
       "from tools.commands.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def _with_a_bug(repo, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "ACCESSCTL_NOW": NOW}
    env.pop("ACCESSCTL_DEBUG", None)
    return subprocess.run([sys.executable, "-c", BUG, *args], cwd=repo.root, capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL)


def test_an_internal_error_exits_3_with_one_line_asking_for_a_report(repo):
    r = _with_a_bug(repo, "validate")
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" in lines[0] and "KeyError" in lines[0]
    assert "Please report it" in lines[0] and "--debug" in lines[0]
    assert "Traceback" not in r.stderr


def test_debug_adds_the_traceback(repo):
    r = _with_a_bug(repo, "validate", "--debug")
    assert r.returncode == 3
    assert "Traceback (most recent call last)" in r.stderr and ", in run" in r.stderr
    assert "internal error" in r.stderr.strip().splitlines()[-1]


def test_usage_errors_stay_exit_2(repo):
    r = repo.run_process("validate", "--format", "markdown")
    assert r.code == 2 and "invalid choice: 'markdown'" in r.err
