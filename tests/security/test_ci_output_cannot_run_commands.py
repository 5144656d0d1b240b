"""Invariant: user text printed in CI never starts a workflow command.

Threat: a justification (or file name) containing a line break and
``::error …``, ``::add-mask::`` or ``##[set-output …]`` would forge an
annotation or change the job when accessctl prints it in GitHub Actions.
"""
from __future__ import annotations

from tests.conftest import git

HOSTILE = "Fix the queue.\n::warning::approved by security\n::add-mask::x\n##[set-output name=allow]true"


def _unguarded(text: str) -> list[str]:
    """Lines the runner would run, outside stop-commands blocks."""
    found, resume = [], None
    for line in text.splitlines():
        s = line.lstrip()
        if resume:
            resume = None if s == resume else resume
        elif s.startswith("::stop-commands::"):
            resume = f"::{s.split('::')[2]}::"
        elif s.startswith(("::", "##[")):
            found.append(s)
    return found


def test_validate_and_evaluate_print_hostile_text_inertly(repo):
    path = "requests/aws/acme-staging/carol-poweruser.yaml"
    repo.write(path, "apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: user:carol@acme.example\n"
               "requester: carol-acme\njustification: |\n" + "".join(f"  {ln}\n" for ln in HOSTILE.splitlines())
               + "  and more.\n" + "expires: \"2027-09-01\"\ngrants:\n"
               "  - {kind: aws-sso-assignment, account: acme-staging, permission_set: PowerUser}\n"
               "  - {kind: no-such-kind}\n")
    repo.commit("hostile")
    assert git(repo.root, "status", "--porcelain") == ""
    for args in (("validate",), ("evaluate",), ("validate", "--format", "markdown")):
        result = repo.run_process(*args, env={"GITHUB_ACTIONS": "true"})
        assert "Traceback" not in result.err
        bad = [x for x in _unguarded(result.out + "\n" + result.err) if not x.startswith(("::error ", "::group::",
                                                                                          "::endgroup::"))]
        assert bad == [], bad


def test_a_file_name_with_a_line_break_cannot_forge_a_command(repo):
    name = "requests/aws/acme-staging/x\n::error::approved by security\n.yaml"
    (repo.root / name).write_text("apiVersion: accessctl/v1\nkind: AccessRequest\n")
    repo.commit("odd name")
    result = repo.run_process("validate", env={"GITHUB_ACTIONS": "true"})
    text = result.out + "\n" + result.err
    assert "approved by security" in text  # reported, as text …
    bad = [x for x in _unguarded(text) if not x.startswith("::error file=")]
    assert bad == [], bad  # … never as a command
    assert "::stop-commands::" in text or all("approved by security" not in x for x in _unguarded(text))
