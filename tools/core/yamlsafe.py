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
    parser = _Parser(text)
    # libyaml's events pulled one by one: yaml.parse wraps each in a Python
    # generator step and a check_event call, about half of the reading time
    # of 10,000 request files.
    events = iter(parser.get_event, None)
    try:
        next(events)  # StreamStart
        ev = next(events)
        if type(ev) is yaml.StreamEndEvent:
            return doc
        assert type(ev) is yaml.DocumentStartEvent
        doc.data = _node(next(events), events, (), doc)
        next(events)  # DocumentEnd
        ev = next(events)
        if type(ev) is not yaml.StreamEndEvent:
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
    finally:
        parser.dispose()
    return doc


TABS = "YAML does not allow tabs for indentation; use spaces"


def _tab_indented(text: str, line: int) -> bool:
    """libyaml reports a tab as a token or indentation error on its line."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return False
    current = lines[line]
    return "\t" in current[: len(current) - len(current.lstrip())]


_Scalar, _SeqStart, _SeqEnd = yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.SequenceEndEvent
_MapStart, _MapEnd, _Alias = yaml.MappingStartEvent, yaml.MappingEndEvent, yaml.AliasEvent


def _node(ev: yaml.Event, events, path: Path, doc: Document) -> Any:
    line = ev.start_mark.line + 1
    kind = type(ev)
    if kind is _Alias:
        raise YamlError("YAML aliases (*name) are not allowed; write the value out in full", line)
    if kind is not _Scalar and kind is not _SeqStart and kind is not _MapStart:
        raise YamlError(f"unexpected YAML event {kind.__name__}", line)
    if ev.anchor:
        raise YamlError("YAML anchors (&name) are not allowed; write the value out in full", line)
    tag = ev.tag
    if tag is not None and not (ev.implicit[0] if kind is _Scalar else ev.implicit):
        raise YamlError(f"YAML tags ({tag}) are not allowed; remove the tag", line)
    lines = doc.lines
    if path not in lines:
        lines[path] = line
    if kind is _Scalar:
        return _scalar(ev)
    if kind is _SeqStart:
        items: list[Any] = []
        for ev in events:
            if type(ev) is _SeqEnd:
                return items
            items.append(_node(ev, events, path + (len(items),), doc))
        return items
    mapping: dict[str, Any] = {}
    for ev in events:
        if type(ev) is _MapEnd:
            return mapping
        key_line = ev.start_mark.line + 1
        if type(ev) is not _Scalar or ev.anchor or not ev.implicit[0] and ev.tag:
            raise YamlError("mapping keys must be plain words", key_line)
        key = ev.value
        if key in mapping:
            raise YamlError(
                f"duplicate key {key!r} (first on line {lines[path + (key,)]}); "
                "keep only one", key_line)
        lines[path + (key,)] = key_line
        mapping[key] = _node(next(events), events, path + (key,), doc)
    return mapping


def dumps(data: Any) -> str:
    """Write data so that :func:`loads` reads it back unchanged."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False,
                          allow_unicode=False, width=100)
