"""The compiled schema check (jsonschema-rs) only lets a file skip
jsonschema when jsonschema would find nothing either. If it ever passed a
file jsonschema refuses, `validate` would miss a finding. Compared here on
generated request files: schema-respecting mutations of the sample
requests (fields dropped, emptied, retyped, unknown ones added, values
with odd characters, trailing newlines, unicode spaces, long and short
strings, wrong kinds): every file's findings must be identical with the
fast path and without it."""
from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT

from tools.core import orgmodel, orgschema
from tools.core.repo import Tree
from tools.request import load

ODD = ["", " ", "x", "a" * 300, "trailing\n", "PLAT-1\n", "PLAT-1", "plat-1", "ÄBC-1", "user:a@b", "user:a b@c",
       "user:a\u00a0b@c", "user:a\u2028b@c", "group:sre", "group:SRE", "serviceAccount:acme-dev/ci-role",
       "serviceAccount:acme-dev/ci", "2026-12-15", "2026-12-15T10:00:00Z", "2026-12-15 10:00", "2026-13-45",
       "011111111111", "roles/viewer", "roles/bigquery.dataViewer\n", "arn:aws:iam::aws:policy/ReadOnlyAccess",
       "allUsers", "*", "tab\tinside", "emoji 🙂 justification long enough to pass the length check"]
VALUES = ODD + [None, 0, 7, -1, 2**70, 1.5, True, False, [], {}, ["x"], {"a": 1}]


def sample_docs() -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((PROJECT / "requests").rglob("*.yaml"))]


def paths_of(value, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths_of(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths_of(v, prefix + (i,))
    return out


def mutate(rng: random.Random, doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        path = rng.choice([p for p in paths_of(doc) if p])
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        what = rng.random()
        if what < 0.2 and isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif what < 0.3 and isinstance(parent, dict):
            parent[rng.choice(["extra", "Principal", "owner", "account", "project", "oidc"])] = rng.choice(VALUES)
        else:
            parent[path[-1]] = rng.choice(VALUES)
    return doc


@pytest.mark.skipif(load._fast_validator() is None, reason="jsonschema-rs is not installed")
def test_the_fast_path_gives_the_same_findings_as_jsonschema(tmp_path, monkeypatch):
    rng = random.Random(18)
    docs = sample_docs()
    written = []
    for i in range(1500):
        base = rng.choice(docs)
        doc = mutate(rng, base)
        rel = f"requests/{'aws/acme-dev' if rng.random() < 0.6 else 'gcp/acme-data-prod'}/case-{i}.yaml"
        full = tmp_path / rel
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(yaml.safe_dump(doc, allow_unicode=rng.random() < 0.7, sort_keys=False))
        written.append(rel)
    tree = Tree(tmp_path)

    def findings(path: str) -> list:
        return [f.as_json() for f in load.read(tree, path).findings]

    fast = {p: findings(p) for p in written}
    monkeypatch.setattr(load, "_fast_validator", lambda: None)
    slow = {p: findings(p) for p in written}
    differ = [p for p in written if fast[p] != slow[p]]
    assert not differ, (differ[0], (tmp_path / differ[0]).read_text(), fast[differ[0]], slow[differ[0]])
    # the cases reach both outcomes, and many valid files did take the fast path
    valid = [p for p in written if not slow[p]]
    assert len(valid) >= 200 and len(written) - len(valid) >= 500, len(valid)
    assert sum("\\" not in (tmp_path / p).read_text() for p in valid) >= 150


@pytest.mark.skipif(orgschema._fast_validator() is None, reason="jsonschema-rs is not installed")
def test_the_org_model_fast_path_gives_the_same_findings(monkeypatch):
    """The same for the org model: generated variants of the sample model
    (values dropped, retyped, odd strings including the control characters
    only Python's \\s matches) get the same findings both ways."""
    raw, found = orgmodel.read(Tree(PROJECT))
    assert not found
    rng = random.Random(11)
    variants = [mutate(rng, raw) for _ in range(300)]
    odd = copy.deepcopy(raw)
    odd["people"][0]["email"] = "a\x1cb@acme.example"  # Python's \s matches \x1c; Rust's does not
    variants.append(odd)

    def findings(model: dict) -> list:
        return [f.as_json() for f in orgschema.check(copy.deepcopy(model), orgschema.Sources())]

    fast = [findings(v) for v in variants]
    monkeypatch.setattr(orgschema, "_fast_validator", lambda: None)
    slow = [findings(v) for v in variants]
    differ = [i for i in range(len(variants)) if fast[i] != slow[i]]
    assert not differ, (fast[differ[0]], slow[differ[0]])
    assert slow[-1], "the odd space is a finding"
    assert sum(not s for s in slow) >= 30 and sum(bool(s) for s in slow) >= 100
