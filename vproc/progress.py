"""A progress bar (frames, fps, ETA) on a terminal, and nothing when output is not a TTY."""

from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def progress_bar(description: str, enabled: bool | None = None):
    """Yield ``update(done, total)``; a rich bar on a terminal's stderr, a no-op otherwise."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[fps]:>6.1f} fps"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, transient=False, refresh_per_second=5) as bar:
        task = bar.add_task(description, total=None, fps=0.0)

        def update(done: int, total: int | None) -> None:
            elapsed = bar.tasks[task].elapsed or 0.0
            bar.update(task, completed=done, total=max(total, done) if total else None,
                       fps=done / elapsed if elapsed > 0 else 0.0)

        yield update
