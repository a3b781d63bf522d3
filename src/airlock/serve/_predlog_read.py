"""The prediction log's files: spools, their conversion to Parquet segments, recovery, reading.

Layout (one folder per stream and endpoint)::

    {spool_dir}/{stream}/{endpoint}/{pid}-{uuid}.arrows   live spool: an Arrow IPC stream that
                                                          its writer holds an flock on
    {spool_dir}/{stream}/{endpoint}/{pid}-{uuid}.sealed   rolled, waiting for conversion (the
                                                          lock is still held)
    {artifact_uri}/{stream}/{endpoint}/date=YYYY-MM-DD/{min_ts}-{max_ts}-{pid}-{uuid}.parquet

A spool's writer keeps an exclusive ``flock`` on it from creation until the spool is deleted;
the kernel drops it when the process dies, even by SIGKILL. So "the writer is gone" is exactly
"the lock can be taken", which also settles two recoverers racing for the same file (a pid
check alone would be fooled by pid reuse). A segment's name derives from its spool's id and
content, so converting a spool twice (a crash between storing the segment and deleting the
spool) overwrites the same key instead of adding a duplicate; readers skip spools whose
segment already exists. ``min_ts``/``max_ts`` (ms since the epoch) let readers prune by time
from the listing alone; the ``date=`` partition is the day of ``min_ts``. The spool folder
must be on a local filesystem (flock over NFS is not to be trusted).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airlock.errors import AirlockError, InvalidInput, UsageError
from airlock.store._artifacts import ArtifactStore

__all__ = [
    "FEEDBACK",
    "KNOWN_COLUMNS",
    "LIVE",
    "PREDICTIONS",
    "SEALED",
    "TS_TYPE",
    "PredictionLogError",
    "SpoolFile",
    "check_log_schema",
    "check_name",
    "claim",
    "convert_spool",
    "fsync_dir",
    "iter_spool",
    "read_prediction_log",
    "recover_spools",
    "scan_prediction_log",
    "spool_folder",
]

log = logging.getLogger("airlock.serve.predlog")

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
TS_TYPE = pa.timestamp("ms", tz="UTC")
LIVE, SEALED = ".arrows", ".sealed"
ROW_GROUP_ROWS = 64 * 1024
READ_BATCH_ROWS = 64 * 1024
STALE_CREATING_S = 60.0

KNOWN_COLUMNS = {
    PREDICTIONS: ("request_id", "row", "ts", "endpoint", "route", "model", "version", "status",
                  "latency_ms", "inputs", "outputs", "shadow_version", "shadow_outputs"),
    FEEDBACK: ("request_id", "ts", "label", "label_json"),
}


class PredictionLogError(AirlockError):
    """Rows could not be made durable (disk full, I/O error) or a spool could not be turned
    into a segment: the server should answer 503."""

    http_status = 503


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SEGMENT = re.compile(r"(-?\d+)-(-?\d+)-(\d+-[0-9a-f]{32})\.parquet")
_DATE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


def check_name(kind: str, value: object) -> str:
    """An endpoint or stream name becomes a path component: keep it to a safe alphabet."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value.strip(".") == "":
        raise UsageError(f"invalid {kind} name {value!r}: use letters, digits, '.', '_' and "
                         "'-' (at most 128, starting with a letter or digit)")
    return value


