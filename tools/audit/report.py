"""The auditor's report: an access matrix (principals × targets) with tier,
expiry, owner and last review, as JSON, CSV or one self-contained HTML page.

The HTML has no scripts and no external URLs (a Content-Security-Policy
forbids them too), so it opens the same from an artifact, an e-mail or a
file share years later; every value from the repository is escaped.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from importlib import resources
from string import Template

from tools.audit.controls import SAFEGUARDS, covering
from tools.audit.revocations import TEAM_REMOVE, Revocation
from tools.audit.reviews import Coverage
from tools.audit.nhi import NonHuman
from tools.audit.who_has import Row
from tools.core.model import Grant, Target
from tools.core.orgmodel import OrgModel
from tools.core.usage import LastUsed

TIER_ORDER = {"identity": 0, "uncatalogued": 1, "standard": 1, "sensitive": 2, "privileged": 3}
TIER_COLOUR = {"identity": "#0969da", "uncatalogued": "#8c959f", "standard": "#1a7f37",
               "sensitive": "#9a6700", "privileged": "#cf222e"}
GRAPH_LIMIT = 400  # principals drawn; the tables always list everyone
SOON = timedelta(days=7)
CSV_FIELDS = ("principal", "provider", "target", "target_name", "environment", "kind", "entitlement", "tier",
              "expires", "owner", "request", "pr", "merged_at", "approvers", "last_review", "safeguards", "last_used")
NOT_READ = "not read (audit report --live reads it)"


@dataclass(frozen=True)
class LiveFinding:
    """Live access the repository cannot explain, found by ``--live``.

    ``drift`` is reconcile's word for it: ``extra`` (live, but no request on
    main grants it) or ``changed`` (requested, but live in another form, e.g.
    without its expiry condition); ``missing`` (requested, not live) is
    counted too, though it is not access anyone holds."""

    drift: str
    grant: Grant
    target: Target
    why: str
    cloud_request: str | None = None

    def as_json(self) -> dict:
        g = self.grant
        return {"drift": self.drift, "provider": g.provider, "target": g.target, "target_name": self.target.name,
                "principal": g.principal, "kind": g.kind, "entitlement": g.entitlement,
                "expires": g.expires.isoformat().replace("+00:00", "Z") if g.expires else None,
                "cloud_request": self.cloud_request, "why": self.why}


@dataclass
class Report:
    rows: list[Row]
    targets: list[Target]
    org: OrgModel
    now: datetime
    commit: str
    live: list[LiveFinding] | None = None  # None: the clouds were not read (no --live)
    revocations: list[Revocation] = field(default_factory=list)  # from the durable record, newest first
    reviews: Coverage | None = None  # access-review coverage (tools.audit.reviews)
    non_human: list[NonHuman] | None = None  # agents and integrations (tools.audit.nhi)
    # grant key -> last use the cloud reports (tools.jobs.last_used); None: the clouds were not read
    last_used: dict[tuple, LastUsed] | None = None

    def used(self, row: Row) -> LastUsed | None:
        return (self.last_used or {}).get(row.grant.key)

    def used_text(self, row: Row) -> str:
        """The report's "last used" cell: a date, never, not reported, unknown, or not read."""
        value = self.used(row)
        return value.text() if value is not None else NOT_READ

    @property
    def principals(self) -> list[str]:
        return sorted({r.grant.principal for r in self.rows})

    def record(self, row: Row) -> dict:
        out = row.as_json()
        out["environment"] = row.target.environment
        out["last_review"] = last_review(row, self.reviews)
        out["access_review"] = self.reviews.last_review(row.grant.request) if self.reviews else None
        out["safeguards"] = covering(row.grant, row.target, self.org)
        value = self.used(row)
        out["last_used"] = value.as_json() if value is not None else None
        return out

    def as_json(self) -> dict:
        return {
            "generated_at": self.now.isoformat().replace("+00:00", "Z"), "commit": self.commit,
            "principals": self.principals,
            "targets": [{"provider": t.provider, "id": t.id, "name": t.name, "environment": t.environment,
                         "owner": t.owner, "mode": t.mode} for t in self.targets],
            "rows": [self.record(r) for r in self.rows],
            "safeguards": [s.as_json() for s in SAFEGUARDS],
            "non_human": [n.as_json() for n in self.non_human or []],
            **({"live": [f.as_json() for f in self.live]} if self.live is not None else {}),
            "revocations": [v.as_json() for v in self.revocations],
            **({"review_coverage": self.reviews.as_json()} if self.reviews is not None else {}),
        }

    def as_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in self.rows:
            rec = self.record(r)
            rec["approvers"] = " ".join(rec["approvers"]) if rec["approvers"] is not None else "unknown"
            rec["safeguards"] = " ".join(rec["safeguards"])
            rec["last_used"] = self.used_text(r)
            writer.writerow({k: _csv_safe(rec.get(k)) for k in CSV_FIELDS})
        return buf.getvalue()

    def as_html(self) -> str:
        page = resources.files("tools.audit").joinpath("templates/audit_report.html").read_text(encoding="utf-8")
        title = f"{self.org.setting('organization', 'name', default='accessctl')} access report"
        tiers = Counter(r.tier for r in self.rows)
        counts = (f"{len(self.rows)} grants held by {len(self.principals)} principals "
                  f"in {len(self.targets)} accounts and projects.")
        return Template(page).substitute(
            title=escape(title), generated=escape(_day(self.now, True)), commit=escape(self.commit[:12]),
            counts=escape(counts), summary=self._summary(tiers), graph=self._graph(),
            matrix=self._matrix(), live=self._live(), revocations=self._revocations(), targets=self._targets(),
            safeguards=self._safeguards(), nhi=self._nhi())

    # ---- HTML parts -------------------------------------------------------
    def _summary(self, tiers: Counter) -> str:
        soon = [r for r in self.rows if r.grant.expires and r.grant.expires - self.now <= SOON]
        unknown = sum(1 for r in self.rows if r.prov is None or r.prov.approvers is None)
        cells = "".join(f"<tr><th class=\"tier-{escape(t)}\">{escape(t)}</th><td>{n}</td></tr>"
                        for t, n in sorted(tiers.items(), key=lambda kv: -TIER_ORDER.get(kv[0], 0)))
        return (f"<table class=\"summary\"><tr><th>tier</th><th>grants</th></tr>{cells}</table>"
                f"<p>{len(soon)} grant(s) expire within 7 days; approvers unknown for {unknown} grant(s).</p>"
                + (f"<p>{escape(self.reviews.text())}</p>" if self.reviews is not None else ""))

    def _graph(self) -> str:
        principals = self.principals[:GRAPH_LIMIT]
        targets = self.targets
        row_h, width, left_x, right_x = 18, 900, 260, 640
        height = max(len(principals), len(targets), 1) * row_h + 20
        p_y = {p: 20 + i * row_h for i, p in enumerate(principals)}
        t_y = {(t.provider, t.id): 20 + i * (height - 30) / max(len(targets) - 1, 1) for i, t in enumerate(targets)}
        worst: dict[tuple[str, tuple[str, str]], str] = {}
        for r in self.rows:
            key = (r.grant.principal, (r.grant.provider, r.grant.target))
            if r.grant.principal in p_y and TIER_ORDER.get(r.tier, 0) >= TIER_ORDER.get(worst.get(key, ""), -1):
                worst[key] = r.tier
        parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"access graph\" "
                 f"width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"]
        for (p, tkey), tier in sorted(worst.items()):
            parts.append(f"<line class=\"edge\" x1=\"{left_x}\" y1=\"{p_y[p] - 4}\" x2=\"{right_x}\" "
                         f"y2=\"{t_y[tkey] - 4:.1f}\" stroke=\"{TIER_COLOUR.get(tier, '#8c959f')}\" "
                         f"stroke-width=\"1.5\" opacity=\"0.7\"><title>{escape(p)} → {escape(tkey[1])}: "
                         f"{escape(tier)}</title></line>")
        for p, y in p_y.items():
            parts.append(f"<circle cx=\"{left_x}\" cy=\"{y - 4}\" r=\"3\" fill=\"#57606a\"/>"
                         f"<text class=\"principal\" x=\"{left_x - 8}\" y=\"{y}\" text-anchor=\"end\">{escape(p)}</text>")
        for t in targets:
            y = t_y[(t.provider, t.id)]
            parts.append(f"<rect x=\"{right_x - 4}\" y=\"{y - 8:.1f}\" width=\"8\" height=\"8\" fill=\"#24292f\"/>"
                         f"<text class=\"target\" x=\"{right_x + 10}\" y=\"{y:.1f}\">{escape(t.provider)}/"
                         f"{escape(t.name)} ({escape(t.environment)})</text>")
        parts.append("</svg>")
        if len(self.principals) > GRAPH_LIMIT:
            parts.append(f"<p>The graph shows the first {GRAPH_LIMIT} of {len(self.principals)} principals; "
                         "the tables below list all of them.</p>")
        return "".join(parts)

    def _matrix(self) -> str:
        cells: dict[tuple[str, tuple[str, str]], list[Row]] = {}
        for r in self.rows:
            cells.setdefault((r.grant.principal, (r.grant.provider, r.grant.target)), []).append(r)
        head = "".join(f"<th scope=\"col\">{escape(t.provider)}/{escape(t.name)}</th>" for t in self.targets)
        body = []
        for p in self.principals:
            tds = []
            for t in self.targets:
                here = cells.get((p, (t.provider, t.id)), [])
                if not here:
                    tds.append("<td class=\"empty\">—</td>")
                    continue
                items = "".join(f"<li class=\"tier-{escape(r.tier)}\">{escape(r.grant.entitlement)} "
                                f"<small>({escape(r.tier)}, {escape(_day(r.grant.expires))})</small></li>"
                                for r in here)
                tds.append(f"<td><ul class=\"cell\">{items}</ul></td>")
            body.append(f"<tr><th scope=\"row\" class=\"principal\">{escape(p)}</th>{''.join(tds)}</tr>")
        return (f"<div class=\"wide\"><table class=\"matrix\"><thead><tr><th>principal</th>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table></div>")

    def _live(self) -> str:
        if self.live is None:
            return ("<p class=\"meta\">The clouds were not read for this report; run "
                    "<code>accessctl audit report --live</code> with read access to list live access "
                    "the repository cannot explain.</p>")
        shown = [f for f in self.live if f.drift != "missing"]
        missing = len(self.live) - len(shown)
        note = (f"<p>{missing} requested grant(s) are not live (drift kind <code>missing</code>); "
                "the apply or reconcile job grants them.</p>") if missing else ""
        if not shown:
            return "<p>None: every live grant in the managed scope is explained by a request on main.</p>" + note
        rows = "".join(
            f"<tr><td class=\"drift-{escape(f.drift)}\">{escape(f.drift)}</td>"
            f"<td>{escape(f.grant.provider)}/{escape(f.target.name)}</td>"
            f"<td class=\"principal\">{escape(f.grant.principal)}</td><td>{escape(f.grant.kind)}</td>"
            f"<td>{escape(f.grant.entitlement)}</td><td>{escape(_day(f.grant.expires))}</td>"
            f"<td><code>{escape(f.cloud_request or '—')}</code></td><td>{escape(f.why)}</td></tr>"
            for f in shown)
        return ("<table class=\"live\"><thead><tr><th>drift</th><th>account or project</th><th>principal</th>"
                "<th>kind</th><th>entitlement</th><th>expires</th><th>request the cloud names</th><th>why</th>"
                f"</tr></thead><tbody>{rows}</tbody></table>" + note)

    def _revocations(self) -> str:
        if not self.revocations:
            return ("<p>No revocation in the durable record (branch <code>accessctl-record</code>): "
                    "the pipeline has removed no access yet.</p>")
        rows = []
        for v in self.revocations:
            what = f"{escape(v.kind)} {escape(v.entitlement)}" + (
                f" ({escape(v.action)})" if v.action not in ("remove", TEAM_REMOVE) else "")
            by = f"{escape(v.job)} run <code>{escape((v.run or 'unknown')[:20])}</code>" + (
                f", PR #{v.pr}" if v.pr else "")
            outcome = "<td>" if v.outcome == "revoked" else '<td class="unknown">'
            rows.append(f'<tr><td>{escape(_day(v.time, True))}</td><td class="principal">{escape(v.principal)}</td>'
                        f"<td>{escape(v.provider)}/{escape(self._target_name(v.provider, v.target))}</td>"
                        f'<td>{what}</td><td class="cause">{escape(v.cause)}</td><td>{escape(v.reason)}</td>'
                        f"<td>{by}</td>{outcome}{escape(v.outcome)}</td></tr>")
        return ('<table class="revocations"><thead><tr><th>when</th><th>principal</th><th>account or project</th>'
                "<th>what</th><th>why</th><th>detail</th><th>by</th><th>outcome</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")

    def _target_name(self, provider: str, target_id: str) -> str:
        return next((t.name for t in self.targets if (t.provider, t.id) == (provider, target_id)), target_id)

    def _targets(self) -> str:
        by_target: dict[tuple[str, str], list[Row]] = {}
        for r in self.rows:
            by_target.setdefault((r.grant.provider, r.grant.target), []).append(r)
        out = []
        head = ("<tr><th>principal</th><th>kind</th><th>entitlement</th><th>tier</th><th>expires</th>"
                "<th>owner</th><th>request</th><th>PR</th><th>last review</th><th>safeguards</th><th>last used</th></tr>")
        for t in self.targets:
            rows = by_target.get((t.provider, t.id), [])
            body = "".join(self._target_row(r) for r in rows) or \
                "<tr><td class=\"empty\" colspan=\"11\">no access granted through the pipeline</td></tr>"
            anchor = escape(f"t-{t.provider}-{t.id}")
            out.append(f"<h3 id=\"{anchor}\">{escape(t.provider)}/{escape(t.name)}"
                       + (f" ({escape(t.id)})" if t.id != t.name else "")
                       + f"</h3><p class=\"meta\">environment {escape(t.environment)}, owner {escape(t.owner)}, "
                       f"mode {escape(t.mode)}</p><table class=\"target\" data-target=\"{escape(t.provider)}/"
                       f"{escape(t.id)}\"><thead>{head}</thead><tbody>{body}</tbody></table>")
        return "".join(out)

    def _target_row(self, r: Row) -> str:
        soon = r.grant.expires is not None and r.grant.expires - self.now <= SOON
        pr = f"#{r.prov.pr}" if r.prov and r.prov.pr else "—"
        review = last_review(r)
        review_html = escape(review) if r.prov and r.prov.approvers is not None else \
            f"<span class=\"unknown\">{escape(review)}</span>"
        attrs = ' class="soon"' if soon else ""
        return (f"<tr{attrs}><td class=\"principal\">{escape(r.grant.principal)}</td>"
                f"<td>{escape(r.grant.kind)}</td><td>{escape(r.grant.entitlement)}</td>"
                f"<td class=\"tier-{escape(r.tier)}\">{escape(r.tier)}</td><td>{escape(_day(r.grant.expires))}</td>"
                f"<td>{escape(r.owner)}</td><td><code>{escape(r.grant.request or '—')}</code></td>"
                f"<td>{escape(pr)}</td><td>{review_html}</td>"
                f"<td>{escape(' '.join(covering(r.grant, r.target, self.org)))}</td>"
                f"<td class=\"used\">{self._used_cell(r)}</td></tr>")

    def _used_cell(self, r: Row) -> str:
        """The value, then what the cloud said about it (source, region, key) in small print."""
        value = self.used(r)
        if value is None:
            return f"<span class=\"unknown\">{escape(NOT_READ)}</span>"
        said = "; ".join(x for x in (value.detail, value.source) if x)
        return escape(value.text()) + (f" <small>({escape(said)})</small>" if said else "")

    def _nhi(self) -> str:
        """Owner, vendor, key age, last rotation and expiry of every agent and
        integration, with the OWASP NHI items its controls address."""
        if not self.non_human:
            return "<p>No agents or third-party integrations.</p>"
        rows = "".join(
            f"<tr><td>{escape(n.principal)}</td><td>{escape(n.use)}</td><td>{escape(n.owner)}</td>"
            f"<td>{escape(n.vendor or '—')}</td>"
            f"<td>{escape('no key' if n.use == 'agent' else (f'{n.key_age_days} days' if n.key_age_days is not None else 'not issued'))}</td>"
            f"<td>{escape(_day(n.last_rotation, True) if n.last_rotation else '—')}</td>"
            f"<td>{escape(_day(n.expires))}</td>"
            f"<td class=\"controls\">{escape(', '.join(j['owasp_nhi_2025']))}</td></tr>"
            for n in self.non_human for j in [n.as_json()])
        return ("<table class=\"nhi\"><thead><tr><th>identity</th><th>use</th><th>owner</th><th>vendor</th>"
                "<th>key age</th><th>last rotation</th><th>expires</th><th>OWASP NHI Top 10 2025</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")

    def _safeguards(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(s.id)}</td><td>{escape(s.name)}</td><td>{escape(s.enforced_by)}</td>"
            f"<td class=\"controls\">{escape(', '.join(s.nist))}"
            + (f"; {escape(', '.join(s.owasp_nhi))}" if s.owasp_nhi else "") + "</td></tr>"
            for s in SAFEGUARDS)
        return ("<table class=\"safeguards\"><thead><tr><th>id</th><th>safeguard</th><th>enforced by</th>"
                "<th>control mapping (NIST CSF 2.0; OWASP NHI Top 10 2025)</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")


def last_review(row: Row, reviews: Coverage | None = None) -> str:
    """The grant's last access review and who attested it; without one, when
    the request's current content was merged through review, and by whom."""
    attested = reviews.last_review(row.grant.request) if reviews is not None else None
    if attested is not None:
        who = ", ".join(attested["reviewers"]) if attested["reviewers"] else "attesters not recorded"
        return f"{attested['time'][:10]} access review ({who})"
    p = row.prov
    if p is None or p.merged_at is None:
        return "not in git history"
    who = ", ".join(p.approvers) if p.approvers else ("no approvers recorded" if p.approvers is not None
                                                      else "approvers unknown")
    return f"{_day(p.merged_at)} ({who})"


def _day(value: datetime | None, with_time: bool = False) -> str:
    if value is None:
        return "no expiry"
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def _csv_safe(value) -> str:
    """No spreadsheet formula injection from a request's text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
