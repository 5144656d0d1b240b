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