def _empty_struct(t: pa.DataType) -> bool:
    if pa.types.is_struct(t):
        return t.num_fields == 0 or any(_empty_struct(f.type) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _empty_struct(t.value_type)
    return False


def check_log_schema(schema: pa.Schema) -> None:
    """Rows the files can hold: a ``ts`` to name segments by, no field-less struct (Parquet
    cannot store one)."""
    idx = schema.get_field_index("ts")
    if idx < 0 or schema.field(idx).type != TS_TYPE:
        raise InvalidInput(f"log rows need a 'ts' column of type {TS_TYPE}; build them with "
                           "make_records or make_feedback")
    for f in schema:
        if _empty_struct(f.type):
            raise InvalidInput(f"column {f.name!r} is a struct without fields, which Parquet "
                               "cannot store; use a null column instead")


def spool_folder(spool_dir: Path | str, stream: str, endpoint: str) -> Path:
    return Path(spool_dir) / check_name("stream", stream) / check_name("endpoint", endpoint)


def fsync_dir(path: Path) -> None:
    """Make a create/rename/unlink in ``path`` survive a power cut (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- spools --------------------------------------------------------------------------------
class _Sink:
    """Where the IPC writer serialises to; handed to the file in one write per commit."""

    closed = False

    def __init__(self) -> None:
        self.buf = bytearray()
        self.pos = 0

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        self.buf += data
        self.pos += size
        return size

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.buf = bytes(self.buf), bytearray()
        return data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class SpoolFile:
    """One open spool file: created under a temporary name, locked, then renamed into place,
    so recovery never sees it unlocked while its writer lives."""

    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self.id = f"{os.getpid()}-{uuid.uuid4().hex}"
        creating = folder / f".{self.id}.creating"
        self.fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.path = folder / f"{self.id}{LIVE}"
            os.rename(creating, self.path)
            fsync_dir(folder)
        except BaseException:
            os.close(self.fd)
            creating.unlink(missing_ok=True)
            raise
        self.sink = _Sink()
        self.writer = pa.ipc.new_stream(self.sink, schema)
        self.size = 0
        self.created = self.used = time.monotonic()
        self.broken = False

    def commit(self, table: pa.Table) -> None:
        """Append and fsync; on failure cut the file back to its last durable size."""
        try:
            self.writer.write_table(table.combine_chunks())
            data = self.sink.take()
            _write_all(self.fd, data)
            os.fsync(self.fd)
        except BaseException:
            self.broken = True
            self.sink.take()
            with suppress(OSError):
                os.ftruncate(self.fd, self.size)
            raise
        self.size += len(data)
        self.used = time.monotonic()

    def seal(self) -> Path:
        """Rename to ``.sealed``; the fd, and so the lock, stays open for the converter."""
        if not self.broken:
            with suppress(Exception):
                self.writer.close()  # the end-of-stream marker; not needed, not fsync'd
                _write_all(self.fd, self.sink.take())
        sealed = self.path.with_suffix(SEALED)
        os.rename(self.path, sealed)
        fsync_dir(sealed.parent)
        return sealed


def iter_spool(path: Path) -> Iterator[pa.RecordBatch]:
    """The complete record batches of a spool, stopping quietly at a torn last message.

    Raises FileNotFoundError when the file is gone (converted meanwhile)."""
    with pa.OSFile(str(path), "rb") as source:
        try:
            reader = pa.ipc.open_stream(source)
        except (pa.ArrowException, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            return  # empty, or torn inside the schema message: nothing was acknowledged
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as exc:
                log.warning("prediction log spool %s: torn tail ignored (%s)", path, exc)
                return
            yield batch


def claim(path: Path) -> int | None:
    """An fd holding the exclusive lock of ``path``, or None when its writer is alive or the
    file is gone. Checks the locked inode is still the one at ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            return fd
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.ENOENT):
            os.close(fd)
            raise
    os.close(fd)
    return None


def _segment_key(prefix: str, lo: int, hi: int, spool_id: str) -> str:
    day = datetime.fromtimestamp(lo / 1000, UTC).strftime("%Y-%m-%d")
    return f"{prefix}/date={day}/{lo}-{hi}-{spool_id}.parquet"


def convert_spool(path: Path, store: ArtifactStore, prefix: str) -> str | None:
    """Write the spool's complete batches as one zstd Parquet segment; its key, or None when
    the spool holds no complete batch. The spool itself is left for the caller to delete."""
    spool_id = path.name.split(".")[0]
    tmp = path.with_name(f".{spool_id}.parquet.part")
    writer: pq.ParquetWriter | None = None
    lo, hi = 2**63 - 1, -(2**63)
    pending: list[pa.RecordBatch] = []
    buffered = 0
    try:
        for batch in iter_spool(path):
            if writer is None:
                writer = pq.ParquetWriter(str(tmp), batch.schema, compression="zstd")
            if batch.num_rows and "ts" in batch.schema.names:
                bounds = pc.min_max(batch.column("ts").cast(pa.int64()))
                lo = min(lo, bounds["min"].as_py() if bounds["min"].is_valid else lo)
                hi = max(hi, bounds["max"].as_py() if bounds["max"].is_valid else hi)
            pending.append(batch)
            buffered += batch.num_rows
            if buffered >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP_ROWS)
                pending, buffered = [], 0
        if writer is None:
            return None
        if pending:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP_ROWS)
        writer.close()
        writer = None
        if lo > hi:  # no timestamps at all
            lo = hi = 0
        key = _segment_key(prefix, lo, hi, spool_id)
        store.put_file(tmp, key)
        return key
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)


