"""``accessctl codeowners``: the owners GitHub will ask for come from the org model.

Resolved with the ``codeowners`` library, which applies GitHub's matching
rules (last match wins, anchoring), so these tests check what a reviewer
would actually be asked for, not the text of the file.
"""
from __future__ import annotations

import json

import pytest
from codeowners import CodeOwners

from tests.conftest import PROJECT
from tools.core import orgmodel
from tools.core.repo import Tree
from tools.review import codeowners

SEC = "@acme/security"


def owners(text: str, path: str) -> set[str]:
    return {name for _, name in CodeOwners(text).of(path)}


@pytest.fixture(scope="module")
def rendered():
    return codeowners.render(orgmodel.load(Tree(PROJECT)))


@pytest.fixture
def generated(repo):
    assert repo.run("codeowners").code == 0
    return repo.read(".github/CODEOWNERS")


@pytest.mark.parametrize("path, expected", [
    ("requests/aws/acme-dev/bob-developer.yaml", {"@acme/platform"}),
    ("requests/aws/acme-staging/carol-poweruser.yaml", {"@acme/platform"}),
    ("requests/aws/acme-prod/sre-readonly.yaml", {"@acme/sre", SEC}),  # AdministratorAccess is requestable
    ("requests/aws/acme-payments/x.yaml", {"@acme/payments", SEC}),
    ("requests/gcp/acme-data-dev/x.yaml", {"@acme/data"}),
    ("requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml", {"@acme/data", SEC}),
    ("requests/gcp/acme-web-prod/nested/deeper.yaml", {"@acme/sre", SEC}),
    ("requests/aws/unknown-account/x.yaml", {SEC}),  # not a known target: security, not nobody
    ("policies/access/approval.rego", {SEC}),
    ("policies/data/teams.yaml", {SEC}),
    (".github/workflows/pr-check.yml", {SEC}),
    (".github/CODEOWNERS", {SEC}),
    ("connectors/github.py", {SEC}),
    ("tools/commands/cli.py", {SEC}),
    ("pyproject.toml", {SEC}),
])
def test_each_path_resolves_to_the_owning_team(rendered, path, expected):
    assert owners(rendered, path) == expected


def test_committed_file_is_current(repo, capsys):
    """The repository's own .github/CODEOWNERS matches its org model."""
    result = repo.run("codeowners", "--check", capsys=capsys)
    assert result.code == 0, result.out
    assert (PROJECT / ".github/CODEOWNERS").read_text() == repo.read(".github/CODEOWNERS")


def test_owner_change_makes_check_fail_naming_the_lines(repo, capsys):
    targets = repo.read("policies/data/targets.yaml")
    repo.write("policies/data/targets.yaml", targets.replace(
        "    - name: acme-dev\n      id: \"111111111111\"\n      environment: dev\n      owner: platform",
        "    - name: acme-dev\n      id: \"111111111111\"\n      environment: dev\n      owner: data"))
    result = repo.run("codeowners", "--check", capsys=capsys)
    assert result.code == 1
    assert "missing: /requests/aws/acme-dev/ @acme/data" in result.out
    assert "unexpected: /requests/aws/acme-dev/ @acme/platform" in result.out
    assert repo.run("codeowners").code == 0
    assert owners(repo.read(".github/CODEOWNERS"), "requests/aws/acme-dev/a.yaml") == {"@acme/data"}
    assert repo.run("codeowners", "--check").code == 0


def test_hand_edit_and_reorder_are_stale(repo, generated, capsys):
    repo.write(".github/CODEOWNERS", generated + "/policies/ @mallory-acme\n")
    result = repo.run("codeowners", "--check", "--format", "json", capsys=capsys)
    assert result.code == 1
    assert json.loads(result.out)["differences"] == ["unexpected: /policies/ @mallory-acme"]
    lines = generated.splitlines()
    star = lines.index("* @acme/security")
    lines.append(lines.pop(star))  # the catch-all last would override every team
    repo.write(".github/CODEOWNERS", "\n".join(lines) + "\n")
    result = repo.run("codeowners", "--check", capsys=capsys)
    assert result.code == 1 and "different order" in result.out


def test_missing_file_is_stale_and_regenerated(repo, capsys):
    (repo.root / ".github/CODEOWNERS").unlink(missing_ok=True)
    result = repo.run("codeowners", "--check", capsys=capsys)
    assert result.code == 1 and ".github/CODEOWNERS is missing" in result.out
    assert repo.run("codeowners").code == 0
    assert repo.run("codeowners", "--check").code == 0


def test_target_owned_by_unknown_team_is_a_one_line_error(repo):
    targets = repo.read("policies/data/targets.yaml")
    repo.write("policies/data/targets.yaml", targets.replace("owner: sre\n      mode: additive",
                                                              "owner: nobody\n      mode: additive"))
    result = repo.run_process("codeowners")
    assert result.code == 1
    assert "gcp target acme-web-prod names team 'nobody'" in result.err
    assert "Traceback" not in result.err
