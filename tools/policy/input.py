"""The input document the Rego policies judge (see docs/policy-input.md).

One input per request file: the normalised request, the grants the same
principal already holds in the desired state (kept per principal so 10,000
evaluations stay small and fast), the PR context when there is one, and
``now``. The org model is data (``data.org``), not input.
"""
from __future__ import annotations

import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from tools.core.errors import UsageError
from tools.core.expiry import format_expiry
from tools.core.model import IDENTITY_KINDS, Grant, as_json
from tools.core.orgmodel import OrgModel
from tools.core.pr_context import PRContext, with_org_teams
from tools.core.repo import Tree
from tools.request.grants import request_grants, service_account_grant
from tools.request.load import AccessRequest, RequestFile, ServiceAccount, path_parts

INPUT_VERSION = 1


def read_texts(tree: Tree, paths: Iterable[str]) -> dict[str, str]:
    """Many files of a tree at once: one ``git cat-file --batch`` for a
    commit (a ``git show`` per file would cost seconds on 10,000 files)."""
    paths = list(paths)
    if tree.ref is None:
        return {p: (tree.root / p).read_text(encoding="utf-8") for p in paths}
    if not paths:
        return {}
    # Resolve blob ids with one ls-tree, then fetch blobs by id: asking
    # cat-file for "REF:path" re-walks the tree per file (~0.5 ms each).
    listing = subprocess.run(["git", "-C", str(tree.root), "ls-tree", "-r", "-z", tree.ref, "--",
                              *sorted({p.split("/", 1)[0] for p in paths})], capture_output=True)
    if listing.returncode != 0:
        raise UsageError(f"git ls-tree {tree.ref} failed: {listing.stderr.decode(errors='replace').strip()}")
    blob_of: dict[str, str] = {}
    for entry in listing.stdout.split(b"\0"):
        meta, _, name = entry.partition(b"\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == b"blob":
            blob_of[name.decode()] = parts[2].decode()
    missing = [p for p in paths if p not in blob_of]
    if missing:
        raise UsageError(f"{missing[0]} does not exist in {tree.describe()}")
    proc = subprocess.run(["git", "-C", str(tree.root), "cat-file", "--batch"],
                          input="".join(f"{blob_of[p]}\n" for p in paths).encode(), capture_output=True)
    if proc.returncode != 0:
        raise UsageError(f"git cat-file failed: {proc.stderr.decode(errors='replace').strip()}")
    out, pos, texts = proc.stdout, 0, {}
    for p in paths:
        end = out.index(b"\n", pos)
        size = int(out[pos:end].split()[2])
        pos = end + 1
        texts[p] = out[pos:pos + size].decode("utf-8", errors="replace")
        pos += size + 1
    return texts


@dataclass(frozen=True)
class PreloadedTree(Tree):
    """A commit's files already read in one batch; ``tools.request.load.read`` reads
    from here instead of spawning git for every file."""

    texts: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def read_text(self, path: str) -> str:
        if path in self.texts:
            return self.texts[path]
        return super().read_text(path)


def target_input(org: OrgModel, provider: str, name: str) -> dict[str, Any] | None:
    t = org.target(provider, name)
    if t is None:
        return {"provider": provider, "name": name, "id": None, "environment": None, "owner": None}
    return {"provider": t.provider, "name": t.name, "id": t.id, "environment": t.environment, "owner": t.owner}


def request_input(req: AccessRequest | ServiceAccount, org: OrgModel) -> dict[str, Any]:
    """The request as Rego sees it: plain JSON, expiry as RFC 3339 Z.

    Tiers, hour limits and approving teams are not copied in: the policy
    derives them from ``data.org`` so a hand-made input cannot claim them.
    """
    provider, target_name, _ = path_parts(req.path)
    # An imported file may still lack its expiry: null, which the policy's
    # expiry-missing rule denies (never a crash, never a silent pass).
    expires = format_expiry(req.expires) if req.expires is not None else None
    common = {"requester": req.requester, "ticket": req.ticket, "expires": expires,
              "imported": req.imported}
    if isinstance(req, ServiceAccount):
        oidc = ({"repository": req.oidc_repository, "ref": req.oidc_ref}
                if req.oidc_repository is not None or req.oidc_ref is not None else None)
        return {"kind": "ServiceAccount", "provider": req.provider, "name": req.name, "ref": req.ref,
                "target": target_input(org, req.provider, req.target), "owner": req.owner,
                "purpose": req.purpose, "oidc": oidc, "user_managed_keys": req.user_managed_keys,
                "use": req.use, "max_session_minutes": req.max_session_minutes, "runtime": req.runtime,
                "vendor": ({"name": req.vendor, "contact": req.vendor_contact} if req.vendor else None),
                "credential": ({"type": req.credential_type, "store": req.credential_store,
                                "rotate_days": req.rotate_days} if req.credential_type else None),
                **common}
    p = req.principal
    return {"kind": "AccessRequest",
            "principal": {"type": p.type, "id": p.id, "ref": str(p)},
            "justification": req.justification, "break_glass": req.break_glass,
            "target": target_input(org, provider, target_name),
            "grants": [{"kind": g.kind, "target": g.target, "entitlement": g.entitlement} for g in req.grants],
            **common}


def principal_of(req: AccessRequest | ServiceAccount) -> str:
    return req.ref if isinstance(req, ServiceAccount) else str(req.principal)


def grants_of(req: AccessRequest | ServiceAccount, org: OrgModel) -> list[Grant]:
    """Desired grants of one request (none when its target is unknown)."""
    if isinstance(req, ServiceAccount):
        target = org.target(req.provider, req.target)
        return [service_account_grant(req, target)] if target else []
    return request_grants(req, org)


def related_principals(principal: str, org: OrgModel) -> list[str]:
    """Principals whose access reaches this one or is reached by it: a
    person's teams (a team's grant is its members' access), a team's members.
    Separation of duties judges what someone can effectively do."""
    kind, _, ident = principal.partition(":")
    if kind == "user":
        person = org.people.get(ident)
        if person is None:
            return []
        return [f"group:{key}" for key in org.teams_by_login.get(person.github.lower(), ())]
    if kind == "group" and ident in org.teams:
        return list(org.member_principals[ident])
    return []


class StateIndex:
    """Desired-state grants by principal, remembering which file holds each,
    so one file's input can leave out that file's own (previous) version.
    Each grant's JSON is built once: a grant is in the input of every file of
    its principal and of the principal's teams (about 13 inputs each in the
    synthetic 10,000-file organisation)."""

    def __init__(self) -> None:
        self._by_principal: dict[str, list[tuple[Grant, dict[str, Any]]]] = defaultdict(list)
        # Per principal, only the grants of the ``relevant`` pairs last asked for.
        self._relevant: tuple[frozenset[tuple[str, str]] | None, dict[str, list[tuple[Grant, dict[str, Any]]]]] = \
            (None, {})

    def add_files(self, files: Iterable[RequestFile], org: OrgModel, now: datetime,
                  skip: set[str] = frozenset()) -> None:
        for rf in files:
            req = rf.request
            if req is None or rf.findings or rf.path in skip or (req.expires is not None and req.expires <= now):
                continue
            for g in grants_of(req, org):
                self._by_principal[g.principal].append((g, as_json(g)))
        self._relevant = (None, {})

    def for_request(self, req: AccessRequest | ServiceAccount, related: Iterable[str] = (),
                    relevant: frozenset[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        """Grants (as policy input JSON) of the request's principal and of
        ``related`` principals, without this file's own (previous) version.
        Of the related ones only ``relevant`` (kind, entitlement) pairs are
        kept: a team's members can hold thousands of grants, and only
        separation of duties looks at them."""
        path = req.path
        own = [j for g, j in self._by_principal.get(principal_of(req), ()) if g.request != path]
        return own + [j for p in related for g, j in self._of_relevant(p, relevant) if g.request != path]

    def _of_relevant(self, principal: str,
                     relevant: frozenset[tuple[str, str]] | None) -> list[tuple[Grant, dict[str, Any]]]:
        """A principal's grants of the ``relevant`` pairs, filtered once per
        principal: a team of 100 members is related to each member's file."""
        if relevant is None:
            return self._by_principal.get(principal, [])
        if self._relevant[0] is not relevant:
            self._relevant = (relevant, {})
        cache = self._relevant[1]
        if principal not in cache:
            cache[principal] = [(g, j) for g, j in self._by_principal.get(principal, ())
                                if (g.kind, g.entitlement) in relevant]
        return cache[principal]

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_principal.values())


def build_input(rf: RequestFile, org: OrgModel, state: StateIndex, pr: PRContext | None,
                now: datetime) -> dict[str, Any]:
    """The input document for one loaded request file."""
    assert rf.request is not None
    doc: dict[str, Any] = {
        "version": INPUT_VERSION,
        "file": rf.path,
        "now": format_expiry(now),
        "request": request_input(rf.request, org),
    }
    related = related_principals(principal_of(rf.request), org)
    doc["state"] = {"grants": state.for_request(rf.request, related, org.separation_sides), "related": related}
    if pr is not None:
        # Reviewers' teams come from the org model at the base commit, never
        # from whatever the PR context claims (see pr_context.with_org_teams).
        doc["pr"] = with_org_teams(pr, org.github_teams_by_login).as_input()
    return doc


REMOVAL_KIND = "RequestRemoval"


def removal_input(path: str, pr: PRContext, now: datetime) -> dict[str, Any]:
    """The input for a request file the PR deletes. A removal grants nothing,
    so only the PR-scope rules (a PR mixing rule and request changes) have
    anything to say about it; without this input a PR whose request changes
    are all removals would never be judged by them."""
    return {"version": INPUT_VERSION, "file": path, "now": format_expiry(now),
            "request": {"kind": REMOVAL_KIND}, "state": {"grants": [], "related": []}, "pr": pr.as_input()}


def state_needles(requests: Iterable[AccessRequest | ServiceAccount], org: OrgModel) -> set[str]:
    """Lower-case strings one of which any file granting to these principals
    or their related ones (or defining their service account) must contain:
    a cheap pre-filter before parsing thousands of base-branch files."""
    needles: set[str] = set()
    for req in requests:
        own = principal_of(req)
        for principal in (own, *related_principals(own, org)):
            kind, _, ident = principal.lower().partition(":")
            # a team key alone ("data") is in too many files; "group:data" is not
            needles.add(principal.lower() if kind == "group" else ident.rpartition("/")[2])
    return needles


def may_mention(text: str, needles: set[str]) -> bool:
    low = text.lower()
    # A backslash may hide an escaped character inside a quoted YAML scalar:
    # such a file is always parsed rather than trusted to the text search.
    return "\\" in low or any(n in low for n in needles)


__all__ = ["INPUT_VERSION", "IDENTITY_KINDS", "PreloadedTree", "REMOVAL_KIND", "StateIndex", "build_input", "removal_input",
           "read_texts", "request_input", "state_needles", "may_mention", "grants_of"]
