"""The PR comment: a verdict rendered to Markdown from template files.

Why templates plus small Python helpers: the layout (what comes first,
what is folded) lives in ``tools/review/templates/pr_comment*.md`` where it can be
read and changed as a page, while everything a user controls (paths,
justifications, policy messages quoting request values) goes through one
escaping function here. Nothing from a request or a PR may open an HTML
comment, close a table cell, start a mention or close a code fence.
Golden files (tests/golden/) pin the output.
"""
from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template

from tools.core.mdsafe import clean, code, md, prose
from tools.provision.render import PLAN_HEADER, plan_rows, summary_line, target_label
from tools.review import impact_render
from tools.review.check_pr import APPROVAL_RULES, FileResult, Verdict

ICONS = {"allowed": "✅", "needs-approval": "⏳", "denied": "❌", "no-requests": "ℹ️"}
FOLD_ROWS = 10  # a plan longer than this is folded
MAX_DIAGRAM = 40  # changes drawn in the Mermaid diagram
MAX_TEXT = 300  # characters of a justification shown


@cache
def template(name: str) -> Template:
    return Template(resources.files("tools.review").joinpath(f"templates/{name}").read_text(encoding="utf-8"))


def team(verdict: Verdict, key: str) -> str:
    return verdict.org.mention(key)  # from the base org model: trusted, meant to notify


def _violation(v: dict) -> str:
    rule = v.get("rule", "")
    line = f", line {v['line']}" if v.get("line") and v.get("line") != 1 else ""
    return (f"- **{md(v.get('title') or rule)}** ({code(rule)}{line}): {prose(v.get('message', ''))}  \n"
            f"  _Fix:_ {prose(v.get('remediation', ''))}")


def _file_block(f: FileResult) -> str:
    status = {"allowed": "allowed", "needs-approval": "needs approval", "denied": "denied"}[f.status]
    req = f.request
    facts = []
    if req.get("kind") == "AccessRequest":
        grants = ", ".join(f"{code(g.get('entitlement', ''))} in {code(g.get('target', ''))}"
                           for g in req.get("grants", []))
        facts.append(f"{code((req.get('principal') or {}).get('ref', ''))} asks for {grants}")
    elif req.get("kind") == "ServiceAccount":
        facts.append(f"service account {code(req.get('ref', ''))} owned by {md(req.get('owner') or '?')}")
    if req.get("requester"):
        facts.append(f"requested by {md(req['requester'])}")
    if req.get("expires"):
        facts.append(f"until {md(req['expires'])}")
    if req.get("ticket"):
        facts.append(f"ticket {md(req['ticket'])}")
    if req.get("break_glass"):
        facts.append("**break-glass**")
    why = req.get("justification") or req.get("purpose")
    problems = [f"- {md(d)}" for d in f.details]
    problems += [f"- **Invalid** ({code(x.rule)}{', line ' + str(x.line) if x.line else ''}): {prose(x.message)}"
                 + (f"  \n  _Fix:_ {prose(x.fix)}" if x.fix else "") for x in f.validation]
    hard = [v for v in f.violations if v.get("rule") not in APPROVAL_RULES]
    soft = [v for v in f.violations if v.get("rule") in APPROVAL_RULES]
    problems += [_violation(v) for v in hard + soft]
    problems += [f"- _Waived_ {code(w.get('rule', ''))}: {md(w.get('message', ''))} (waiver owner "
                 f"{md((w.get('waiver') or {}).get('owner', '?'))}, until {md((w.get('waiver') or {}).get('expires', '?'))})"
                 for w in f.waived]
    if f.post_incident_review:
        problems.append("- ⚠️ Break-glass: a post-incident review issue is opened for this request.")
    return template("pr_comment_file.md").substitute(
        icon=ICONS[f.status], file=code(f.file), status=status,
        summary="; ".join(facts) + "." if facts else "",
        justification=f"> {md(why, MAX_TEXT)}\n" if why else "",
        problems="\n".join(problems) + ("\n" if problems else ""))


