"""What engines run and promise: score one fragment end to end, and the engine interface.

:func:`score_fragment` is the whole of a fragment's work where the worker reads the file
itself (the local engine, and text formats on Ray and Spark): read in batches, score each
with the one :class:`~._core.Scorer`, write with :func:`~._output.write_fragment`. Any fault
becomes a ``failed`` outcome carrying its one-line error; the job retries it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import pyarrow as pa

from airlock.errors import AirlockError

from ._core import Task, scorer_for
from ._fragments import Fragment, read_batches
from ._output import write_fragment
from ._result import FragmentOutcome

__all__ = ["Engine", "Reporter", "failed", "one_line", "score_fragment"]


class Reporter(Protocol):
    """How an engine tells the job what happened (called in the driver)."""

    def rows(self, n: int) -> None:
        """``n`` more input rows were scored (progress only)."""

    def done(self, outcome: FragmentOutcome) -> None:
        """A fragment finished (done or failed); the job records it at once."""


class Engine(Protocol):
    name: str

    def version(self) -> str: ...

    def run(self, task: Task, fragments: Sequence[Fragment], report: Reporter) -> None:
        """Score ``fragments``, calling ``report.done`` once for each of them."""


def one_line(exc: BaseException) -> str:
    """An exception as one line for a person: airlock's own message, or the type and the
    first line of the message."""
    if isinstance(exc, AirlockError):
        return exc.message
    text = str(exc).strip()
    first = text.splitlines()[0][:500] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def failed(fragment: Fragment, exc: BaseException | str, started: float) -> FragmentOutcome:
    return FragmentOutcome(key=fragment.key, status="failed",
                           error=exc if isinstance(exc, str) else one_line(exc),
                           seconds=time.perf_counter() - started)


def scored(task: Task, fragment: Fragment, batches: Iterable[pa.RecordBatch],
           progress: Callable[[int], None] | None = None) -> Iterator[pa.RecordBatch]:
    """``batches`` of input rows scored by this process's scorer."""
    scorer = scorer_for(task)
    for batch in batches:
        out = scorer(batch)
        if progress is not None:
            progress(batch.num_rows)
        yield out


def score_fragment(task: Task, fragment: Fragment,
                   progress: Callable[[int], None] | None = None) -> FragmentOutcome:
    """Read, score and write one fragment; never raises (a fault is a failed outcome)."""
    started = time.perf_counter()
    try:
        batches = read_batches(task.source_fs, task.source_local, fragment, task.needed(),
                               task.batch_size)
        return write_fragment(task, fragment, scored(task, fragment, batches, progress))
    except Exception as exc:
        return failed(fragment, exc, started)
