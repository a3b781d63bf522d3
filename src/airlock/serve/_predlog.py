"""The durable prediction log: records, PII redaction, and the group-committing writer.

The server turns each scored request into Arrow rows (:func:`make_records`, or
:func:`make_batch_records` for a micro-batch) and hands them to :meth:`PredictionLog.append`,
which returns a future that resolves once the rows are written and fsync'd to a local spool
file. One writer thread drains everything queued, writes it as one Arrow IPC message per
schema, fsyncs once and then resolves all those futures (group commit). Spools roll by size and
age into zstd Parquet segments in the artifact store (on a second thread, so a roll never
stalls the appends); spools left by a dead process are recovered at start and periodically.
Files and naming: see :mod:`airlock.serve._predlog_read`.

One open spool per distinct schema: a 90/10 canary whose versions take different inputs, or a
shadow that answers only sometimes, would otherwise close a spool on every alternation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airlock.errors import InvalidInput, UsageError
from airlock.serve._predlog_read import (
    FEEDBACK,
    KNOWN_COLUMNS,
    PREDICTIONS,
    TS_TYPE,
    PredictionLogError,
    SpoolFile,
    check_log_schema,
    check_name,
    convert_spool,
    fsync_dir,
    read_prediction_log,
    recover_spools,
    scan_prediction_log,
    spool_folder,
)
from airlock.store._artifacts import ArtifactStore

__all__ = [
    "FEEDBACK",
    "PREDICTIONS",
    "PredictionLog",
    "PredictionLogError",
    "RedactMode",
    "Redactor",
    "make_batch_records",
    "make_feedback",
    "make_records",
    "read_prediction_log",
    "recover_spools",
    "scan_prediction_log",
]

log = logging.getLogger("airlock.serve.predlog")

RedactMode = Literal["hash", "mask", "drop"]
MiB = 1 << 20
CLOSED = "the prediction log of endpoint {!r} is closed; rows can no longer be appended"
CONVERT_ATTEMPTS = 3
_STR, _I32, _I16, _F32 = pa.string(), pa.int32(), pa.int16(), pa.float32()
_NAMES = list(KNOWN_COLUMNS[PREDICTIONS])


# -- records ------------------------------------------------------------------------------
# the per-request fields, converted from Python in one call (one pa.array per field costs 5x)
_META = pa.struct([("request_id", _STR), ("row", _I32), ("ts", TS_TYPE), ("endpoint", _STR),
                   ("route", _STR), ("model", _STR), ("version", _I32), ("status", _I16),
                   ("latency_ms", _F32)])
_Meta = tuple[str, int, int, str, str, str, int, int, float]


def _struct(table: pa.Table, what: str) -> pa.Array:
    if not isinstance(table, pa.Table):
        raise InvalidInput(f"{what} must be a pyarrow.Table, got {type(table).__name__}")
    if table.num_columns == 0:
        return pa.nulls(table.num_rows)
    batches = table.to_batches()
    if len(batches) != 1:
        batches = table.combine_chunks().to_batches()
    if not batches:  # no rows and no chunks
        return pa.array([], pa.struct(list(table.schema)))
    return batches[0].to_struct_array()


def _shadow(n: int, shadow_version: int | None,
            shadow_outputs: pa.Table | None) -> tuple[pa.Array, pa.Array]:
    if shadow_outputs is None:
        if shadow_version is not None:
            raise UsageError("shadow_version is set but shadow_outputs is missing")
        return pa.nulls(n, _I32), pa.nulls(n)
    if not isinstance(shadow_version, int):
        raise InvalidInput("shadow_outputs needs shadow_version, the shadow model's version")
    out = _struct(shadow_outputs, "shadow_outputs")
    if len(out) != n:
        raise InvalidInput(f"shadow_outputs has {len(out)} rows, inputs has {n}")
    return pa.array(np.full(n, shadow_version, np.int32)), out


def _meta_array(rows: list[_Meta]) -> pa.StructArray:
    try:
        return pa.array(rows, _META)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        pass
    for i, f in enumerate(_META):  # slow path, only to name the culprit
        for row in rows:
            try:
                pa.array([row[i]], f.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
                raise InvalidInput(f"log field {f.name}={row[i]!r:.40} is not a valid "
                                   f"{f.type}: {exc}") from None
    raise InvalidInput("log fields could not be converted")  # pragma: no cover


def _records(meta: list[_Meta], counts: np.ndarray | None, inputs: pa.Table,
             outputs: pa.Table, shadow_version: int | None,
             shadow_outputs: pa.Table | None) -> pa.Table:
    ins, outs = _struct(inputs, "inputs"), _struct(outputs, "outputs")
    n = len(ins)
    if len(outs) != n:
        raise InvalidInput(f"outputs has {len(outs)} rows, inputs has {n}")
    sv, so = _shadow(n, shadow_version, shadow_outputs)
    arr = _meta_array(meta)
    if counts is None:  # one request owns every row
        if n != 1:
            arr = arr.take(np.zeros(n, np.int32))
        row = np.arange(n, dtype=np.int32)
    else:
        arr = arr.take(np.repeat(np.arange(len(counts), dtype=np.int32), counts))
        row = (np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int32)
    cols = arr.flatten()
    if n != 1 or counts is not None:
        cols[1] = pa.array(row)
    return pa.Table.from_arrays([*cols, ins, outs, sv, so], names=_NAMES)


def make_records(*, request_id: str, ts_ms: int, endpoint: str, route: str, model: str,
                 version: int, status: int, latency_ms: float, inputs: pa.Table,
                 outputs: pa.Table, shadow_version: int | None = None,
                 shadow_outputs: pa.Table | None = None) -> pa.Table:
    """The log rows of one request: one per input row (``row`` is its index), with the
    request's ``inputs``/``outputs`` tables as structs. ``ts_ms``: ms since the epoch, UTC."""
    meta = [(request_id, 0, ts_ms, endpoint, route, model, version, status, latency_ms)]
    return _records(meta, None, inputs, outputs, shadow_version, shadow_outputs)