def _spool_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (LIVE, SEALED))


def recover_spools(spool_dir: Path | str, artifact_uri: str, stream: str,
                   endpoint: str) -> list[str]:
    """Convert every spool whose writer is gone into a segment, then delete it.

    Returns the segment keys written. Safe to run from several processes at once: each spool
    is converted under its exclusive lock, and a repeated conversion rewrites the same key.
    A spool that cannot be converted is left in place (and retried by the next pass)."""
    folder = spool_folder(spool_dir, stream, endpoint)
    store = ArtifactStore(artifact_uri)
    keys: list[str] = []
    failed: list[str] = []
    for path in _spool_files(folder):
        fd = claim(path)
        if fd is None:
            continue
        try:
            key = convert_spool(path, store, f"{stream}/{endpoint}")
            path.unlink(missing_ok=True)
            fsync_dir(folder)
        except Exception as exc:
            failed.append(f"{path.name}: {exc}")
            continue
        finally:
            os.close(fd)
        if key is not None:
            keys.append(key)
            log.info("prediction log: recovered %s into %s", path.name, key)
    for creating in folder.glob(".*.creating") if folder.is_dir() else ():
        # a writer died between creating and locking its spool (a live one takes
        # microseconds, and must not have the file taken from under it): nothing to keep
        with suppress(FileNotFoundError):
            if time.time() - creating.stat().st_mtime < STALE_CREATING_S:
                continue
        fd = claim(creating)
        if fd is not None:
            creating.unlink(missing_ok=True)
            os.close(fd)
    for tmp in folder.glob(".*.parquet.part") if folder.is_dir() else ():
        spool_id = tmp.name[1:].split(".")[0]
        if not any((folder / f"{spool_id}{ext}").exists() for ext in (LIVE, SEALED)):
            tmp.unlink(missing_ok=True)  # left by a conversion that crashed
    if failed:
        raise PredictionLogError(f"could not recover {len(failed)} spool(s) in {folder} "
                                 f"(they stay for the next attempt); first: {failed[0]}")
    return keys


# -- reading ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Segment:
    key: str
    lo: int
    hi: int
    spool_id: str


