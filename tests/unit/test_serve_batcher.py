"""Adaptive micro-batching: concurrent requests merge (up to max_batch_size), each caller gets
exactly its own rows and its own error, a lone request never waits for company that is not
coming, max_wait_ms bounds the wait when company is announced, enabled=False scores each
request alone, and close() answers what is queued."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import pyarrow as pa

from airlock.errors import InvalidInput
from airlock.serve._batcher import Batcher

Run = Callable[[Sequence[pa.Table]], list[Any]]


class Recorder:
    """A run function that returns each input table with a column added (the batch size it
    was scored in), records every call, and fails the requests whose ``id`` is in ``bad``."""

    def __init__(self, *, sleep: float = 0.0, bad: frozenset[int] = frozenset()) -> None:
        self.calls: list[list[int]] = []  # the ids of every table in every call
        self.rows: list[int] = []
        self.sleep = sleep
        self.bad = bad
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, tables: Sequence[pa.Table]) -> list[Any]:
        with self._lock:
            self.calls.append([t.column("id")[0].as_py() for t in tables])
            self.rows.append(sum(t.num_rows for t in tables))
            self.threads.add(threading.current_thread().name)
        if self.sleep:
            time.sleep(self.sleep)
        out: list[Any] = []
        for t in tables:
            if set(t.column("id").to_pylist()) & self.bad:
                out.append(InvalidInput(f"request {t.column('id')[0].as_py()} is bad"))
            else:
                out.append(t.append_column("batch", pa.array([len(tables)] * t.num_rows)))
        return out


def one_row(i: int) -> pa.Table:
    return pa.table({"id": [i], "x": [float(i) * 1.5]})


def rows(i: int, n: int) -> pa.Table:
    return pa.table({"id": [i] * n, "x": [float(i * 1000 + j) for j in range(n)]})


def run(coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
    """Run a test coroutine with a hard timeout, so a batcher that loses a request fails the
    test instead of hanging it."""
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def submit_all(batcher: Batcher, tables: list[pa.Table]) -> list[Any]:
    try:
        return await asyncio.gather(*(batcher.submit(t) for t in tables),
                                    return_exceptions=True)
    finally:
        await batcher.close()


def outcome(task: asyncio.Future[Any]) -> Any:
    if task.cancelled():
        return "cancelled"
    return task.exception() or task.result()


def assert_own_rows(sent: list[pa.Table], got: list[Any]) -> None:
    assert len(got) == len(sent)
    for table, answer in zip(sent, got, strict=True):
        assert isinstance(answer, pa.Table), answer
        assert answer.drop_columns(["batch"]).equals(table)


# --- merging and splitting ------------------------------------------------------------------

def test_concurrent_requests_merge_and_each_caller_gets_its_own_rows() -> None:
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=16, max_wait_ms=5)
    sent = [one_row(i) for i in range(50)]
    got = run(submit_all(batcher, sent))
    assert_own_rows(sent, got)
    assert sum(rec.rows) == 50
    assert len(rec.calls) < 50 and max(rec.rows) > 1  # merged
    assert max(rec.rows) <= 16
    assert sorted(i for call in rec.calls for i in call) == list(range(50))  # each once
    # the answer tells how many requests shared its call
    sizes = {i: len(call) for call in rec.calls for i in call}
    assert [a.column("batch")[0].as_py() for a in got] == [sizes[i] for i in range(50)]


def test_merging_with_staggered_arrivals_announced_by_arriving() -> None:
    """Requests that trickle in while the server announces them wait (≤ max_wait_ms) for each
    other; results are still each caller's own."""
    rec = Recorder()
    pending = {"n": 40}
    batcher = Batcher(rec, name="m", max_batch_size=8, max_wait_ms=50,
                      arriving=lambda: pending["n"])

    async def client(i: int) -> Any:
        await asyncio.sleep(0.001 * (i % 10))
        pending["n"] -= 1
        return await batcher.submit(one_row(i))

    async def main() -> list[Any]:
        try:
            return await asyncio.gather(*(client(i) for i in range(40)))
        finally:
            await batcher.close()

    sent = [one_row(i) for i in range(40)]
    got = run(main())
    assert_own_rows(sent, got)
    assert max(rec.rows) > 1 and max(rec.rows) <= 8
    assert len(rec.calls) <= 40 // 2


def test_multi_row_requests_keep_their_rows() -> None:
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=10, max_wait_ms=5)
    sent = [rows(i, 1 + i % 4) for i in range(30)]
    got = run(submit_all(batcher, sent))
    assert_own_rows(sent, got)
    assert max(rec.rows) <= 10 and max(len(c) for c in rec.calls) > 1


def test_max_batch_size_is_respected() -> None:
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=4, max_wait_ms=5)
    got = run(submit_all(batcher, [one_row(i) for i in range(20)]))
    assert all(isinstance(g, pa.Table) for g in got)
    assert rec.rows == [4] * 5


