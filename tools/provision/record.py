"""The apply record: one JSON line per change the applier made (or tried).

Clouds keep only part of a grant's provenance (a tag, a condition title), and
git knows what was merged but not what the applier actually did. The record
joins the two: time, the change, its request file, the commit applied, the PR
it came from, who approved it and how it went. The apply workflow uploads the
file as an artifact and ``accessctl audit summary`` turns the latest run into
the comment on the merged PR; ``audit who-has``/``history`` read it back.

Approvers come from GitHub only when the run has a GitHub context; without
one they are recorded as unknown (``null``), never guessed.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from tools.core.errors import FindingError
from tools.core.model import Action, Change, ChangeResult, Grant, as_json
from tools.core.repo import git

if TYPE_CHECKING:
    from tools.provision.teams_sync import TeamChange

DEFAULT_PATH = ".accessctl/apply-record.jsonl"
VERSION = 1
PR_SUBJECT = (re.compile(r"^Merge pull request #(\d+)\b"), re.compile(r"\(#(\d+)\)\s*$"))


def pr_from_subject(subject: str) -> int | None:
    """PR number of a merge commit ("Merge pull request #12 from …") or a
    squash commit ("Title (#12)"); None for a direct push."""
    for pattern in PR_SUBJECT:
        m = pattern.search(subject)
        if m:
            return int(m.group(1))
    return None


@dataclass(frozen=True)
class Provenance:
    """Where an apply run's changes came from: the same for every change of a run."""

    commit: str | None
    pr: int | None
    approvers: tuple[str, ...] | None  # None = unknown (no GitHub context)
    actor: str | None = None
    run: str | None = None  # GitHub run id, or the commit when run by hand


@dataclass(frozen=True)
class Record:
    """One line of the record, as read back."""

    time: datetime
    run: str | None
    action: str
    grant: dict
    request: str | None
    commit: str | None
    pr: int | None
    approvers: tuple[str, ...] | None
    ok: bool
    error: str | None
    actor: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def principal(self) -> str:
        return str(self.grant.get("principal", ""))

    def as_json(self) -> dict:
        return self.raw


def _event_pr() -> int | None:
    """The PR number from the Actions event payload, when there is one."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if isinstance(number, int) else None


def collect_provenance(root: Path, client_factory: Callable[[], object | None] | None = None) -> Provenance:
    """Commit, PR and approvers of this apply run.

    The PR comes from the event payload, else from the HEAD commit's subject
    (merge or squash). Approvers are asked of GitHub lazily, only when a PR
    is known and a GitHub context exists; any GitHub failure leaves them
    unknown rather than failing an apply that already happened.
    """
    commit = git(root, "rev-parse", "HEAD", check=False).strip() or None
    pr = _event_pr()
    if pr is None and commit:
        pr = pr_from_subject(git(root, "log", "-1", "--format=%s", commit, check=False).strip())
    approvers: tuple[str, ...] | None = None
    if pr is not None:
        approvers = _approvers(pr, client_factory)
    return Provenance(commit, pr, approvers, os.environ.get("GITHUB_ACTOR"),
                      os.environ.get("GITHUB_RUN_ID") or commit)


def job_provenance(root: Path) -> Provenance:
    """Provenance of a scheduled job (reconcile, expire): the commit it ran
    on, no PR and no approvers (it acts on main as a whole, not on one merge)."""
    commit = git(root, "rev-parse", "HEAD", check=False).strip() or None
    return Provenance(commit, None, None, os.environ.get("GITHUB_ACTOR"), os.environ.get("GITHUB_RUN_ID") or commit)


def _approvers(pr: int, client_factory: Callable[[], object | None] | None) -> tuple[str, ...] | None:
    if client_factory is None:
        from tools.core.github_context import client as client_factory  # GitHub only when used
    try:
        gh = client_factory()
        if gh is None:
            return None
        ctx = gh.pr_context(pr)
    except Exception:  # an outage must not fail the record of an apply that happened
        return None
    latest: dict[str, str] = {}
    for review in ctx.reviews:  # oldest first: the last word of each reviewer counts
        if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.user] = review.state
    return tuple(sorted(u for u, s in latest.items() if s == "APPROVED"))


def lines(results: Iterable[ChangeResult], prov: Provenance, now: datetime, job: str = "apply") -> list[dict]:
    """The JSON objects to append for one run's results."""
    return [_line(r.change, prov, now, job, {"ok": r.ok, "error": r.error, "calls": r.calls}) for r in results]


def _line(change: Change, prov: Provenance, now: datetime, job: str, result: dict | None) -> dict:
    g = change.grant
    return {
        "v": VERSION, "time": as_json(now), "run": prov.run, "job": job, "action": change.action.value,
        "grant": as_json(g), "reason": change.reason, "request": g.request,
        "commit": prov.commit, "pr": prov.pr,
        "approvers": list(prov.approvers) if prov.approvers is not None else None,
        "actor": prov.actor,
        "phase": "attempt" if result is None else "result",
        "result": result,
    }


