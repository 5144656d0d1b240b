"""The product installs and runs without the source checkout.

A user who installs the wheel (not an editable checkout) runs `accessctl demo`
from an empty folder: the emulators and the sample repository come with the
package. Offline: the wheel is built here without build isolation and
installed with --no-index; its dependencies come from this test environment.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build_wheel(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(out), str(ROOT)], check=True, capture_output=True)
    (wheel,) = out.glob("accessctl-*.whl")
    return wheel


def test_wheel_runs_the_demo_from_an_empty_folder(tmp_path: Path):
    wheel = _build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert not any(n.startswith("tests/") for n in names), "test code is not part of the product"
    for shipped in ("tools/sandbox/sample/policies/data/catalog.yaml", "tools/sandbox/sample/github/CODEOWNERS",
                    "tools/sandbox/aws.py", "tools/request/schemas/request.v1.schema.json",
                    "tools/core/schemas/org.v1.schema.json",
                    "tools/review/templates/pr_comment.md", "tools/audit/templates/audit_report.html"):
        assert shipped in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    # The test environment's packages (boto3, moto, …) without its editable accessctl:
    # a plain path line in a .pth adds the folder but runs none of the .pth files in it.
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "test-environment.pth").write_text("\n".join(sorted(here)) + "\n")
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ACCESSCTL_", "GITHUB_", "AWS_"))}
    where = subprocess.run([str(py), "-c", "import tools; print(tools.__file__)"], cwd=empty, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), f"accessctl came from {where}, not the installed wheel"

    run = subprocess.run([str(venv / "bin" / "accessctl"), "demo", "--format", "json"], cwd=empty, env=env,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["ok"] is True
    assert "The auditor asks" in result["steps"], "the whole loop ran, to the last step"
    assert list(empty.iterdir()) == [], "the demo leaves nothing behind in the folder it ran from"
