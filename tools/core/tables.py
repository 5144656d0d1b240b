"""Tables that never cut what a user acts on.

Rich fits a table to the terminal by shrinking its columns and, by default,
ends a long word with an ellipsis: a principal, an entitlement or a request
path cut that way can be neither copied nor searched for. ``print_table``
prints a table only where it fits whole:

- not a terminal (a pipe, a file, a CI log): at its natural width, each row
  on one line, however wide (grep and copy see every value in full);
- a terminal wide enough: as a table;
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


def natural_width(out: Console, table: Table) -> int:
    return Measurement.get(out, out.options.update_width(UNLIMITED), table).maximum


def print_table(out: Console, table: Table) -> None:
    """Print ``table`` on ``out`` without cutting any cell."""
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = True  # a row's values stay on one line; the layout below handles width
    natural = natural_width(out, table)
    table.title_justify = "left"
    mode = os.environ.get("ACCESSCTL_TABLES", "")
    fit = mode == "fit" or out.is_terminal and mode != "full"
    if natural <= out.width:
        out.print(table)
    elif not fit:
        Console(file=out.file, width=natural, highlight=False, color_system=None).print(table)
    else:
        _records(out, table)


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
