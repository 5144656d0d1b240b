"""Tables that never cut what a user acts on.

Rich fits a table to the terminal by shrinking its columns and, by default,
ends a long word with an ellipsis: a principal, an entitlement or a request
path cut that way can be neither copied nor searched for. ``print_table``
prints a table only where it fits whole:

- not a terminal (a pipe, a file, a CI log): at its natural width, each row
  on one line, however wide (grep and copy see every value in full);
- a terminal wide enough: as a table, sentences wrapped at spaces, every
  word (a principal, an entitlement, a path has no spaces) whole;
- a narrower terminal: one block per row, ``column: value`` on a line each,
  long values folded onto the next line rather than cut.

``ACCESSCTL_TABLES=fit`` lays tables out for the console's width even when
it is not a terminal (the demo captures each command's output and shows it
in its own terminal); ``ACCESSCTL_TABLES=full`` always prints them whole.
"""
from __future__ import annotations

import os

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

UNLIMITED = 100_000  # characters: wider than any table we print


def widths(out: Console, table: Table) -> Measurement:
    """(narrowest without cutting a word, natural), unbounded by the console."""
    return Measurement.get(out, out.options.update_width(UNLIMITED), table)


def print_table(out: Console, table: Table) -> None:
    """Print ``table`` on ``out`` without cutting any cell."""
    for column in table.columns:
        column.overflow = "fold"
        # A column of single words (principals, paths, dates) is never narrowed;
        # prose columns wrap at spaces to make room.
        column.no_wrap = all(" " not in _plain(c).strip() for c in column.cells)
    need = widths(out, table)
    natural = need.maximum
    table.title_justify = "left"
    mode = os.environ.get("ACCESSCTL_TABLES", "")
    fit = mode == "fit" or out.is_terminal and mode != "full"
    if natural <= out.width:
        out.print(table)
    elif fit and need.minimum <= out.width and _words_whole(out, table):
        out.print(table)  # every word (a principal, a path) keeps its width; sentences wrap
    elif not fit:
        Console(file=out.file, width=natural, highlight=False, color_system=None).print(table)
    else:
        _records(out, table)


def _words_whole(out: Console, table: Table) -> bool:
    """Rendered at the console's width, does every word of every cell stay on one line?"""
    lines = out.render_lines(table, out.options, pad=False)
    shown = "\n".join("".join(segment.text for segment in line) for line in lines)
    return all(word in shown for column in table.columns for cell in column.cells
               for word in _plain(cell).split())


def _plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain


def _records(out: Console, table: Table) -> None:
    """One block per row: the unnamed first column (a +/- mark) leads it."""
    if table.title:
        out.print(table.title if isinstance(table.title, Text) else Text.from_markup(str(table.title)),
                  style="italic")
    columns = [(str(c.header), list(c.cells)) for c in table.columns]
    for i in range(table.row_count):
        lead = ""
        lines: list[Text] = []
        for header, cells in columns:
            cell = cells[i] if i < len(cells) else ""
            value = cell if isinstance(cell, Text) else Text.from_markup(str(cell))
            if not header:
                lead = value
                continue
            if not value.plain:
                continue
            lines.append(Text.assemble((f"{header}: ", "bold"), value))
        mark = lead if isinstance(lead, Text) and lead.plain else Text("•")
        indent = mark.cell_len + 1
        for n, line in enumerate(lines):
            prefix = mark if n == 0 else Text(" " * mark.cell_len)
            for k, part in enumerate(_wrap(out, line, out.width - indent - 2)):
                out.print(Text.assemble(prefix if k == 0 else " " * (indent + 2), " " if k == 0 else "", part),
                          soft_wrap=True)
        out.print()


def _wrap(out: Console, line: Text, width: int) -> list[Text]:
    """Words wrap; a token longer than the line folds onto the next."""
    if width < 20:
        return [line]
    return list(line.wrap(out, width, overflow="fold"))