def make_batch_records(*, request_ids: Sequence[str], row_counts: Sequence[int],
                       ts_ms: Sequence[int], latency_ms: Sequence[float],
                       status: int | Sequence[int], endpoint: str, route: str, model: str,
                       version: int, inputs: pa.Table, outputs: pa.Table,
                       shadow_version: int | None = None,
                       shadow_outputs: pa.Table | None = None) -> pa.Table:
    """The log rows of a micro-batch in one call: ``inputs``/``outputs`` hold the requests'
    rows one after the other, request ``i`` owning the next ``row_counts[i]`` of them.
    Append the result once per batch; it costs a fraction of one make_records per request."""
    counts = np.asarray(row_counts, dtype=np.int64)
    k = len(counts)
    statuses = [status] * k if isinstance(status, int) else list(status)
    for name, size in (("request_ids", len(request_ids)), ("ts_ms", len(ts_ms)),
                       ("latency_ms", len(latency_ms)), ("status", len(statuses))):
        if size != k:
            raise InvalidInput(f"{name} has {size} entries, row_counts has {k}")
    total = int(counts.sum())
    if (k and int(counts.min()) < 0) or total != inputs.num_rows:
        raise InvalidInput(f"row_counts add up to {total}, inputs has {inputs.num_rows} rows")
    meta = [(r, 0, t, endpoint, route, model, version, s, lat)
            for r, t, s, lat in zip(request_ids, ts_ms, statuses, latency_ms, strict=True)]
    return _records(meta, counts, inputs, outputs, shadow_version, shadow_outputs)


def _json_label(i: int, value: Any) -> tuple[str, float | None]:
    if isinstance(value, np.generic):
        value = value.item()
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"feedback label {i} ({value!r:.40}) is not JSON: {exc}") from None
    number = float(value) if isinstance(value, int | float) else None
    return text, number


def make_feedback(request_id: Sequence[str], label: Sequence[Any],
                  ts_ms: int | Sequence[int]) -> pa.Table:
    """Delayed labels as log rows: ``request_id``, ``ts``, ``label`` (float64 when numeric,
    booleans as 0/1, else null) and ``label_json`` (any JSON value)."""
    n = len(request_id)
    if len(label) != n:
        raise InvalidInput(f"label has {len(label)} entries, request_id has {n}")
    bad = next((i for i, r in enumerate(request_id) if not isinstance(r, str) or not r), None)
    if bad is not None:
        raise InvalidInput(f"request_id {bad} must be a non-empty string, got "
                           f"{request_id[bad]!r:.40}")
    times = [ts_ms] * n if isinstance(ts_ms, int) else list(ts_ms)
    if len(times) != n:
        raise InvalidInput(f"ts_ms has {len(times)} entries, request_id has {n}")
    pairs = [_json_label(i, v) for i, v in enumerate(label)]
    return pa.table({
        "request_id": pa.array(request_id, _STR), "ts": pa.array(times, TS_TYPE),
        "label": pa.array([p[1] for p in pairs], pa.float64()),
        "label_json": pa.array([p[0] for p in pairs], _STR),
    })


