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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airlock._files import fsync_dir
from airlock.errors import PredictionLogError
from airlock.store import ArtifactStore

from ._schema import check_name

__all__ = [
    "LIVE",
    "SEALED",
    "SEGMENT",
    "SpoolFile",
    "claim",
    "convert_spool",
    "iter_spool",
    "recover_spools",
    "spool_files",
    "spool_folder",
]

log = logging.getLogger("airlock.predlog")

LIVE, SEALED = ".arrows", ".sealed"
ROW_GROUP_ROWS = 64 * 1024
STALE_CREATING_S = 60.0
SEGMENT = re.compile(r"(-?\d+)-(-?\d+)-(\d+-[0-9a-f]{32})\.parquet")


def spool_folder(spool_dir: Path | str, stream: str, endpoint: str) -> Path:
    return Path(spool_dir) / check_name("stream", stream) / check_name("endpoint", endpoint)


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


def spool_files(folder: Path) -> list[Path]:
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
    for path in spool_files(folder):
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

