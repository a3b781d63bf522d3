"""Progress of a batch job: a rich bar with rows/s on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["Progress"]

PLAIN_EVERY_S = 10.0


class Progress:
    """Rows and fragments done so far, shown on stderr (``enabled=False``: nothing)."""

    def __init__(self, *, enabled: bool, job_id: str, fragments: int,
                 rows: int | None) -> None:
        self.enabled = enabled
        self.job_id = job_id
        self.fragments = fragments
        self.total = rows
        self.rows = 0
        self.done = 0
        self.failed = 0
        self.started = time.perf_counter()
        self._last = self.started
        self._bar: Any = None
        self._id: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("rows  {task.fields[rate]}"), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=True)
            self._id = self._bar.add_task("rows", total=rows, rate="")
            self._bar.start()

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.rows / elapsed if elapsed > 0 else 0.0

    def add_rows(self, n: int) -> None:
        self.rows += n
        if self._bar is not None:
            self._bar.update(self._id, advance=n, rate=f"{self.rate:,.0f} rows/s")
        elif self.enabled and time.perf_counter() - self._last >= PLAIN_EVERY_S:
            self._line()

    def fragment(self, ok: bool) -> None:
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self._bar is None and self.enabled:
            self._line()

    def _line(self) -> None:
        self._last = time.perf_counter()
        failed = f", {self.failed} failed" if self.failed else ""
        sys.stderr.write(f"batch: {self.done}/{self.fragments} fragments{failed}, "
                         f"{self.rows:,} rows, {self.rate:,.0f} rows/s\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
