"""Markdown for untrusted text (paths, justifications, policy messages).

One escaping function for everything a user controls that ends up in a PR
comment, an issue or a plan: nothing may open an HTML comment, close a
table cell, start a mention or close a code fence.
"""
from __future__ import annotations

import re
import unicodedata

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}|~!#])")
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}


def clean(text: object, limit: int | None = None) -> str:
    s = "".join(" " if ch in "\r\n\t" else ch for ch in str(text)
                if ch not in _BIDI and (ch in "\r\n\t" or unicodedata.category(ch) != "Cc"))
    s = re.sub(r" {2,}", " ", s).strip()
    return s if limit is None or len(s) <= limit else s[: limit - 1] + "…"


def md(text: object, limit: int | None = None) -> str:
    """Inline Markdown for untrusted text: one line, no HTML, no emphasis or
    links, no table-cell break, no @mention (a zero-width space follows @)."""
    return _escape(clean(text, limit))


def _escape(s: str) -> str:
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.replace("@", "@\u200b")


def code(text: object) -> str:
    """A code span for a path or identifier; falls back to escaped text when
    the value could close the span. ``|`` is escaped for table cells (GFM
    reads ``\\|`` as a literal bar even inside code)."""
    s = clean(text)
    if "`" in s or not s:
        return md(s)
    return f"`{s.replace('|', chr(92) + '|')}`"


_SPAN = re.compile(r"`([^`\n]+)`")


def prose(text: object, limit: int | None = None) -> str:
    """Like :func:`md`, but a `backticked` part (how messages and fixes name
    a command or a field) renders as a code span instead of literal
    backticks. Each span goes through :func:`code`, so it cannot close
    early; the text around it through :func:`md`."""
    s = clean(text, limit)
    out, last = [], 0
    for m in _SPAN.finditer(s):
        out.append(_escape(s[last:m.start()]))
        out.append(code(m.group(1)) if m.group(1).strip() else _escape(m.group(0)))
        last = m.end()
    out.append(_escape(s[last:]))
    return "".join(out)
