"""The effect of a rules change on existing access: every request file on
main judged under the base and the head rules (``tools/review/impact.py``),
shown in the PR comment of a rules change and by ``accessctl evaluate
--rules REF``. One test per kind of change a reviewer must see: a tier
change, a person deactivated, a role removed from the catalog, a waiver."""
from __future__ import annotations

import json

from conftest import git
from test_check_pr import check, local_pr
from test_pr_lifecycle import admin

ERIN = "requests/gcp/acme-data-prod/erin-bigquery-viewer.yaml"
CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"
PEOPLE = "policies/data/people.yaml"
CATALOG = "policies/data/catalog.yaml"
WAIVERS = "policies/data/waivers.yaml"


def edit(repo, path: str, old: str, new: str) -> str:
    text = repo.read(path)
    assert old in text, f"{old!r} not in {path}"
    return text.replace(old, new)


def rules_pr(repo, capsys, changes: dict[str, str], author: str = "niaj-acme") -> dict:
    """Commit ``changes`` as a PR on top of main and run check-pr on it."""
    base = git(repo.root, "rev-parse", "HEAD").strip()
    for path, text in changes.items():
        repo.write(path, text)
    ctx = local_pr(repo, base, [(p, "modified") for p in changes], author=author)
    return json.loads(check(repo, capsys, ctx, "--format", "json").out)


def test_deactivating_a_person_revokes_every_grant_they_hold(repo, capsys):
    people = edit(repo, PEOPLE, "name: Erin Walsh,      active: true", "name: Erin Walsh,      active: false")
    doc = rules_pr(repo, capsys, {PEOPLE: people})
    impact = doc["impact"]
    print(json.dumps(impact, indent=1))
    print(doc["comment"])
    assert False