# -- redaction ----------------------------------------------------------------------------
class Redactor:
    """Redacts PII-tagged fields of the ``inputs`` struct before anything reaches disk.

    ``hash``: the first 16 hex digits of sha256(salt + value) (values cast to text; hashed
    once per distinct value), ``mask``: ``"***"``, ``drop``: the field is removed. Nulls stay
    null. Fields not present in a table are ignored (versions differ in their inputs)."""

    def __init__(self, columns: Mapping[str, RedactMode], *, salt: str = "") -> None:
        for name, mode in columns.items():
            if mode not in ("hash", "mask", "drop"):
                raise UsageError(f"unknown redaction {mode!r} for column {name!r}; use hash, "
                                 "mask or drop")
        if "hash" in columns.values() and not salt:
            raise UsageError("hashing PII needs a secret salt (Redactor(..., salt=...)): "
                             "unsalted hashes of guessable values are easily reversed")
        self.columns = dict(columns)
        self.salt = salt

    def check(self, schema: pa.Schema, column: str = "inputs") -> None:
        """Raise UsageError when a field to hash cannot be turned into text."""
        idx = schema.get_field_index(column)
        if idx < 0 or not pa.types.is_struct(schema.field(idx).type):
            return
        for f in schema.field(idx).type:
            if self.columns.get(f.name) == "hash" and pa.types.is_nested(f.type):
                raise UsageError(f"cannot hash input {f.name!r} of type {f.type}: only scalar "
                                 "columns can be hashed; use mask or drop")

    def hash(self, values: pa.Array) -> pa.Array:
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        raw = pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)
        if not raw and not pa.types.is_string(values.type):
            values = pc.cast(values, _STR)
        encoded = pc.dictionary_encode(values)
        salt = self.salt.encode()
        digests = [hashlib.sha256(salt + (v if raw else v.encode())).hexdigest()[:16]
                   for v in encoded.dictionary.to_pylist()]
        return pa.array(digests, _STR).take(encoded.indices)

    @staticmethod
    def mask(values: pa.Array) -> pa.Array:
        return pc.if_else(pc.is_valid(values), pa.scalar("***"), pa.scalar(None, _STR))

    def apply(self, table: pa.Table, column: str = "inputs") -> pa.Table:
        idx = table.schema.get_field_index(column)
        if idx < 0 or not pa.types.is_struct(table.schema.field(idx).type):
            return table
        if not any(f.name in self.columns for f in table.schema.field(idx).type):
            return table
        arr = table.column(idx).combine_chunks()
        fields, children = [], []
        for i, f in enumerate(arr.type):
            mode, child = self.columns.get(f.name), arr.field(i)
            if mode == "drop":
                continue
            if mode is not None:
                child = self.hash(child) if mode == "hash" else self.mask(child)
                f = pa.field(f.name, _STR)
            fields.append(f)
            children.append(child)
        if not fields:
            new = pa.nulls(len(arr))
        else:
            mask = arr.is_null() if arr.null_count else None
            new = pa.StructArray.from_arrays(children, fields=fields, mask=mask)
        return table.set_column(idx, pa.field(column, new.type), new)


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
        self._store = ArtifactStore(artifact_uri)
        self._prefix = f"{stream}/{endpoint}"
        self._folder = spool_folder(spool_dir, stream, endpoint)
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the spool folder {self._folder}: "
                             f"{exc.strerror or exc}") from None
        self._cond = threading.Condition()
        self._queue: list[_Item] = []
        self._pending = 0
        self._closed = False
        # schemas compare in 0.1 us but hash in ~10: keep short lists, never hash them
        self._accepted: list[pa.Schema] = []
        self._spools: list[tuple[pa.Schema, SpoolFile]] = []  # writer thread only
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._recover_every = max(1.0, min(float(segment_max_seconds), 60.0))
        self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                         name=f"airlock-predlog-{endpoint}")
        self._converter = threading.Thread(target=self._convert_loop, daemon=True,
                                           name=f"airlock-predlog-{endpoint}-roll")
        self._converter.start()
        self._writer.start()

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
                self._queue.append(_Item("stop"))
                self._cond.notify()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in (self._writer, self._converter):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                raise PredictionLogError(
                    f"the prediction log of {self.endpoint!r} did not finish within {timeout}s;"
                    " what is not converted stays in its spool and is recovered later")

    def __enter__(self) -> PredictionLog:
        return self

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