def test_a_request_larger_than_max_batch_size_runs_alone() -> None:
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=8, max_wait_ms=5)
    sent = [one_row(0), rows(1, 25), one_row(2), one_row(3)]
    got = run(submit_all(batcher, sent))
    assert_own_rows(sent, got)
    assert [1] in rec.calls  # the 25-row request had a call to itself
    assert rec.rows == [1, 25, 2]


def test_max_batch_size_one_means_no_merging() -> None:
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=1, max_wait_ms=5)
    sent = [one_row(i) for i in range(10)]
    assert_own_rows(sent, run(submit_all(batcher, sent)))
    assert rec.calls == [[i] for i in range(10)]


def test_next_batch_fills_while_one_is_scored() -> None:
    rec = Recorder(sleep=0.05)
    batcher = Batcher(rec, name="m", max_batch_size=32, max_wait_ms=1)

    async def main() -> list[Any]:
        first = asyncio.ensure_future(batcher.submit(one_row(0)))
        await asyncio.sleep(0.01)  # the first is being scored now
        rest = [batcher.submit(one_row(i)) for i in range(1, 11)]
        try:
            return [await first, *await asyncio.gather(*rest)]
        finally:
            await batcher.close()

    run(main())
    assert rec.calls == [[0], list(range(1, 11))]
    assert len(rec.threads) == 1 and next(iter(rec.threads)).startswith("airlock-m")


def test_on_batch_hears_every_batch_size() -> None:
    sizes: list[int] = []
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=6, max_wait_ms=5, on_batch=sizes.append)
    run(submit_all(batcher, [rows(i, 2) for i in range(9)]))
    assert sizes == rec.rows == [6, 6, 6]


# --- errors stay with their request ---------------------------------------------------------

def test_a_request_the_model_rejects_fails_alone() -> None:
    rec = Recorder(bad=frozenset({7}))
    batcher = Batcher(rec, name="m", max_batch_size=64, max_wait_ms=5)
    sent = [one_row(i) for i in range(20)]
    got = run(submit_all(batcher, sent))
    assert any(7 in call and len(call) > 1 for call in rec.calls)  # it shared a batch
    assert isinstance(got[7], InvalidInput) and str(got[7]) == "request 7 is bad"
    assert_own_rows(sent[:7] + sent[8:], got[:7] + got[8:])


def test_a_broken_runner_fails_every_request_of_its_batch_and_the_batcher_goes_on() -> None:
    calls = {"n": 0}

    def flaky(tables: Sequence[pa.Table]) -> list[Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("model crashed")
        return list(tables)

    batcher = Batcher(flaky, name="m", max_batch_size=64, max_wait_ms=5)

    async def main() -> tuple[list[Any], Any]:
        first = await asyncio.gather(*(batcher.submit(one_row(i)) for i in range(5)),
                                     return_exceptions=True)
        try:
            return first, await batcher.submit(one_row(99))
        finally:
            await batcher.close()

    first, later = run(main())
    assert all(isinstance(e, RuntimeError) and str(e) == "model crashed" for e in first)
    assert later.equals(one_row(99))


def test_a_cancelled_request_is_skipped_and_others_answered() -> None:
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=64, max_wait_ms=5)

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(batcher.submit(one_row(i))) for i in range(5)]
        await asyncio.sleep(0)  # all five queued, none dispatched yet
        tasks[2].cancel()
        try:
            return await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await batcher.close()

    got = run(main())
    assert isinstance(got[2], asyncio.CancelledError)
    assert rec.calls == [[0, 1, 3, 4]]


def test_a_runner_answering_the_wrong_number_of_results_fails_that_batch_only() -> None:
    calls = {"n": 0}

    def short(tables: Sequence[pa.Table]) -> list[Any]:
        calls["n"] += 1
        return list(tables)[:1] if calls["n"] == 1 else list(tables)

    batcher = Batcher(short, name="m", max_batch_size=64, max_wait_ms=5)

    async def main() -> tuple[list[Any], Any]:
        first = await asyncio.gather(*(batcher.submit(one_row(i)) for i in range(3)),
                                     return_exceptions=True)
        try:
            return first, await batcher.submit(one_row(99))
        finally:
            await batcher.close()

    try:
        first, later = run(main(), timeout=2)
    finally:  # today the loop task dies: read its error so asyncio does not log it at exit
        task = batcher._task
        if task is not None and task.done() and not task.cancelled():
            task.exception()
    assert all(isinstance(e, Exception) for e in first)
    assert later.equals(one_row(99))


# --- waiting: never for nobody, at most max_wait_ms for somebody -----------------------------