def _files_section(verdict: Verdict) -> str:
    blocks = [(f, _file_block(f)) for f in verdict.files]
    if len(blocks) <= 3:
        return "\n" + "\n".join(b for _, b in blocks)
    shown = [b for f, b in blocks if f.status != "allowed"]
    folded = [b for f, b in blocks if f.status == "allowed"]
    out = "\n" + "\n".join(shown)
    if folded:
        out += (f"\n<details><summary>✅ {len(folded)} request(s) allowed</summary>\n\n"
                + "\n".join(folded) + "\n</details>\n")
    return out


def _needs(verdict: Verdict, f: FileResult) -> str:
    r = f.required
    if not r:
        return "—"
    if r.get("kind") == "rules":
        parts = [f"{r.get('security', 0)} from {team(verdict, verdict.org.security_team)}"] if r.get("security") else []
        parts += [f"{n} from a lead of {team(verdict, t)}" for t, n in sorted((r.get("leads") or {}).items())]
        parts += [f"{n} from {team(verdict, t)}" for t, n in sorted((r.get("owners") or {}).items())]
        return ", ".join(parts) + " (distinct people)" if parts else "—"
    teams = " and ".join(team(verdict, t) for t in r.get("teams", [])) or "—"
    sec = f", one from {team(verdict, verdict.org.security_team)}" if r.get("security") else ""
    return f"{r.get('approvals', 0)} incl. {teams}{sec}"


def _approvals_section(verdict: Verdict) -> str:
    if not verdict.files:
        return ""
    rows = []
    for f in verdict.files:
        approved = ", ".join(md(n.user) for n in f.reviews if n.counted) or "none yet"
        missing = "; ".join(a.text(verdict.org) for a in f.asks) or (
            "—" if f.allow else "none until the request is fixed" if f.status == "denied" else "see above")
        rows.append(f"| {code(f.file)} | {_needs(verdict, f)} | {approved} | {missing} |")
    # A reviewer counted on one file is not news for being outside another file's teams.
    counted = {n.user for f in verdict.files for n in f.reviews if n.counted}
    many = len(verdict.files) > 1
    ignored = [(n.user, f.file, n.why) for f in verdict.files for n in f.reviews
               if not n.counted and not (n.user in counted and n.why.startswith("not in a team"))]
    text = ""
    if ignored:
        items = "\n".join(f"- {md(u)}{' on ' + code(p) if many else ''}: {md(w)}" for u, p, w in ignored)
        text = f"\n<details><summary>Approvals not counted ({len(ignored)})</summary>\n\n{items}\n</details>\n"
    return "\n" + template("pr_comment_approvals.md").substitute(
        head=verdict.pr.head_sha[:7], rows="\n".join(rows), ignored=text)


def _mermaid_label(text: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in " @._:/()-") else f"#{ord(ch)};"
                   for ch in clean(text, 80))


def diagram(verdict: Verdict) -> str:
    """principal → role → target, one edge style per action."""
    plan = verdict.plan.plan
    changes = plan.changes[:MAX_DIAGRAM]
    if not changes:
        return ""
    ids: dict[tuple, str] = {}
    nodes: list[str] = []

    def node(key: tuple, label: str, shape: str) -> str:
        if key not in ids:
            ids[key] = f"n{len(ids) + 1}"
            left, right = {"principal": ("([", "])"), "role": ("[", "]"), "target": ("[(", ")]")}[shape]
            nodes.append(f'  {ids[key]}{left}"{_mermaid_label(label)}"{right}')
        return ids[key]

    edges = []
    for c in changes:
        g = c.grant
        p = node(("p", g.principal), g.principal, "principal")
        r = node(("r", g.provider, g.target, g.entitlement), g.entitlement, "role")
        t = node(("t", g.provider, g.target), target_label(g, plan.targets), "target")
        arrow = {"add": "-->|add|", "remove": "-.->|remove|", "update": "==>|update|"}[c.action.value]
        edges.append(f"  {p} {arrow} {r} --> {t}")
    more = len(plan.changes) - len(changes)
    note = f"\n_{more} more change(s) not drawn._\n" if more > 0 else ""
    body = "\n".join(["```mermaid", "flowchart LR", *nodes, *dict.fromkeys(edges), "```"])
    return f"<details><summary>Diagram: principal → role → target</summary>\n\n{body}\n{note}</details>\n"


