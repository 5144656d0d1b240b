"""One GitHub issue per shard that tells people what drifted.

Found by a stable hidden marker, so it is never duplicated: opened when
drift appears, its body replaced with the latest table on every run,
closed when a run finds the clouds clean again.
"""
from __future__ import annotations

from tools.core import github_context
from tools.jobs.reconcile import Shard


def marker(shard: Shard) -> str:
    return "drift" if shard.count == 1 else f"drift-{shard.index}-of-{shard.count}"


def publish(drifted: bool, markdown: str, shard: Shard, gh=None) -> int | None:
    """Open (or update) the drift issue when ``drifted``, close it otherwise;
    None when there is no GitHub context."""
    gh = gh or github_context.client()
    if gh is None:
        return None
    where = "" if shard.count == 1 else f" (shard {shard.index}/{shard.count})"
    title = f"accessctl: access drifted from main{where}"
    body = ("The scheduled reconcile job found access in the clouds that differs from `main`.\n\n"
            + markdown + "\n_Updated by `accessctl reconcile` on every run; closed automatically when clean._\n")
    return gh.upsert_issue(marker(shard), title, body, open_=drifted)
