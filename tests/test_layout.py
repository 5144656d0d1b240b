"""The folders show the pipeline: each stage imports only the stages below it.

Order (DESIGN.md, README's code map): core < request < policy < provision <
jobs < review < audit < sandbox < commands. ``connectors/`` translate SDKs
for the core and import only ``tools.core``. Nothing imports test code.
Every import counts, including those inside functions.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["core", "request", "policy", "provision", "jobs", "review", "audit", "sandbox", "commands"]
SDKS = ("boto3", "botocore", "google", "github", "grpc")  # connectors/ translate, tools/sandbox included
ENGINE = ("moto",)  # the AWS emulator's engine: tools/sandbox only


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            if node.module == "tools":  # `from tools import x` names a package
                found += [(node.lineno, f"tools.{a.name}") for a in node.names]
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_every_stage_is_a_package_in_the_flow():
    packages = {p.name for p in (ROOT / "tools").iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(ORDER)
    loose = sorted(p.name for p in (ROOT / "tools").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert loose == [], "every module belongs to a stage"
    for name in ORDER:
        doc = ast.get_docstring(ast.parse((ROOT / "tools" / name / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), f"tools/{name}/__init__.py says what it does and may import"


@pytest.mark.parametrize("path", _modules("tools"), ids=lambda p: str(p.relative_to(ROOT)))
def test_stages_import_only_downwards(path: Path):
    rel = path.relative_to(ROOT / "tools").parts
    if len(rel) == 1:  # tools/__main__.py: the entry point, above everything
        return
    mine = ORDER.index(rel[0])
    for line, name in _imports(path):
        parts = name.split(".")
        assert parts[0] != "tests" and parts[0] != "fakes", f"{path}:{line} imports test code ({name})"
        if parts[0] == "tools" and len(parts) > 1 and parts[1] in ORDER:
            assert ORDER.index(parts[1]) <= mine, (
                f"{path.relative_to(ROOT)}:{line} imports {name}: tools/{rel[0]} may import only "
                f"{', '.join(ORDER[:mine + 1])}")
        assert parts[0] not in SDKS, f"{path}:{line} imports an SDK ({name}); connectors/ translate"
        if rel[0] != "sandbox":
            assert parts[0] not in ENGINE, f"{path}:{line} imports the emulator engine ({name})"


@pytest.mark.parametrize("path", _modules("connectors"), ids=lambda p: str(p.relative_to(ROOT)))
def test_connectors_import_only_the_core(path: Path):
    for line, name in _imports(path):
        parts = name.split(".")
        assert parts[0] not in ("tests", "fakes"), f"{path}:{line} imports test code ({name})"
        if parts[0] == "tools":
            assert len(parts) > 1 and parts[1] == "core", f"{path}:{line} imports {name}; connectors use tools.core only"


def test_the_check_catches_an_upward_import(tmp_path: Path):
    """The rule above is not vacuous: an upward import is seen, even inside a function."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from tools.jobs import reconcile\n")
    assert (2, "tools.jobs") in _imports(bad)