def _plan_section(verdict: Verdict) -> str:
    section = verdict.plan
    plan = section.plan
    if section.source == "none" and not plan.changes:
        return ""
    rows = plan_rows(plan)
    table = ""
    if rows:
        table = PLAN_HEADER + "\n".join(rows) + "\n"
        if len(rows) > FOLD_ROWS:
            table = f"<details><summary>{len(rows)} changes</summary>\n\n{table}\n</details>\n"
    summary = summary_line(plan) if plan.changes or plan.held else "no cloud changes"
    if section.source != "live":
        summary = summary.replace("the clouds match main", "this PR changes no grant")
    note = f"> ⚠️ {md(section.note)}\n" if section.note else ""
    return "\n" + template("pr_comment_plan.md").substitute(
        summary=md(summary.rstrip(".")), note=note, table=table, diagram=diagram(verdict))


def _impact_section(verdict: Verdict) -> str:
    """A rules change's effect on existing access (tools/review/impact.py);
    empty for every other PR."""
    if verdict.impact is None:
        return ""
    return "\n" + impact_render.markdown(verdict.impact)


def render(verdict: Verdict) -> str:
    n = len(verdict.files)
    counts = f"{n} request file{'s' if n != 1 else ''}"
    if verdict.removed:
        counts += f", {len(verdict.removed)} removed"
    body = template("pr_comment.md").substitute(
        icon=ICONS[verdict.verdict], headline=_ours(verdict, verdict.headline),
        next_step=_ours(verdict, verdict.next_step),
        pr=f"PR #{verdict.pr.number}" if verdict.pr.number else "local preview (no PR yet)", head=verdict.pr.head_sha[:7], rules_from=md(_short(verdict.rules_from)),
        engine=md(verdict.engine), counts=counts, files=_files_section(verdict),
        approvals=_approvals_section(verdict), impact=_impact_section(verdict), plan=_plan_section(verdict) + verdict.people)
    return re.sub(r"\n{3,}", "\n\n", body)


def _ours(verdict: Verdict, text: str) -> str:
    """Escaped like any text; the team mentions are restored only where the
    check wrote the whole sentence itself (approval asks, rule changes), never
    in a sentence quoting a policy message that may quote a request."""
    out = prose(text, 400)
    ours = verdict.verdict == "no-requests" or (
        verdict.verdict == "needs-approval" and all(f.asks for f in verdict.files if not f.allow))
    if ours:
        for key in verdict.org.teams:
            out = out.replace(md(team(verdict, key)), team(verdict, key))
    return out


def _short(rules_from: str) -> str:
    kind, _, ref = rules_from.partition(" ")
    return f"{kind} {ref[:7]}" if kind == "commit" and len(ref) >= 7 else rules_from


def break_glass_issue(verdict: Verdict, files: list[FileResult]) -> tuple[str, str]:
    """The post-incident review a break-glass request owes: who got what,
    until when, and what the review must answer."""
    n = verdict.pr.number
    rows = []
    for f in files:
        req = f.request
        grants = ", ".join(f"{code(g.get('entitlement', ''))} in {code(g.get('target', ''))}"
                           for g in req.get("grants", []))
        rows.append(f"- {code(f.file)}: {code((req.get('principal') or {}).get('ref', ''))} gets {grants} "
                    f"until {md(req.get('expires', '?'))}; ticket {md(req.get('ticket') or 'none')}; "
                    f"justification: {md(req.get('justification') or '', MAX_TEXT)}")
    body = "\n".join([
        f"Break-glass access was requested in PR #{n}. It skips the "
        "second approval, so it is reviewed once the incident is over.", "", *rows, "",
        "The review answers:", "- [ ] Was break-glass needed, or would the normal path have done?",
        "- [ ] What was done with the access (cloud audit logs for the period)?",
        "- [ ] Has the access ended (`accessctl audit who-has`)?",
        "- [ ] Follow-ups filed (runbook, standing access, alerting)?"])
    return f"Post-incident review: break-glass access in PR #{n}", body
