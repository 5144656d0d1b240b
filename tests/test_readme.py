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
# ---- every example runs as shown -----------------------------------------------
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402
from conftest import make_repo  # noqa: E402

BLOCK = re.compile(r"(<!-- not run by tests: [^>]*-->\n)?```(\w+)\n(.*?)```", re.S)


def blocks(lang: str) -> list[tuple[bool, str]]:
    """(exempt, body) of each fenced block in ``lang``."""
    text = (PROJECT / "README.md").read_text()
    return [(bool(m.group(1)), m.group(3)) for m in BLOCK.finditer(text) if m.group(2) == lang]


def commands(body: str) -> list[str]:
    """Shell commands of a block: continuation lines joined."""
    out, current = [], ""
    for line in body.splitlines():
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            if current.strip() and not current.lstrip().startswith("#"):
                out.append(current.strip())
            current = ""
    return out


def test_every_readme_example_is_run_or_marked_exempt():
    run = [c for exempt, body in blocks("sh") if not exempt for c in commands(body)]
    assert sum(c.startswith("accessctl ") for c in run) >= 9, run
    for exempt, body in blocks("sh"):
        if exempt:
            assert all(c.startswith("make ") for c in commands(body)), body
        else:
            assert not any("<" in c or "|" in c.replace("||", "") for c in commands(body)), \
                "placeholders belong in the commands table, not in an example"


def test_readme_examples_run_as_shown_on_a_fresh_copy(tmp_path):
    """The README's sh blocks, in order, in one shell on a fresh copy of the
    sample repository, with the installed `accessctl` first on PATH; each
    command must succeed (the sandbox stands in for the clouds)."""
    repo = make_repo(tmp_path / "access")
    subprocess.run(["git", "-C", str(repo.root), "config", "user.email", "frank@acme.example"], check=True)
    script = ["set -e -o pipefail", "trap 'accessctl sandbox down >/dev/null 2>&1 || true' EXIT"]
    for exempt, body in blocks("sh"):
        if not exempt:
            for command in commands(body):
                script += [f"echo '+ {command.replace(chr(39), '')}'", command]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "ACCESSCTL_GCP"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ACCESSCTL_NOW"] = os.environ["ACCESSCTL_NOW"]
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=repo.root, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "wrote requests/gcp/acme-data-dev/frank-dataviewer.yaml (valid)" in proc.stdout
    assert "✅ Allowed" in proc.stdout  # the local preview, approved by the data team
    assert "+ accessctl sandbox down" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_the_pre_commit_example_hook_refuses_an_invalid_request(tmp_path):
    (config,) = [yaml.safe_load(body) for _, body in blocks("yaml") if body.startswith("repos:")]
    (hook,) = config["repos"][0]["hooks"]
    published = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    assert published[0]["entry"] == hook["entry"] and published[0]["files"] == hook["files"]
    repo = make_repo(tmp_path / "access")
    good = "requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml"
    bad = "requests/gcp/acme-data-prod/typo.yaml"
    repo.write(bad, repo.read(good).replace("user:erin@", "user:eirn@"))
    assert re.search(hook["files"], good) and re.search(hook["files"], bad)
    assert not re.search(hook["files"], "policies/data/people.yaml")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    ok = subprocess.run([*hook["entry"].split(), good], cwd=repo.root, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = subprocess.run([*hook["entry"].split(), good, bad], cwd=repo.root, env=env, capture_output=True,
                             text=True)
    assert refused.returncode == 1 and f"{bad}:4: eirn@acme.example is not in policies/data/people.yaml" \
        in refused.stdout


def test_makefile_and_packaging_cite_nothing_outside_the_repository():
    for name in ("Makefile", "pyproject.toml"):
        text = (PROJECT / name).read_text()
        assert "FINDINGS" not in text and "../" not in text, name


def test_license_is_an_spdx_expression_without_deprecation_warnings():
    import warnings

    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), PROJECT / "pyproject.toml")
    assert dist.metadata.license_expression == "Apache-2.0"
    assert not [w for w in caught if "license" in str(w.message)], [str(w.message)[:200] for w in caught]


def test_readme_says_how_to_get_opa_for_the_binary_test():
    text = (PROJECT / "README.md").read_text()
    assert "opa-golib-python-bindings" in text and "--ignore-requires-python" in text
    assert "opa_linux_amd64_static" in text and "setup-opa" in text
    assert shutil.which("bash")