def _to_ms(value: datetime | None, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise UsageError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # naive means UTC, as the log stores it
    return int(value.timestamp() * 1000)


def _list_segments(store: ArtifactStore, prefix: str, until: int | None) -> list[_Segment]:
    base = f"{store.root}/{prefix}"
    if not store.is_local:
        store.fs.invalidate_cache(base)
    if not store.fs.exists(base):
        return []
    out = []
    for entry in sorted(store.fs.ls(base, detail=False)):
        part = str(entry).rstrip("/").rsplit("/", 1)[-1]
        match = _DATE.fullmatch(part)
        if match is None:
            continue
        day = datetime.strptime(match.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
        if until is not None and int(day.timestamp() * 1000) >= until:
            continue  # every segment there starts on that day or later: prune unopened
        for rel in store.list(f"{prefix}/{part}"):
            seg = _SEGMENT.fullmatch(rel)
            if seg is not None:
                out.append(_Segment(f"{prefix}/{part}/{rel}", int(seg.group(1)),
                                    int(seg.group(2)), seg.group(3)))
    return sorted(out, key=lambda s: (s.lo, s.key))


def _keep(batch: pa.RecordBatch, lo: int | None, hi: int | None,
          columns: list[str] | None) -> pa.RecordBatch:
    if lo is not None or hi is not None:
        ts = batch.column("ts")
        mask = None
        if lo is not None:
            mask = pc.greater_equal(ts, pa.scalar(lo, TS_TYPE))
        if hi is not None:
            upper = pc.less(ts, pa.scalar(hi, TS_TYPE))
            mask = upper if mask is None else pc.and_(mask, upper)
        batch = batch.filter(mask)
    if columns is not None:
        batch = batch.select([c for c in columns if c in batch.schema.names])
    return batch


def _read_segment(store: ArtifactStore, key: str, lo: int | None, hi: int | None,
                  columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    with store.open(key) as fh:
        parquet = pq.ParquetFile(fh)
        names = parquet.schema_arrow.names
        wanted = None
        if columns is not None:
            need = columns if (lo is None and hi is None) or "ts" in columns \
                else [*columns, "ts"]
            wanted = [c for c in need if c in names]
        for batch in parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=wanted):
            yield _keep(batch, lo, hi, columns)


def _read_spools(store: ArtifactStore, prefix: str, paths: list[Path], done: set[str],
                 lo: int | None, hi: int | None,
                 columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    for path in paths:
        spool_id = path.name.split(".")[0]
        if spool_id in done:
            continue  # converted; the spool is about to be deleted
        batches = iter_spool(path)
        try:
            first = next(batches, None)  # opens the file: from here on it stays readable
        except FileNotFoundError:  # converted since we listed it: read its segment instead
            for seg in _list_segments(store, prefix, None):
                if seg.spool_id == spool_id:
                    yield from _read_segment(store, seg.key, lo, hi, columns)
            continue
        if first is not None:
            yield _keep(first, lo, hi, columns)
        for batch in batches:
            yield _keep(batch, lo, hi, columns)


def _check_columns(stream: str, columns: list[str] | None) -> list[str] | None:
    if columns is None:
        return None
    known = KNOWN_COLUMNS.get(stream)
    unknown = [c for c in columns if not isinstance(c, str) or (known and c not in known)]
    if unknown:
        raise UsageError(f"unknown column {unknown[0]!r} for the {stream} log; it has: "
                         + ", ".join(known or ()))
    return list(columns)


def scan_prediction_log(endpoint: str, *, artifact_uri: str, spool_dir: Path | str | None = None,
                        stream: str = PREDICTIONS, since: datetime | None = None,
                        until: datetime | None = None,
                        columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of the log with ``since <= ts < until``, segment by segment (pruned by
    their names before any is opened), then the live spools when ``spool_dir`` is given.

    Batches of different model versions may have different ``inputs``/``outputs`` structs;
    :func:`read_prediction_log` unifies them. Naive datetimes are taken as UTC."""
    prefix = f"{check_name('stream', stream)}/{check_name('endpoint', endpoint)}"
    lo, hi = _to_ms(since, "since"), _to_ms(until, "until")
    wanted = _check_columns(stream, columns)
    store = ArtifactStore(artifact_uri)
    # spools are listed before segments: a spool converted in between is then either in the
    # segment listing (and skipped) or read from its segment when the spool has gone
    paths = _spool_files(spool_folder(spool_dir, stream, endpoint)) if spool_dir is not None else []
    # with spools to read, list every partition: a converted spool must not be read twice
    segments = _list_segments(store, prefix, None if spool_dir is not None else hi)
    for seg in segments:
        if (hi is not None and seg.lo >= hi) or (lo is not None and seg.hi < lo):
            continue  # pruned by its name, never opened
        for batch in _read_segment(store, seg.key, lo, hi, wanted):
            if batch.num_rows:
                yield batch
    done = {s.spool_id for s in segments}
    for batch in _read_spools(store, prefix, paths, done, lo, hi, wanted):
        if batch.num_rows:
            yield batch


def read_prediction_log(endpoint: str, *, artifact_uri: str, spool_dir: Path | str | None = None,
                        stream: str = PREDICTIONS, since: datetime | None = None,
                        until: datetime | None = None,
                        columns: list[str] | None = None) -> pa.Table:
    """:func:`scan_prediction_log` as one table; structs of different versions are merged
    (fields missing in a version are null there)."""
    tables = [pa.Table.from_batches([b]) for b in scan_prediction_log(
        endpoint, artifact_uri=artifact_uri, spool_dir=spool_dir, stream=stream, since=since,
        until=until, columns=columns)]
    if not tables:
        names = columns if columns is not None else list(KNOWN_COLUMNS.get(stream, ("ts",)))
        return pa.table({n: pa.array([], TS_TYPE if n == "ts" else pa.null()) for n in names})
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"the {stream} log of {endpoint!r} does not combine into one table "
                           f"({exc}); read it batch by batch with scan_prediction_log") from None