# A team membership write (``teams apply``, ``reconcile --mode fix --teams``)
# is recorded like a grant: its ``grant`` names the person (``user:<email>``
# when people.yaml knows them), the system as provider, the team as target
# and the system's group as entitlement, so ``audit history`` and the
# attempt/result pairing read it like any other line; ``team`` keeps the
# system's own spelling of the member. The actions are their own, so no
# grant reader (created grants, revocations, expiry) mistakes one for access.
TEAM_ACTIONS = {"add": "team-add", "remove": "team-remove"}
TEAM_KIND = "team-membership"
TEAMS_FILE = "policies/data/teams.yaml"


def _team_line(change: "TeamChange", principal: str, prov: Provenance, now: datetime, job: str,
               result: dict | None) -> dict:
    return {
        "v": VERSION, "time": as_json(now), "run": prov.run, "job": job, "action": TEAM_ACTIONS[change.op.value],
        "grant": {"provider": change.system, "target": change.team, "principal": principal, "kind": TEAM_KIND,
                  "entitlement": change.group},
        "team": {"system": change.system, "team": change.team, "group": change.group, "member": change.member},
        "reason": change.why, "request": TEAMS_FILE, "commit": prov.commit, "pr": prov.pr,
        "approvers": list(prov.approvers) if prov.approvers is not None else None, "actor": prov.actor,
        "phase": "attempt" if result is None else "result", "result": result,
    }


UNKNOWN_OUTCOME = "outcome unknown: the run stopped during this call; the next run reads the cloud and converges"


class Journal:
    """Every write a run attempts, on disk as it happens.

    One ``attempt`` line per change is written (and flushed to disk) before
    the connector is called, and one ``result`` line right after. A run
    killed in between leaves the attempt, which ``read`` reports as an
    outcome unknown: no crash can make a write invisible to ``audit``. The
    lines are also kept in memory for the durable record (tools.provision.durable).
    Used by apply, ``reconcile --mode fix`` and ``expire`` alike (``job``)."""

    def __init__(self, path: Path | None, prov: Provenance, now: datetime, job: str):
        self.path, self.prov, self.now, self.job = path, prov, now, job
        self.written: list[dict] = []
        self._seq = 0

    def _write(self, objects: list[dict]) -> None:
        for obj in objects:
            self._seq += 1
            obj["id"] = f"{self.prov.run}:{self.job}:{self._seq}"
        self.written.extend(objects)
        if self.path is not None and objects:
            append(self.path, objects)

    def attempt(self, changes: Iterable[Change]) -> None:
        self._write([_line(c, self.prov, self.now, self.job, None) for c in changes])

    def done(self, results: Iterable[ChangeResult]) -> None:
        self._write(lines(results, self.prov, self.now, self.job))

    def extra(self, objects: Iterable[dict]) -> None:
        """Lines built elsewhere (apply's verdicts on unapproved changes),
        numbered and kept like the others."""
        self._write([dict(o, job=self.job, phase=o.get("phase", "result")) for o in objects])

    def held(self, path: str, why: str) -> None:
        """A request file whose access is held (invalid through its own
        content): listed in the durable record, where every writer reads it."""
        self._write([{"v": VERSION, "time": as_json(self.now), "run": self.prov.run, "job": self.job,
                      "action": "hold", "grant": {}, "reason": why, "request": path,
                      "commit": self.prov.commit, "pr": None, "approvers": None, "actor": self.prov.actor,
                      "phase": "result", "result": {"ok": True, "error": None, "calls": 0}}])

    def team_attempt(self, change: "TeamChange", principal: str) -> None:
        """A team membership write about to be made (on disk before the call)."""
        self._write([_team_line(change, principal, self.prov, self.now, self.job, None)])

    def team_done(self, change: "TeamChange", principal: str, error: str | None) -> None:
        self._write([_team_line(change, principal, self.prov, self.now, self.job,
                                {"ok": error is None, "error": error, "calls": 1})])

    def event(self, action: str, grant: Grant, reason: str, ok: bool, error: str | None = None) -> None:
        """A write that is not a plan change (cutting sessions, deleting an identity)."""
        change = Change(Action.REMOVE, grant, grant, reason)
        obj = _line(change, self.prov, self.now, self.job, {"ok": ok, "error": error, "calls": 1})
        obj["action"] = action
        self._write([obj])


