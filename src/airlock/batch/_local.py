"""The local engine (the default): a pool of worker processes, one fragment each at a time.

Each worker (started with ``spawn``: no threads or database connections inherited) gets the
job's task once, loads the model once, and streams a fragment in Arrow batches: memory is
the model plus a batch or two per worker, whatever the input's size. Workers tell the driver
how many rows they scored through a queue (the progress bar), and die with the driver (Linux:
``PR_SET_PDEATHSIG``) instead of finishing fragments nobody will record. One worker runs
in the driver's own process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import queue
import signal
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ._core import Task
from ._fragments import Fragment
from ._worker import Reporter, failed, score_fragment

__all__ = ["LocalEngine"]

_task: Task | None = None
_progress: Any = None


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends at its next fragment
        pass


def _init(task: Task, progress: Any) -> None:
    global _task, _progress
    _die_with_parent()
    _task, _progress = task, progress
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per worker


def _report(n: int) -> None:
    if _progress is not None:
        _progress.put(n)


def _one(fragment: Fragment) -> Any:
    assert _task is not None
    return score_fragment(_task, fragment, _report)


class LocalEngine:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def version(self) -> str:
        return f"python {platform.python_version()}"

    def run(self, task: Task, fragments: Sequence[Fragment], report: Reporter) -> None:
        n = min(self.workers or os.cpu_count() or 1, len(fragments))
        if n <= 1 or len(fragments) <= 1:
            for fragment in fragments:
                report.done(score_fragment(task, fragment, report.rows))
            return
        ctx = mp.get_context("spawn")
        progress = ctx.Queue()
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init,
                                 initargs=(task, progress)) as pool:
            pending: dict[Future[Any], Fragment] = {pool.submit(_one, f): f for f in fragments}
            while pending:
                finished, _ = wait(list(pending), timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(progress, report)
                for future in finished:
                    fragment = pending.pop(future)
                    try:
                        report.done(future.result())
                    except BrokenProcessPool:
                        report.done(failed(fragment, "a worker process died (out of memory, "
                                           "or killed)", started))
            _drain(progress, report)
        progress.close()


def _drain(progress: Any, report: Reporter) -> None:
    total = 0
    while True:
        try:
            total += progress.get_nowait()
        except queue.Empty:
            break
    if total:
        report.rows(total)
