"""Progress where people look: a bar on a terminal, log groups in Actions,
a table in the Actions job summary."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from tools.core.model import Target
from tools.core.workflow_commands import command


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


@contextmanager
def per_target(label: str, enabled: bool = True) -> Iterator:
    """Yields a callback ``(target, total)`` to call after each target is read."""
    if not enabled:
        yield lambda target, total: None
    elif in_actions():
        def done(target: Target, total: int) -> None:
            command("group", f"{label} {target.provider} {target.name}", stream=sys.stderr)
            print(f"read {target.provider} {target.name} ({target.id}), mode {target.mode}", file=sys.stderr)
            command("endgroup", stream=sys.stderr)
        yield done
    elif sys.stderr.isatty():
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[current]}"), transient=True) as bar:
            task = bar.add_task(label, total=None, current="")
            yield lambda target, total: bar.update(task, total=total, advance=1,
                                                   current=f"{target.provider}/{target.name}")
    else:
        yield lambda target, total: None


def job_summary(markdown: str) -> None:
    """Append to the Actions job summary when running in Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