def append(path: Path, objects: Iterable[dict]) -> int:
    """Append one line per object; the file only ever grows (an audit trail)."""
    objects = list(objects)
    if not objects:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if path.parent.name == ".accessctl" and not ignore.exists():
        # The runs' own state, never committed: a record on main would be
        # read by nobody and could be forged by anybody.
        ignore.write_text("# accessctl's per-run state: never committed (the durable record is the "
                          "accessctl-record branch)\n*\n", encoding="utf-8")
    with path.open("a", encoding="utf-8") as fh:
        for obj in objects:
            fh.write(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())  # on disk before the next cloud call: a kill -9 keeps it
    return len(objects)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def read(path: Path) -> Iterator[Record]:
    """Records in file order. A missing file is an empty record; a damaged
    line is an error naming the line, since an audit must not skip evidence.
    An attempt line is folded into its result; an attempt that never got one
    (the run died during the call) is shown as an outcome unknown."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        yield from parse_lines(fh, str(path))


def read_all(root: Path, path: Path | None = None) -> Iterator[Record]:
    """What ``audit`` and the jobs read: the durable record (the
    ``accessctl-record`` branch) followed by this checkout's local record
    lines not yet in it. An explicit ``path`` reads that file alone."""
    if path is not None:
        yield from read(path)
        return
    from tools.provision import durable  # git plumbing, only when used
    merged = durable.lines(root)
    known = set()
    for line in merged:
        try:
            known.add(json.loads(line).get("id"))
        except ValueError:
            continue
    local = root / DEFAULT_PATH
    if local.is_file():
        for line in local.read_text(encoding="utf-8").splitlines():
            try:
                ident = json.loads(line).get("id")
            except ValueError:
                ident = None
            if ident is None or ident not in known:
                merged.append(line)
    yield from parse_lines(merged, f"the {durable.BRANCH} record and {DEFAULT_PATH}")


def created_grants(records: Iterable[Record]) -> dict[tuple, dict]:
    """Grants the pipeline created and has not revoked since, by grant key,
    with the grant as recorded (its request, expiry) and its approvers.

    This is how expiry travels with a grant whose request file has left
    main: the record, not the file, says when it ends."""
    out: dict[tuple, dict] = {}
    for r in records:
        if not r.ok or r.raw.get("phase") == "attempt":
            continue
        g = r.grant
        key = tuple(g.get(k) for k in ("provider", "target", "principal", "kind", "entitlement"))
        if r.action in ("add", "update"):
            out[key] = dict(g, approvers=list(r.approvers) if r.approvers is not None else None)
        elif r.action == "remove":
            out.pop(key, None)
    return out


def publish(root: Path, journal: "Journal") -> str | None:
    """Append a run's journal to the durable record; an error line or None."""
    from tools.provision import durable
    return durable.append(root, journal.written,
                          f"accessctl {journal.job}: {len(journal.written)} line(s) from run {journal.prov.run}")


def parse_lines(lines_: Iterable[str], where: str) -> Iterator[Record]:
    parsed: list[tuple[int, dict]] = []
    for number, line in enumerate(lines_, 1):
        if not line.strip():
            continue
        try:
            parsed.append((number, json.loads(line)))
        except ValueError as exc:
            raise FindingError(f"{where}:{number}: not an apply record line ({exc}); "
                               "the record is append-only JSON lines, restore it from its history") from None
    answered = {_attempt_key(obj) for _, obj in parsed if obj.get("phase") == "result"}
    for number, obj in parsed:
        try:
            if obj.get("phase") == "attempt":
                if _attempt_key(obj) in answered:
                    continue
                obj = dict(obj, result={"ok": False, "error": UNKNOWN_OUTCOME, "calls": None})
            result = obj.get("result") or {}
            approvers = obj.get("approvers")
            yield Record(_parse_time(obj["time"]), obj.get("run"), obj["action"], dict(obj["grant"]),
                         obj.get("request"), obj.get("commit"), obj.get("pr"),
                         tuple(approvers) if approvers is not None else None,
                         bool(result.get("ok")), result.get("error"), obj.get("actor"), obj)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FindingError(f"{where}:{number}: not an apply record line ({exc}); "
                               "the record is append-only JSON lines, restore it from its history") from None


def _attempt_key(obj: dict) -> tuple:
    g = obj.get("grant") or {}
    return (obj.get("run"), obj.get("job"), obj.get("action"),
            tuple(str(g.get(k)) for k in ("provider", "target", "principal", "kind", "entitlement")))


def latest_run(records: Iterable[Record]) -> list[Record]:
    """The records of the last run in the file (runs are appended in order)."""
    records = list(records)
    if not records:
        return []
    last = records[-1].run
    out = []
    for r in reversed(records):
        if r.run != last:
            break
        out.append(r)
    return out[::-1]


def summary_markdown(records: list[Record]) -> str:
    """The merged PR's comment: what was applied, what failed, with provenance."""
    if not records:
        return "### accessctl apply\n\nNothing was applied: the clouds already matched `main`.\n"
    failed = [r for r in records if not r.ok]
    first = records[0]
    who = ", ".join(first.approvers) if first.approvers else "unknown (no GitHub context)"
    head = (f"### accessctl apply\n\n{len(records) - len(failed)} of {len(records)} change(s) applied"
            f" from commit `{(first.commit or 'unknown')[:12]}`"
            + (f" (PR #{first.pr})" if first.pr else "") + f"; approvers: {who}.\n")
    if failed:
        head += f"\n**{len(failed)} failed**: re-run the apply job; it is idempotent.\n"
    rows = ["", "| result | action | principal | kind | entitlement | target | expires | request |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        g = r.grant
        mark = "✅" if r.ok else f"❌ {_md(r.error or 'failed')}"
        rows.append(f"| {mark} | {r.action} | {_md(g.get('principal', ''))} | {g.get('kind', '')} | "
                    f"{_md(g.get('entitlement', ''))} | {g.get('target', '')} | {g.get('expires') or '—'} | "
                    f"{_md(r.request or '—')} |")
    return head + "\n".join(rows) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
