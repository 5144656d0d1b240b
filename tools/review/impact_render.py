"""The impact of a rules change, as Markdown (the PR comment's "Effect on
existing access" and ``evaluate --rules --format markdown``) and as text.

Everything shown here can come from the PR: violation messages are written
by the head rules, team handles and waiver owners by the head org model,
file paths by whoever merged them. Each goes through ``tools.core.mdsafe``
(``md``/``code``/``prose``), so a rules PR cannot open an HTML comment,
break a table, @mention a team or fake a verdict line in the comment that
its reviewers read.
"""
from __future__ import annotations

from tools.core.mdsafe import clean, code, md, prose
from tools.review.impact import (ADD, ALLOWED, DENIED, HELD, REMOVE, DecisionChange, Impact, MembershipChange,
                                 OwnersChange, StateChange)

FOLD_ROWS = 10  # a table longer than this is folded
MAX_PROBLEMS = 3  # problems listed per row
MARK = {ALLOWED: "✅ allowed", DENIED: "❌ denied"}
ACTION = {ADD: "➕ add", REMOVE: "➖ remove", HELD: "⏸ held"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(impact: Impact) -> str:
    """The counts, one sentence each for decisions and the desired state."""
    unchanged = impact.evaluated - len(impact.changes)
    decisions = (f"{_plural(impact.evaluated, 'request file')} on main judged under both rule sets: "
                 f"{impact.count(ALLOWED, DENIED)} allowed → denied, {impact.count(DENIED, ALLOWED)} denied → "
                 f"allowed, {unchanged} unchanged.")
    grants = (f"After the merge, apply would remove {_plural(impact.actions(REMOVE), 'grant')} and add "
              f"{impact.actions(ADD)}; {impact.actions(HELD)} held.")
    return f"{decisions} {grants}"


def _problems(items: tuple[dict[str, str], ...], prefix: str = "") -> str:
    shown = [f"{prefix}{code(p['rule'])}: {prose(p['message'], 200)}" for p in items[:MAX_PROBLEMS]]
    if len(items) > MAX_PROBLEMS:
        shown.append(f"and {len(items) - MAX_PROBLEMS} more")
    return "<br>".join(shown)


def _why(c: DecisionChange) -> str:
    if c.after == DENIED:
        return _problems(c.new) or "denied (see `accessctl evaluate`)"
    parts = [_problems(c.resolved, "no longer ")] if c.resolved else []
    parts += [f"waived {code(w['rule'])} (owner {md(w['owner'])}, until {md(w['expires'])})" for w in c.waived]
    return "<br>".join(p for p in parts if p) or "allowed"


def _fold(rows: list[str], header: str, label: str) -> str:
    table = header + "\n".join(rows) + "\n"
    if len(rows) > FOLD_ROWS:
        return f"<details><summary>{label}</summary>\n\n{table}\n</details>\n"
    return table


DECISION_HEADER = "| request file | principal | grants | decision | why |\n| --- | --- | --- | --- | --- |\n"
STATE_HEADER = "| | principal | grant | target | why |\n| --- | --- | --- | --- | --- |\n"


def _decision_rows(impact: Impact) -> list[str]:
    return [f"| {code(c.file)} | {code(c.principal)} | {', '.join(code(g) for g in c.grants) or '—'} | "
            f"{MARK[c.before]} → {MARK[c.after]} | {_why(c)} |" for c in impact.changes]


def _state_row(s: StateChange) -> str:
    g = s.grant
    return f"| {ACTION[s.action]} | {code(g.principal)} | {code(g.entitlement)} | {code(s.target)} | {prose(s.why, 300)} |"


def markdown(impact: Impact, heading: str = "####") -> str:
    """The section, headed "Effect on existing access"."""
    out = [f"{heading} Effect on existing access", "",
           f"<sub>every request file on main ({md(_short(impact.state_from))}) judged under the base rules "
           f"({md(_short(impact.base_rules))}) and under this change's rules ({md(_short(impact.head_rules))}), "
           "the latter in a separate embedded engine: information for the reviewers of the rules change; "
           "the PR itself is judged by the base rules only</sub>", ""]
    if impact.errors:
        out += [f"> ⚠️ {prose(e, 400)}" for e in impact.errors] + [""]
        if not impact.evaluated:
            return "\n".join(out) + "\n"
    out += [f"**{md(summary(impact))}**", ""]
    if impact.changes:
        n = len(impact.changes)
        out += ["Decisions that change (an allowed file newly denied is refused at its next change or renewal):",
                "", _fold(_decision_rows(impact), DECISION_HEADER, f"{_plural(n, 'decision')} change")]
    if impact.state:
        n = len(impact.state)
        out += ["Desired state after the merge (what `apply` would do; what the org model withdraws is revoked, "
                "a file broken by its own content is held):", "",
                _fold([_state_row(s) for s in impact.state], STATE_HEADER, f"{_plural(n, 'grant')} change")]
    if impact.members:
        out += ["Access that changes hands through team membership (the team's grants stay; who holds them "
                "changes):", ""]
        out += [f"- {_members(m)}" for m in impact.members] + [""]
    if impact.codeowners:
        out += ["CODEOWNERS lines that change (who reviews which folder after the merge):", ""]
        out += [f"- {_owners(c)}" for c in impact.codeowners] + [""]
    if impact.empty:
        out += ["No existing access and no review routing changes.", ""]
    return "\n".join(out) + "\n"


def _members(m: MembershipChange) -> str:
    who = [f"{', '.join(md(x) for x in m.joins)} gain{'s' if len(m.joins) == 1 else ''}"] if m.joins else []
    who += [f"{', '.join(md(x) for x in m.leaves)} lose{'s' if len(m.leaves) == 1 else ''}"] if m.leaves else []
    return f"team {code(m.team)}: {' and '.join(who)} {', '.join(code(g) for g in m.grants)}"


def _owners(c: OwnersChange) -> str:
    """Owners are @handles from the org model: shown in code spans, which
    GitHub never turns into mentions (a rules PR must not page a team)."""
    if c.before is None:
        return f"{code(c.pattern)} (new): {code(c.after)}"
    if c.after is None:
        return f"{code(c.pattern)} (gone): was {code(c.before)}"
    return f"{code(c.pattern)}: {code(c.before)} → {code(c.after)}"


def _short(where: str) -> str:
    kind, _, ref = where.partition(" ")
    return f"{kind} {ref[:7]}" if kind == "commit" and len(ref) >= 7 else where


def text(impact: Impact) -> list[str]:
    """Plain lines for the terminal (the caller escapes them for rich)."""
    lines = [f"effect of {impact.head_rules} vs {impact.base_rules} on the request files of {impact.state_from}"]
    lines += [f"  ! {clean(e)}" for e in impact.errors]
    if not impact.evaluated:
        return lines
    lines.append(summary(impact))
    for c in impact.changes:
        lines.append(f"  {c.before} -> {c.after}  {clean(c.file)}  ({clean(c.principal)}: "
                     f"{clean(', '.join(c.grants))})")
        problems = c.new if c.after == DENIED else c.resolved
        verb = "" if c.after == DENIED else "no longer "
        lines += [f"      {verb}{clean(p['rule'])}: {clean(p['message'])}" for p in problems]
        lines += [f"      waived {clean(w['rule'])} (owner {clean(w['owner'])}, until {clean(w['expires'])})"
                  for w in c.waived]
    for s in impact.state:
        g = s.grant
        lines.append(f"  {s.action:<6} {clean(g.principal)} {clean(g.entitlement)} in {clean(s.target)}: "
                     f"{clean(s.why)}")
    for m in impact.members:
        lines.append(f"  team {clean(m.team)}: joins {clean(', '.join(m.joins) or '-')}, leaves "
                     f"{clean(', '.join(m.leaves) or '-')}; the team holds {clean(', '.join(m.grants))}")
    for c in impact.codeowners:
        lines.append(f"  CODEOWNERS {clean(c.pattern)}: {clean(c.before or '(none)')} -> {clean(c.after or '(none)')}")
    return lines