def lone_latency(arriving: Callable[[], int], max_wait_ms: float) -> float:
    batcher = Batcher(Recorder(), name="m", max_batch_size=64, max_wait_ms=max_wait_ms,
                      arriving=arriving)

    async def main() -> float:
        await batcher.submit(one_row(-1))  # start the loop and the thread
        started = time.perf_counter()
        try:
            await batcher.submit(one_row(0))
            return time.perf_counter() - started
        finally:
            await batcher.close()

    return float(run(main()))


def test_a_lone_request_is_dispatched_without_waiting() -> None:
    assert lone_latency(lambda: 0, max_wait_ms=200) < 0.1


def test_announced_company_is_awaited_at_most_max_wait_ms() -> None:
    elapsed = lone_latency(lambda: 1, max_wait_ms=200)  # says one more is coming; it never does
    assert 0.18 <= elapsed < 1.0


def test_a_full_batch_leaves_without_waiting_for_max_wait() -> None:
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=4, max_wait_ms=5_000, arriving=lambda: 1)

    async def main() -> float:
        started = time.perf_counter()
        try:
            await asyncio.gather(*(batcher.submit(one_row(i)) for i in range(4)))
            return time.perf_counter() - started
        finally:
            await batcher.close()

    assert run(main()) < 1.0
    assert rec.rows[0] == 4


def test_a_batch_waits_for_the_clients_of_recent_batches_and_not_a_moment_longer() -> None:
    """After a batch of four, the next waits for four (they trickle in 20 ms apart), then
    leaves at once: not after max_wait_ms, and not with the first one alone."""
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=64, max_wait_ms=2_000)

    async def client(i: int, delay: float) -> Any:
        await asyncio.sleep(delay)
        return await batcher.submit(one_row(i))

    async def main() -> float:
        try:
            await asyncio.gather(*(batcher.submit(one_row(i)) for i in range(4)))
            started = time.perf_counter()
            await asyncio.gather(*(client(10 + i, 0.02 * i) for i in range(4)))
            return time.perf_counter() - started
        finally:
            await batcher.close()

    elapsed = run(main())
    assert rec.calls == [[0, 1, 2, 3], [10, 11, 12, 13]]
    assert 0.05 <= elapsed < 1.0  # the last came after 60 ms; max_wait_ms is 2 s


def test_recent_batches_are_forgotten_so_a_lone_request_stops_waiting() -> None:
    """Once the concurrent burst is over (eight lone batches), a lone request is dispatched
    without waiting for company that stopped coming."""
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=64, max_wait_ms=100)

    async def main() -> float:
        try:
            await asyncio.gather(*(batcher.submit(one_row(i)) for i in range(6)))
            for i in range(8):  # each waits up to 100 ms while the burst is remembered
                await batcher.submit(one_row(10 + i))
            started = time.perf_counter()
            await batcher.submit(one_row(99))
            return time.perf_counter() - started
        finally:
            await batcher.close()

    assert run(main()) < 0.05
    assert rec.calls[0] == list(range(6)) and rec.calls[-1] == [99]


# --- batching off ---------------------------------------------------------------------------

def test_disabled_runs_each_request_alone() -> None:
    rec = Recorder(sleep=0.01, bad=frozenset({3}))
    sizes: list[int] = []
    batcher = Batcher(rec, name="m", max_batch_size=64, max_wait_ms=50, enabled=False,
                      on_batch=sizes.append)
    sent = [rows(i, 2) for i in range(12)]
    got = run(submit_all(batcher, sent))
    assert sorted(rec.calls) == [[i] for i in range(12)]
    assert sizes == [2] * 12
    assert isinstance(got[3], InvalidInput)
    assert_own_rows(sent[:3] + sent[4:], got[:3] + got[4:])
    assert all(a.column("batch")[0].as_py() == 1 for a in got if isinstance(a, pa.Table))


# --- close ----------------------------------------------------------------------------------

def test_close_on_an_unused_batcher() -> None:
    run(Batcher(Recorder(), name="m", max_batch_size=4, max_wait_ms=1).close())


def test_close_after_answers_stops_the_loop() -> None:
    rec = Recorder()
    batcher = Batcher(rec, name="m", max_batch_size=4, max_wait_ms=1)

    async def main() -> None:
        await batcher.submit(one_row(1))
        task = batcher._task
        await batcher.close()
        assert task is not None and task.done() and batcher._task is None

    run(main())


def test_close_answers_queued_work() -> None:
    rec = Recorder(sleep=0.03)
    batcher = Batcher(rec, name="m", max_batch_size=4, max_wait_ms=1)

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(batcher.submit(one_row(i))) for i in range(10)]
        await asyncio.sleep(0)  # all queued
        await batcher.close()
        done, _ = await asyncio.wait(tasks, timeout=2)
        assert len(done) == 10
        return [outcome(t) for t in tasks]

    got = run(main())
    assert_own_rows([one_row(i) for i in range(10)], got)
