"""The durable prediction log's writer: group commit to local spools, rolls to segments.

:meth:`PredictionLog.append` returns a future that resolves once the rows are written and
fsync'd to a local spool file. One writer thread drains everything queued, writes it as one
Arrow IPC message per schema, fsyncs once and then resolves all those futures (group commit).
Spools roll by size and age into zstd Parquet segments in the artifact store (on a second
thread, so a roll never stalls the appends); spools left by a dead process are recovered at
start and periodically. Files and naming: see :mod:`airlock.predlog._spool`.

One open spool per distinct schema: a 90/10 canary whose versions take different inputs, or a
shadow that answers only sometimes, would otherwise close a spool on every alternation.

The constructor only stores configuration; :meth:`PredictionLog.open` (or ``with``) creates
the spool folder and starts the two threads.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa

from airlock._files import fsync_dir
from airlock.errors import InvalidInput, PredictionLogError, UsageError
from airlock.store import ArtifactStore

from ._redact import Redactor
from ._schema import PREDICTIONS, check_log_schema, check_name
from ._spool import SpoolFile, convert_spool, recover_spools, spool_folder

__all__ = ["PredictionLog"]

log = logging.getLogger("airlock.predlog")

MiB = 1 << 20
CLOSED = "the prediction log of endpoint {!r} is closed; rows can no longer be appended"
NOT_OPEN = "the prediction log of endpoint {!r} is not open: call open() or use it in a with"
CONVERT_ATTEMPTS = 3


@dataclass
class _Item:
    kind: Literal["rows", "flush", "roll", "stop"]
    table: pa.Table | None = None
    # rows, flush: None once durable; roll, stop: the futures of the segments being stored
    future: Future[Any] = field(default_factory=Future)


@dataclass
class _Job:
    path: Path
    fd: int
    done: Future[None] = field(default_factory=Future)


# -- the log ------------------------------------------------------------------------------
class PredictionLog:
    """Durable, append-only log of one endpoint's predictions (or, with ``stream="feedback"``,
    its delayed labels). Thread-safe; call :meth:`close` on shutdown.

    ``append`` never blocks on I/O and never drops rows: when the writer falls behind the
    rows wait in memory and :attr:`pending_rows` / :attr:`overloaded` tell the server to shed
    load. A spool rolls into a segment once it holds ``segment_max_bytes`` or is
    ``segment_max_seconds`` old."""

    def __init__(self, endpoint: str, *, spool_dir: Path | str, artifact_uri: str,
                 stream: str = PREDICTIONS, segment_max_bytes: int = 64 * MiB,
                 segment_max_seconds: float = 300.0, redactor: Redactor | None = None,
                 high_water_rows: int = 100_000, max_open_spools: int = 16) -> None:
        for name, value in (("segment_max_bytes", segment_max_bytes),
                            ("segment_max_seconds", segment_max_seconds),
                            ("high_water_rows", high_water_rows),
                            ("max_open_spools", max_open_spools)):
            if not isinstance(value, int | float) or value <= 0:
                raise UsageError(f"{name} must be a positive number, got {value!r}")
        self.endpoint = check_name("endpoint", endpoint)
        self.stream = check_name("stream", stream)
        self.spool_dir, self.artifact_uri = Path(spool_dir), artifact_uri
        self.segment_max_bytes, self.segment_max_seconds = segment_max_bytes, segment_max_seconds
        self.redactor, self.high_water_rows = redactor, high_water_rows
        self.max_open_spools = max_open_spools
        self._prefix = f"{stream}/{endpoint}"
        self._folder = spool_folder(spool_dir, stream, endpoint)
        self._recover_every = max(1.0, min(float(segment_max_seconds), 60.0))
        self._cond = threading.Condition()
        self._queue: list[_Item] = []
        self._pending = 0
        self._opened = self._closed = False
        # schemas compare in 0.1 us but hash in ~10: keep short lists, never hash them
        self._accepted: list[pa.Schema] = []
        self._spools: list[tuple[pa.Schema, SpoolFile]] = []  # writer thread only
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._store: ArtifactStore | None = None
        self._threads: tuple[threading.Thread, ...] = ()

    def open(self) -> PredictionLog:
        """Create the spool folder and start the writer and converter threads (which first
        recovers spools left by dead writers). Idempotent; returns the log."""
        with self._cond:
            if self._closed:
                raise UsageError(CLOSED.format(self.endpoint))
            if self._opened:
                return self
            try:
                self._folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot create the spool folder {self._folder}: "
                                 f"{exc.strerror or exc}") from None
            self._store = ArtifactStore(self.artifact_uri)
            self._threads = (
                threading.Thread(target=self._convert_loop, daemon=True,
                                 name=f"airlock-predlog-{self.endpoint}-roll"),
                threading.Thread(target=self._write_loop, daemon=True,
                                 name=f"airlock-predlog-{self.endpoint}"))
            for thread in self._threads:
                thread.start()
            self._opened = True
        return self

    # -- public ---------------------------------------------------------------------------
    @property
    def pending_rows(self) -> int:
        """Rows appended but not yet durable."""
        return self._pending

    @property
    def overloaded(self) -> bool:
        """True while more than ``high_water_rows`` rows wait: time to shed load."""
        return self._pending > self.high_water_rows

    def append(self, table: pa.Table) -> Future[None]:
        """Queue rows; the future resolves once they are fsync'd to the local spool, or fails
        with :class:`PredictionLogError`. In asyncio: ``await asyncio.wrap_future(...)``."""
        if not isinstance(table, pa.Table):
            raise InvalidInput(f"append takes a pyarrow.Table, got {type(table).__name__}")
        if table.schema.metadata:
            table = table.replace_schema_metadata(None)
        schema = table.schema
        if not any(schema == known for known in self._accepted):
            self._accept(schema)
        item = _Item("rows", table)
        item.future.set_running_or_notify_cancel()  # cannot be cancelled: it will be written
        with self._cond:
            if self._closed:
                raise UsageError(CLOSED.format(self.endpoint))
            if not self._opened:
                raise UsageError(NOT_OPEN.format(self.endpoint))
            if table.num_rows == 0:
                item.future.set_result(None)
                return item.future
            self._queue.append(item)
            self._pending += table.num_rows
            self._cond.notify()
        return item.future

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything appended so far is durable (or has failed)."""
        self._control("flush", timeout, closed_ok=True)

    def roll(self, timeout: float | None = None) -> None:
        """Roll every open spool into a segment now and wait until the segments are stored."""
        self._control("roll", timeout, closed_ok=False)

    def close(self, timeout: float | None = 60.0) -> None:
        """Drain, roll, stop the threads. Idempotent. A segment that cannot be stored stays
        in its spool and is recovered by the next log on this spool folder."""
        with self._cond:
            if not self._closed:
                self._closed = True
                if not self._opened:
                    return
                self._queue.append(_Item("stop"))
                self._cond.notify()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                raise PredictionLogError(
                    f"the prediction log of {self.endpoint!r} did not finish within {timeout}s;"
                    " what is not converted stays in its spool and is recovered later")

    def __enter__(self) -> PredictionLog:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- appending side -------------------------------------------------------------------
    def _accept(self, schema: pa.Schema) -> None:
        check_log_schema(schema)
        if self.redactor is not None:
            self.redactor.check(schema)
        self._accepted.append(schema)
        if len(self._accepted) > 64:  # bounded, whatever the callers send
            del self._accepted[0]

    def _control(self, kind: Literal["flush", "roll"], timeout: float | None,
                 closed_ok: bool) -> None:
        item = _Item(kind)
        with self._cond:
            if self._closed:
                if closed_ok:
                    return
                raise UsageError(CLOSED.format(self.endpoint))
            if not self._opened:
                raise UsageError(NOT_OPEN.format(self.endpoint))
            self._queue.append(item)
            self._cond.notify()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            for segment in item.future.result(timeout) or ():
                segment.result(None if deadline is None else deadline - time.monotonic())
        except FutureTimeout:
            raise PredictionLogError(f"prediction log {kind} of {self.endpoint!r} did not "
                                     f"finish within {timeout}s") from None

    # -- writer thread --------------------------------------------------------------------
    def _write_loop(self) -> None:
        stop = False
        while not stop:
            with self._cond:
                while not self._queue:
                    timeout = self._next_roll()
                    if timeout is not None and timeout <= 0:
                        break
                    self._cond.wait(timeout)
                items, self._queue = self._queue, []
            try:
                stop = self._handle(items)
                self._roll_due()
            except Exception as exc:  # a bug must not leave appenders waiting forever
                log.exception("prediction log of %r: writer failed", self.endpoint)
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(self._error(exc))
                        if item.table is not None:
                            with self._cond:
                                self._pending -= item.table.num_rows
                stop = any(item.kind == "stop" for item in items)
        self._jobs.put(None)

    def _handle(self, items: list[_Item]) -> bool:
        rows: list[_Item] = []
        for item in items:
            if item.kind == "rows":
                rows.append(item)
                continue
            self._commit(rows)
            rows = []
            if item.kind == "flush":
                item.future.set_result(None)
            else:
                item.future.set_result([self._seal(sp) for _, sp in list(self._spools)])
                if item.kind == "stop":
                    return True
        self._commit(rows)
        return False

    def _commit(self, rows: list[_Item]) -> None:
        groups: list[tuple[pa.Schema, list[_Item]]] = []
        for item in rows:
            assert item.table is not None
            schema = item.table.schema
            for known, group in groups:
                if known == schema:
                    group.append(item)
                    break
            else:
                groups.append((schema, [item]))
        for schema, group in groups:
            tables = [i.table for i in group if i.table is not None]
            error = None
            try:
                self._write(schema, tables)
            except Exception as exc:
                error = self._error(exc)
            with self._cond:
                self._pending -= sum(t.num_rows for t in tables)
            for i in group:
                if error is None:
                    i.future.set_result(None)
                else:
                    i.future.set_exception(error)

    def _write(self, schema: pa.Schema, tables: list[pa.Table]) -> None:
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        if self.redactor is not None:
            table = self.redactor.apply(table)
        spool = next((sp for known, sp in self._spools if known == schema), None)
        if spool is None:
            if len(self._spools) >= self.max_open_spools:
                self._seal(min((sp for _, sp in self._spools), key=lambda sp: sp.used))
            spool = SpoolFile(self._folder, table.schema)
            self._spools.append((schema, spool))
        try:
            spool.commit(table)
        finally:
            if spool.broken:  # keep what is durable; later rows go to a fresh spool
                self._seal(spool)

    def _error(self, exc: Exception) -> PredictionLogError:
        if isinstance(exc, PredictionLogError):
            return exc
        what = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            f"{type(exc).__name__}: {exc}"
        return PredictionLogError(f"prediction log of {self.endpoint!r}: rows not logged, "
                                  f"writing to {self._folder} failed: {what}")

    def _next_roll(self) -> float | None:
        if not self._spools:
            return None
        oldest = min(sp.created for _, sp in self._spools)
        return oldest + self.segment_max_seconds - time.monotonic()

    def _roll_due(self) -> None:
        now = time.monotonic()
        for _, spool in list(self._spools):
            if spool.size >= self.segment_max_bytes or \
                    now - spool.created >= self.segment_max_seconds:
                self._seal(spool)

    def _seal(self, spool: SpoolFile) -> Future[None]:
        self._spools = [(k, sp) for k, sp in self._spools if sp is not spool]
        job = _Job(spool.path, spool.fd)
        try:
            job.path = spool.seal()
        except OSError as exc:  # the lock goes with the fd: recovery converts it later
            os.close(spool.fd)
            job.done.set_exception(self._error(exc))
            return job.done
        self._jobs.put(job)
        return job.done

    # -- converter thread -----------------------------------------------------------------
    def _convert_loop(self) -> None:
        self._recover()
        while True:
            try:
                job = self._jobs.get(timeout=self._recover_every)
            except queue.Empty:
                self._recover()  # spools of sibling workers that died, failed conversions
                continue
            if job is None:
                return
            try:
                self._convert(job)
            except Exception:  # never let the thread die: later rolls still need it
                log.exception("prediction log of %r: converting %s failed", self.endpoint,
                              job.path)

    def _recover(self) -> None:
        try:
            recover_spools(self.spool_dir, self.artifact_uri, self.stream, self.endpoint)
        except Exception:
            log.exception("prediction log of %r: recovering spools failed", self.endpoint)

    def _convert(self, job: _Job) -> None:
        error: Exception | None = None
        for attempt in range(CONVERT_ATTEMPTS):
            try:
                assert self._store is not None
                convert_spool(job.path, self._store, self._prefix)
                job.path.unlink()
                fsync_dir(self._folder)
            except Exception as exc:
                error = exc
                if attempt + 1 < CONVERT_ATTEMPTS:
                    time.sleep(0.2 * 4**attempt)
                continue
            os.close(job.fd)
            job.done.set_result(None)
            return
        os.close(job.fd)  # unlocked: the next recovery pass retries it
        log.error("prediction log of %r: could not store segment of %s: %s", self.endpoint,
                  job.path, error)
        job.done.set_exception(PredictionLogError(
            f"prediction log of {self.endpoint!r}: could not store the segment of "
            f"{job.path.name} in {self.artifact_uri}: {error}; the rows are safe in the spool "
            "and are converted again later"))
