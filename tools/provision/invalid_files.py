"""Which invalid request files on main keep their access, and which lose it.

A file on main can become invalid two ways, and the writers must treat them
oppositely:

- **through its own content** (YAML or schema errors, too large, a wrong
  folder, a duplicate definition: a bad merge or a hand edit). Revoking
  would punish the beneficiary for a typo, silently. Its access is *held*:
  what its last valid version granted stays, and every writer reports the
  file loudly (exit 1) until it is fixed or deliberately removed.
- **because the org model withdrew what it relies on** (the person is
  inactive or gone, the target or the role left the catalog, a tier limit it
  now exceeds, the waiver it relied on ended) or because it expired. That is the intended way to revoke:
  the access goes, and the output says why.

``disposition`` is the one place that draws this line; apply, reconcile,
expire, the impact and the access-review features all ask it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tools.core.errors import Finding
from tools.core.model import Grant
from tools.core.orgmodel import OrgModel
from tools.core.repo import Tree, git
from tools.request import load
from tools.request.grants import request_grants, service_account_grant
from tools.request.validate import INCOMPLETE_IMPORT, REVOKING

HOLD, REVOKE, KEEP = "hold", "revoke", "keep"
# Rules whose finding means the org model (or time) withdrew the access.
REVOKING_RULES = REVOKING
HISTORY_DEPTH = 50  # commits searched for a file's last valid version


def disposition(findings: Iterable[Finding]) -> str:
    """``hold``, ``revoke`` or ``keep`` (no finding that costs access).

    Any finding about the file's own content holds, even when a withdrawing
    finding is present too: a file that cannot be read reliably is never
    the reason access disappears. Unknown rules hold (the safe side)."""
    rules = {f.rule for f in findings} - {INCOMPLETE_IMPORT}
    if not rules:
        return KEEP
    if rules - REVOKING_RULES:
        return HOLD
    return REVOKE


@dataclass(frozen=True)
class HeldFile:
    path: str
    findings: tuple[Finding, ...]
    grants: tuple[Grant, ...]  # what its last valid version granted

    @property
    def why(self) -> str:
        first = self.findings[0] if self.findings else None
        return (f"{self.path} is invalid through its own content"
                + (f" ({first.message}{f', line {first.line}' if first.line else ''})" if first else "")
                + "; its access is held until the file is fixed or deliberately removed")


def held_files(root: Path, files: list[load.RequestFile], org: OrgModel) -> list[HeldFile]:
    """The files on main whose access is held, each with the grants it held."""
    out = []
    for rf in files:
        if disposition(rf.findings) != HOLD:
            continue
        out.append(HeldFile(rf.path, tuple(f for f in rf.findings if f.rule not in REVOKING_RULES) or
                            tuple(rf.findings), tuple(last_valid_grants(root, rf.path, org))))
    return out


def last_valid_grants(root: Path, path: str, org: OrgModel) -> list[Grant]:
    """Grants of the newest committed version of ``path`` that loads cleanly
    (YAML and schema): the access the file stood for before it broke."""
    commits = git(root, "log", f"-{HISTORY_DEPTH}", "--format=%H", "--", path, check=False).split()
    for commit in commits:
        tree = Tree(root, commit)
        if not tree.exists(path):
            continue
        rf = load.read(tree, path)
        if rf.request is None or rf.findings:
            continue
        req = rf.request
        if isinstance(req, load.ServiceAccount):
            target = org.target(req.provider, req.target)
            return [service_account_grant(req, target)] if target else []
        return request_grants(req, org)
    return []


def hold_keys(held: Iterable[HeldFile]) -> dict[tuple, str]:
    """Grant key → why it is held; plus, by request path, grants whose live
    copy names the file (GCP conditions, CI role tags)."""
    out: dict[tuple, str] = {}
    for h in held:
        for g in h.grants:
            out[g.key] = h.why
        out[("request", h.path)] = h.why
    return out
