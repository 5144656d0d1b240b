"""A plan as people and machines read it: text table, JSON, Markdown.

JSON is the contract for other tools (``{"changes": [...], "summary": {...}}``);
Markdown is the section the PR comment shows.
"""
from __future__ import annotations

from rich.table import Table

from tools.core.mdsafe import code, md
from tools.core.model import KINDS, Change, Grant, Target
from tools.provision.plan import Plan

SYMBOL = {"add": "+", "remove": "-", "update": "~"}


def _target_field(grant: Grant) -> str:
    return "account" if grant.provider == "aws" else "project"


def target_label(grant: Grant, targets) -> str:
    t: Target | None = targets.get((grant.provider, grant.target))
    if t is None or t.name == t.id:
        return grant.target
    return f"{t.name} ({t.id})"


def change_json(change: Change, targets) -> dict:
    g = change.grant
    t = targets.get((g.provider, g.target))
    out = {
        "action": change.action.value,
        "provider": g.provider,
        "kind": g.kind,
        _target_field(g): g.target,
        "principal": g.principal,
        "target": g.entitlement,
        "request": g.request,
        "expires": g.expires.isoformat().replace("+00:00", "Z") if g.expires else None,
        "reason": change.reason,
    }
    if t is not None and t.name != t.id:
        out["account_name"] = t.name
    return out


def plan_json(plan: Plan) -> dict:
    return {
        "changes": [change_json(c, plan.targets) for c in plan.changes],
        "held": [dict(change_json(h.change, plan.targets), held=h.why) for h in plan.held],
        "summary": plan.summary(),
    }


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    if not plan.changes and not plan.held:
        return "No changes: the clouds match main."
    parts = [f"{s[k]} to {k}" for k in ("add", "update", "remove") if s[k]]
    line = f"{', '.join(parts) or 'nothing to apply'} in {s['targets']} target(s)"
    if s["held"]:
        line += f"; {s['held']} held back by target mode or protection"
    return line + "."


def plan_table(plan: Plan, title: str = "Plan") -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("", "where", "principal", "what", "request / reason"):
        table.add_column(col)
    style = {"add": "green", "remove": "red", "update": "yellow"}
    for c in plan.changes:
        g = c.grant
        table.add_row(f"[{style[c.action.value]}]{SYMBOL[c.action.value]}[/]", target_label(g, plan.targets),
                      g.principal, f"{g.kind} {g.entitlement}", c.reason if c.action.value != "add" else (g.request or ""))
    for h in plan.held:
        g = h.change.grant
        table.add_row(f"[dim]{SYMBOL[h.change.action.value]}[/]", target_label(g, plan.targets), g.principal,
                      f"{g.kind} {g.entitlement}", f"[dim]held: {h.why}[/]")
    return table


PLAN_HEADER = "| | account or project | principal | change | why |\n|---|---|---|---|---|\n"


def plan_rows(plan: Plan) -> list[str]:
    """Markdown table rows, every value escaped: shared by `plan --format
    markdown` and the PR comment so the two never disagree."""
    rows = []
    for c in plan.changes:
        g = c.grant
        rows.append(f"| `{SYMBOL[c.action.value]}` | {md(target_label(g, plan.targets))} | {code(g.principal)} | "
                    f"{_what(c)} | {md(c.reason)} |")
    for h in plan.held:
        g = h.change.grant
        rows.append(f"| ⏸ | {md(target_label(g, plan.targets))} | {code(g.principal)} | "
                    f"{_what(h.change)} (held back) | {md(h.why)} |")
    return rows


def plan_markdown(plan: Plan) -> str:
    rows = plan_rows(plan)
    return f"**{md(summary_line(plan))}**\n\n" + (PLAN_HEADER + "\n".join(rows) + "\n" if rows else "")


def _what(c: Change) -> str:
    g = c.grant
    kind = KINDS.get(g.kind)
    label = kind.entitlement_field.replace("_", " ") if kind else g.kind.replace("-", " ")
    until = f" until {g.expires:%Y-%m-%d %H:%M}Z" if g.expires else ""
    return f"{c.action.value} {label} {code(g.entitlement)}{until}"
