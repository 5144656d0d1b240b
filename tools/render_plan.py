"""A plan as people and machines read it: text table, JSON, Markdown.

JSON is the contract for other tools (``{"changes": [...], "summary": {...}}``);
Markdown is the section the PR comment shows.
"""
from __future__ import annotations

from rich.table import Table

from tools.model import KINDS, Change, Grant, Target
from tools.plan import Plan

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


def plan_markdown(plan: Plan) -> str:
    lines = [f"**{summary_line(plan)}**", ""]
    if plan.changes or plan.held:
        lines += ["| | account / project | principal | change | why |", "|---|---|---|---|---|"]
        for c in plan.changes:
            g = c.grant
            lines.append(f"| `{SYMBOL[c.action.value]}` | {target_label(g, plan.targets)} | `{g.principal}` | "
                         f"{c.action.value} {_what(g)} | {_cell(c.reason)} |")
        for h in plan.held:
            g = h.change.grant
            lines.append(f"| ⏸ | {target_label(g, plan.targets)} | `{g.principal}` | "
                         f"{h.change.action.value} {_what(g)} (held) | {_cell(h.why)} |")
        lines += ["", "```diff"]
        for c in plan.changes:
            g = c.grant
            lines.append(f"{SYMBOL[c.action.value] if c.action.value != 'update' else '!'} "
                         f"{target_label(g, plan.targets)}: {g.principal} {g.kind} {g.entitlement}")
        lines.append("```")
    return "\n".join(lines) + "\n"


def _what(g: Grant) -> str:
    kind = KINDS.get(g.kind)
    label = kind.entitlement_field.replace("_", " ") if kind else g.kind
    return f"{label} `{g.entitlement}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
