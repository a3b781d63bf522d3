"""Adaptive micro-batching: concurrent requests for one model are scored in one call.

Requests queue on the event loop; one worker thread per model scores a batch while the next
one fills. A batch leaves when it holds ``max_batch_size`` rows, or when ``max_wait_ms`` passed
since its first request arrived — but it only waits while more requests are plausibly on
their way: some have been read and not yet queued (the server counts them), or fewer are
queued than the recent batches held (traffic is concurrent, so the clients just answered are
about to send again). Once they are all back it leaves at once: waiting out ``max_wait_ms``
for a seventeenth request from sixteen clients was 2 ms on every request. A lone request on
a quiet server is dispatched at once.

Each request keeps its own rows and its own error: a request the model cannot score fails
alone, the others in its batch still get their answers. A runner that breaks fails only the
batch it was given; the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["BatchResult", "Batcher"]

BatchResult = Any  # what ``run`` returns for one request, or the exception it raised for it
RunBatch = Callable[[Sequence[Any]], list[BatchResult]]
_Entry = tuple[Any, "asyncio.Future[Any]", float]
RECENT = 8  # batches remembered: how many requests the next one may wait for


def _size(item: Any) -> int:
    """Rows in a queued item: anything with a ``rows`` count, or a table."""
    rows = getattr(item, "rows", None)
    return int(rows) if rows is not None else int(item.num_rows)


class Batcher:
    """Queue items for ``run`` (called in a worker thread with a list of items)."""

    def __init__(self, run: RunBatch, *, name: str, max_batch_size: int, max_wait_ms: float,
                 enabled: bool = True, arriving: Callable[[], int] | None = None,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self._run = run
        self.name = name
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.enabled = enabled
        self._arriving = arriving or (lambda: 0)
        self._on_batch = on_batch
        self._queue: deque[_Entry] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._recent: deque[int] = deque(maxlen=RECENT)  # requests in each recent batch
        self._in_flight = 0  # batches handed to the worker and not yet answered
        self._executor = ThreadPoolExecutor(max_workers=1 if enabled else 4,
                                            thread_name_prefix=f"airlock-{name}")

    async def submit(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        if not self.enabled:
            result = (await loop.run_in_executor(self._executor, self._run, [item]))[0]
            self._observe(_size(item))
            if isinstance(result, BaseException):
                raise result
            return result
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._loop(), name=f"batcher-{self.name}")
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((item, fut, time.perf_counter()))
        assert self._wake is not None
        self._wake.set()
        return await fut

    def _observe(self, rows: int) -> None:
        if self._on_batch is not None:
            with contextlib.suppress(Exception):  # a metrics hook must never stop the batcher
                self._on_batch(rows)

    async def _loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._fill()
                batch = self._take()
                if batch:
                    await self._dispatch(loop, batch)

    def _more_coming(self) -> bool:
        return self._arriving() > 0 or len(self._queue) < max(self._recent, default=0)

    async def _fill(self) -> None:
        """Wait (at most ``max_wait_ms`` from the first request) while more are coming."""
        assert self._wake is not None
        deadline = self._queue[0][2] + self.max_wait
        while self._rows() < self.max_batch_size and self._more_coming():
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                return

    def _rows(self) -> int:
        return sum(_size(t) for t, _, _ in self._queue)

    def _take(self) -> list[tuple[Any, asyncio.Future[Any]]]:
        batch: list[tuple[Any, asyncio.Future[Any]]] = []
        rows = 0
        while self._queue:
            item, fut, _ = self._queue[0]
            if batch and rows + _size(item) > self.max_batch_size:
                break
            self._queue.popleft()
            if fut.cancelled():
                continue
            batch.append((item, fut))
            rows += _size(item)
        return batch

    async def _dispatch(self, loop: asyncio.AbstractEventLoop,
                        batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        items = [t for t, _ in batch]
        self._in_flight += 1
        try:
            results: list[Any] = await loop.run_in_executor(self._executor, self._run, items)
            if not isinstance(results, list) or len(results) != len(batch):
                raise RuntimeError(f"the batch runner returned {len(results)} answers for "
                                   f"{len(batch)} requests")
        except asyncio.CancelledError:  # the batcher is closing: nobody waits for these
            for _, fut in batch:
                fut.cancel()
            raise
        except Exception as exc:  # the runner itself broke: this batch hears of it
            results = [exc] * len(batch)
        finally:
            self._in_flight -= 1
        self._recent.append(len(batch))
        self._observe(sum(_size(t) for t in items))
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    async def close(self, timeout: float = 10.0) -> None:
        """Answer what is queued and the batch being scored (up to ``timeout``), then stop."""
        deadline = time.monotonic() + timeout
        while (self._queue or self._in_flight) and self._task is not None \
                and not self._task.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # a model stuck in a call must not hold the shutdown: its thread is left to finish
        self._executor.shutdown(wait=False, cancel_futures=True)
