"""The local engine (the default): the driver and a pool of worker processes, one fragment
each at a time.

``--workers N`` (default: one per core) is the driver, which scores fragments in a thread
with the model it has loaded already, plus ``N - 1`` worker processes (started with
``spawn``: no threads or database connections inherited), each of which gets the job's task
once and loads the model once. A fragment streams in Arrow batches, so memory is the model
plus a batch or two per worker, whatever the input's size. Every worker's numeric libraries
use one thread (the workers are the parallelism). Workers tell the driver how many rows they
scored through a queue (the progress bar), and die with the driver (Linux:
``PR_SET_PDEATHSIG``) instead of finishing fragments nobody will record.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import platform
import queue
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ._core import Task
from ._fragments import Fragment
from ._result import FragmentOutcome
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
    os.environ["OMP_NUM_THREADS"] = "1"  # read when the model's libraries load, after this


def _report(n: int) -> None:
    if _progress is not None:
        _progress.put(n)


def _one(fragment: Fragment) -> Any:
    assert _task is not None
    return score_fragment(_task, fragment, _report)


@contextlib.contextmanager
def _one_thread_each() -> Iterator[None]:
    """The driver's numeric libraries on one thread while it is one worker among others."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


class LocalEngine:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def version(self) -> str:
        return f"python {platform.python_version()}"

    def run(self, task: Task, fragments: Sequence[Fragment], report: Reporter) -> None:
        n = min(self.workers or os.cpu_count() or 1, len(fragments))
        if n <= 1:
            for fragment in fragments:
                report.done(score_fragment(task, fragment, report.rows))
            return
        with _one_thread_each():
            self._pool(task, list(fragments), report, n)

    def _pool(self, task: Task, fragments: list[Fragment], report: Reporter, n: int) -> None:
        todo = iter(fragments)
        lock = threading.Lock()

        def take() -> Fragment | None:
            with lock:
                return next(todo, None)

        ctx = mp.get_context("spawn")
        progress = ctx.Queue()
        mine: queue.SimpleQueue[FragmentOutcome | int] = queue.SimpleQueue()

        def driver_worker() -> None:
            while (fragment := take()) is not None:
                mine.put(score_fragment(task, fragment, mine.put))

        started = time.perf_counter()
        thread = threading.Thread(target=driver_worker, name="airlock-batch-driver",
                                  daemon=True)
        with ProcessPoolExecutor(max_workers=n - 1, mp_context=ctx, initializer=_init,
                                 initargs=(task, progress)) as pool:
            thread.start()
            running: dict[Future[Any], Fragment] = {}
            while True:
                while len(running) < n - 1 and (fragment := take()) is not None:
                    try:
                        running[pool.submit(_one, fragment)] = fragment
                    except BrokenProcessPool:  # the driver carries on alone
                        report.done(failed(fragment, "a worker process died (out of "
                                           "memory, or killed)", started))
                if not running and not thread.is_alive():
                    break
                finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress, mine, report)
                for future in finished:
                    fragment = running.pop(future)
                    try:
                        report.done(future.result())
                    except BrokenProcessPool:
                        report.done(failed(fragment, "a worker process died (out of memory, "
                                           "or killed)", started))
                if not running and thread.is_alive():
                    thread.join(0.2)
            thread.join()
            _drain(progress, mine, report)
        progress.close()


def _drain(progress: Any, mine: queue.SimpleQueue[FragmentOutcome | int],
           report: Reporter) -> None:
    total = 0
    while True:
        try:
            total += progress.get_nowait()
        except queue.Empty:
            break
    while True:
        try:
            item = mine.get_nowait()
        except queue.Empty:
            break
        if isinstance(item, int):
            total += item
        else:
            report.done(item)
    if total:
        report.rows(total)
