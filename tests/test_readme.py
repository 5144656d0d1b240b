"""The README stays true: the two commands exist, the permissions are current."""
from __future__ import annotations

import re

from conftest import PROJECT

from connectors.permissions import declared, markdown


def test_readme_permissions_section_is_generated_from_the_connectors():
    text = (PROJECT / "README.md").read_text()
    section = re.search(r"<!-- permissions:start -->\n(.*)<!-- permissions:end -->", text, re.S).group(1)
    assert section == markdown(), "run: python -m connectors.permissions and paste it into the README"


def test_every_connector_operation_declares_its_permissions():
    for provider in ("aws", "gcp"):
        ops = declared(provider)
        assert ops, provider
        assert all(perms for perms in ops.values()), {k: v for k, v in ops.items() if not v}


def test_readme_commands_are_the_makefile_targets():
    text = (PROJECT / "README.md").read_text()
    makefile = (PROJECT / "Makefile").read_text()
    for target in ("demo", "test", "bench"):
        assert f"make {target}" in text and re.search(rf"^{target}:", makefile, re.M)


def test_readme_app_permissions_are_the_ones_the_sandbox_gives_the_app():
    from tools.core.github_context import APP_PERMISSIONS, app_permissions_markdown
    from tools.sandbox.github import FakeGitHub
    text = (PROJECT / "README.md").read_text()
    section = re.search(r"<!-- app-permissions:start -->\n(.*)<!-- app-permissions:end -->", text, re.S).group(1)
    assert section == app_permissions_markdown()
    assert dict(FakeGitHub().tokens["x"].permissions) == APP_PERMISSIONS  # tests run with exactly these


def test_readme_planner_section_is_generated_and_reads_only():
    from connectors.permissions import planner_aws_policy, planner_markdown, union
    text = (PROJECT / "README.md").read_text()
    section = re.search(r"<!-- planner-permissions:start -->\n(.*)<!-- planner-permissions:end -->", text, re.S).group(1)
    assert section == planner_markdown(), "run: python -m connectors.permissions --planner and paste it"
    actions = [a for st in planner_aws_policy()["Statement"] for a in st["Action"]]
    writes = re.compile(r":(Create|Delete|Put|Attach|Detach|Update|Tag|Untag|Add|Remove)")
    assert actions and not [a for a in actions if writes.search(a)]
    assert not [p for p in union("gcp", reads_only=True) if p.split(".")[-1] in
                ("setIamPolicy", "create", "delete", "update", "enable", "disable")]
