"""A YAML reader that refuses every YAML feature a request file never needs.

PyYAML's ``safe_load`` still accepts duplicate keys (last one wins, so a
reviewer can read one value while the pipeline uses another), anchors and
aliases (a diff hides what a merge would expand), and YAML 1.1 typing
(``011111111111`` becomes an int, ``NO`` a bool). We build documents from
libyaml's event stream ourselves: plain scalars resolve only to
``true``/``false``, ``null``, decimal ints without leading zeros, or strings.
Every value's line is kept so errors point at the line to fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

try:
    _Parser = yaml.CSafeLoader  # libyaml: ~10x faster on 10,000 files
except AttributeError:  # pragma: no cover - wheels ship libyaml
    _Parser = yaml.SafeLoader

_INT = re.compile(r"-?(0|[1-9][0-9]*)\Z")
_NULL = {"null", "~", ""}

Path = tuple[str | int, ...]


class YamlError(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class Document:
    """A parsed file: plain data plus the line of every value and key."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """Line of the value at ``path``, or of its nearest ancestor."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def _scalar(event: yaml.ScalarEvent) -> Any:
    if event.style:  # quoted or block scalar: always a string
        return event.value
    value = event.value
    if value in ("true", "false"):
        return value == "true"
    if value in _NULL:
        return None
    if _INT.match(value):
        return int(value)
    return value


def loads(text: str) -> Document:
    doc = Document(None)
    try:
        events = iter(yaml.parse(text, Loader=_Parser))
        ev = next(events)  # StreamStart
        ev = next(events)
        if isinstance(ev, yaml.StreamEndEvent):
            return doc
        assert isinstance(ev, yaml.DocumentStartEvent)
        doc.data = _node(next(events), events, (), doc)
        next(events)  # DocumentEnd
        ev = next(events)
        if not isinstance(ev, yaml.StreamEndEvent):
            raise YamlError("more than one YAML document; keep one request per file",
                            ev.start_mark.line + 1)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and _tab_indented(text, mark.line):
            raise YamlError(TABS, mark.line + 1) from None
        raise YamlError(f"invalid YAML: {exc.problem or exc.context}",
                        mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from None
    return doc


TABS = "YAML does not allow tabs for indentation; use spaces"


def _tab_indented(text: str, line: int) -> bool:
    """libyaml reports a tab as a token or indentation error on its line."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return False
    current = lines[line]
    return "\t" in current[: len(current) - len(current.lstrip())]


def _node(ev: yaml.Event, events, path: Path, doc: Document) -> Any:
    line = ev.start_mark.line + 1
    if isinstance(ev, yaml.AliasEvent):
        raise YamlError("YAML aliases (*name) are not allowed; write the value out in full", line)
    if getattr(ev, "anchor", None):
        raise YamlError("YAML anchors (&name) are not allowed; write the value out in full", line)
    tag = getattr(ev, "tag", None)
    explicit = tag is not None and not (
        ev.implicit[0] if isinstance(ev, yaml.ScalarEvent) else ev.implicit
    )
    if explicit:
        raise YamlError(f"YAML tags ({tag}) are not allowed; remove the tag", line)
    doc.lines.setdefault(path, line)
    if isinstance(ev, yaml.ScalarEvent):
        return _scalar(ev)
    if isinstance(ev, yaml.SequenceStartEvent):
        items: list[Any] = []
        for ev in events:
            if isinstance(ev, yaml.SequenceEndEvent):
                return items
            items.append(_node(ev, events, path + (len(items),), doc))
    if isinstance(ev, yaml.MappingStartEvent):
        mapping: dict[str, Any] = {}
        for ev in events:
            if isinstance(ev, yaml.MappingEndEvent):
                return mapping
            key_line = ev.start_mark.line + 1
            if not isinstance(ev, yaml.ScalarEvent) or ev.anchor or not ev.implicit[0] and ev.tag:
                raise YamlError("mapping keys must be plain words", key_line)
            key = ev.value
            if key in mapping:
                raise YamlError(
                    f"duplicate key {key!r} (first on line {doc.lines[path + (key,)]}); "
                    "keep only one", key_line)
            doc.lines[path + (key,)] = key_line
            mapping[key] = _node(next(events), events, path + (key,), doc)
        return mapping
    raise YamlError(f"unexpected YAML event {type(ev).__name__}", line)


def dumps(data: Any) -> str:
    """Write data so that :func:`loads` reads it back unchanged."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False,
                          allow_unicode=False, width=100)
