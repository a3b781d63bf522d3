"""A batch job's output: one Parquet file per input fragment, written whole or not at all.

Layout under the output folder (``name`` = ``part-<fragment id>-<model sha256[:12]>``)::

    <name>.parquet             the scored rows: --keep columns, model outputs, model_version
    _rejects/<name>.parquet    rows that could not be scored: fragment, row, reason, --keep
    _profiles/<name>.profile   the drift profile of the scored rows (with --profile)
    _log/<name>.arrows         rows waiting for the prediction log (with --log-as)

Every file is written to a temporary name and renamed into place (``write_atomic`` on the
local disk; a temporary object moved over the name on other fsspec filesystems), so a file
under a final name is always complete. Row groups hold exactly ``ROW_GROUP_ROWS`` rows, and
the schema and metadata come from the rows alone, so the bytes of a fragment's output do not
depend on how an engine batched its rows: every engine writes the same files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

from airlock._files import UNWRITABLE, write_atomic
from airlock.errors import UsageError

from ._core import INPUTS, REASON, VERSION, Task
from ._fragments import Fragment, filesystem
from ._result import FragmentOutcome

__all__ = ["ROW_GROUP_ROWS", "Output", "write_fragment"]

ROW_GROUP_ROWS = 131072
REJECTS, PROFILES, LOG = "_rejects", "_profiles", "_log"
PART_PREFIX = "part-"


@dataclass(frozen=True, slots=True)
class Output:
    """The output folder (picklable): its canonical URI, fsspec filesystem and root path."""

    uri: str
    fs: Any = field(repr=False, compare=False)
    root: str
    local: bool

    @classmethod
    def open(cls, uri: str | os.PathLike[str]) -> Output:
        fs, root, local = filesystem(str(uri))
        if local:
            root = os.path.abspath(os.path.expanduser(root))
            canonical = root
        else:
            root = root.rstrip("/")
            canonical = str(fs.unstrip_protocol(root))
        return cls(uri=canonical, fs=fs, root=root, local=local)

    @property
    def key(self) -> str:
        """sha256 of the canonical URI (jobs are looked up by it)."""
        return hashlib.sha256(self.uri.encode()).hexdigest()

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def url(self, name: str) -> str:
        return self.path(name) if self.local else str(self.fs.unstrip_protocol(self.path(name)))

    # -- checks and listing -------------------------------------------------------------
    def probe(self) -> None:
        """Create the folder and prove it writable (a probe file written and removed)."""
        try:
            if self.fs.isfile(self.root):
                raise UsageError(UNWRITABLE.format(path=self.uri, fault="it is a file, not a "
                                                   "folder"))
            self.fs.makedirs(self.root, exist_ok=True)
            probe = self.path(f".airlock-probe-{uuid.uuid4().hex}")
            self.fs.pipe_file(probe, b"")
            self.fs.rm_file(probe)
        except UsageError:
            raise
        except OSError as exc:
            fault = "permission denied" if isinstance(exc, PermissionError) else (
                (exc.strerror or str(exc) or type(exc).__name__).lower())
            raise UsageError(UNWRITABLE.format(path=self.uri, fault=fault)) from None

    def parts(self) -> list[str]:
        """Names of the part files in the folder and in ``_rejects/``."""
        names: list[str] = []
        for sub in ("", REJECTS):
            folder = self.path(sub) if sub else self.root
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                if not self.local:
                    self.fs.invalidate_cache(folder)
                for entry in self.fs.ls(folder, detail=False):
                    base = str(entry).rstrip("/").rsplit("/", 1)[-1]
                    if base.startswith(PART_PREFIX) and base.endswith(".parquet"):
                        names.append(f"{sub}/{base}" if sub else base)
        return sorted(names)

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self.path(name)))

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(name))

    def read_bytes(self, name: str) -> bytes:
        return bytes(self.fs.cat_file(self.path(name)))

    # -- writing --------------------------------------------------------------------------
    def write(self, name: str, body: Callable[[IO[bytes]], None]) -> str:
        """Write ``name`` whole (temporary name, then rename); returns its sha256."""
        target = self.path(name)
        folder = target.rsplit("/", 1)[0]
        digest: list[str] = []

        def hashed(fh: IO[bytes]) -> None:
            sink = _Hashing(fh)
            body(sink)  # type: ignore[arg-type]
            digest.append(sink.sha256.hexdigest())

        if self.local:
            os.makedirs(folder, exist_ok=True)
            write_atomic(target, hashed)
            return digest[0]
        tmp = f"{folder}/.{name.rsplit('/', 1)[-1]}.{uuid.uuid4().hex}.tmp"
        try:
            with self.fs.open(tmp, "wb") as fh:
                hashed(fh)
            self.fs.mv(tmp, target)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise
        return digest[0]


class _Hashing:
    """A write-only file that hashes what goes through it (what pyarrow's writer needs)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        self.fh.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.fh.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:  # the owner of ``fh`` closes it (after its fsync)
        self.closed = True


def part_name(fragment: Fragment, model_sha256: str) -> str:
    return f"{PART_PREFIX}{fragment.id}-{model_sha256[:12]}"


class _Empty(Exception):
    """No scored row: the output file is not created."""


class _Spill:
    """Rows of a side stream (rejects, log rows) spilled to a local temporary file as Arrow
    IPC until the fragment is done, so memory stays bounded whatever their number."""

    def __init__(self) -> None:
        self.rows = 0
        self._file: IO[bytes] | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self._writer is None:
            self._file = tempfile.TemporaryFile(prefix="airlock-batch-")  # noqa: SIM115
            self._writer = pa.ipc.new_stream(self._file, batch.schema)
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def batches(self) -> Iterable[pa.RecordBatch]:
        if self._writer is None or self._file is None:
            return
        self._writer.close()
        self._file.seek(0)
        yield from pa.ipc.open_stream(self._file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _file_metadata(task: Task, fragment: Fragment) -> dict[bytes, bytes]:
    v = task.bundle.version
    return {b"airlock.model": v.name.encode(), b"airlock.version": str(v.version).encode(),
            b"airlock.model_sha256": task.bundle.sha256.encode(),
            b"airlock.fragment": fragment.key.encode()}


class _Rows:
    """Rows regrouped into row groups of exactly ROW_GROUP_ROWS rows (the last one: the
    rest), written to a Parquet file whose schema the first rows set. Dictionary columns are
    encoded afresh per row group (values in order of appearance), so the bytes depend on the
    rows only, never on the dictionaries an engine's reader happened to build."""

    def __init__(self, fh: IO[bytes], schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.schema = pa.schema([pa.field(f.name, f.type) for f in schema],
                                metadata=schema.metadata)
        self.plain = pa.schema([pa.field(f.name, f.type.value_type
                                          if pa.types.is_dictionary(f.type) else f.type)
                                for f in schema])
        self.writer = pq.ParquetWriter(fh, self.schema, compression="zstd")
        self.pending: list[pa.RecordBatch] = []
        self.rows = 0

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if not table.schema.equals(self.plain, check_metadata=False):
            table = table.cast(self.plain)
        self.pending.extend(table.to_batches())
        self.rows += table.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            table = pa.Table.from_batches(self.pending, self.plain)
            start = 0
            while table.num_rows - start >= ROW_GROUP_ROWS:
                self._write(table.slice(start, ROW_GROUP_ROWS))
                start += ROW_GROUP_ROWS
            rest = table.slice(start)
            self.pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            self.rows = rest.num_rows

    def _write(self, table: pa.Table) -> None:
        table = table.combine_chunks()
        if not self.plain.equals(self.schema, check_metadata=False):
            table = table.cast(self.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    def close(self) -> None:
        try:
            if self.rows:
                self._write(pa.Table.from_batches(self.pending, self.plain))
        finally:
            self.writer.close()


def _normalise(batch: pa.RecordBatch, task: Task, fragment: Fragment) -> pa.RecordBatch:
    """--keep columns in the type the file holds them in (an engine's reader may hand them
    over as another type, e.g. Spark: dictionary text as plain text)."""
    if fragment.format != "parquet" or fragment.schema is None:
        return batch
    arrays = list(batch.columns)
    changed = False
    for i, name in enumerate(batch.schema.names[:len(task.keep)]):
        idx = fragment.schema.get_field_index(name)
        if idx >= 0:
            want = fragment.schema.field(idx).type
            if not arrays[i].type.equals(want):
                arrays[i] = arrays[i].cast(want)
                changed = True
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names) if changed else batch


def write_fragment(task: Task, fragment: Fragment,
                   batches: Iterable[pa.RecordBatch]) -> FragmentOutcome:
    """Write one fragment's scored batches (from :class:`~._core.Scorer`); the outcome says
    what was written. An exception leaves no file under a final name."""
    started = time.perf_counter()
    out = task.output
    name = part_name(fragment, task.bundle.sha256)
    rejects, log = _Spill(), _Spill()
    profile: list[Any] = []
    seen = 0

    def body(fh: IO[bytes]) -> None:
        nonlocal seen
        rows: _Rows | None = None
        try:
            for batch in batches:
                batch = _normalise(batch, task, fragment)
                scored, rejected = _split(batch, seen, fragment, task)
                seen += batch.num_rows
                rejects.add(rejected)
                if scored is None or scored.num_rows == 0:
                    continue
                table, inputs = _output_part(scored)
                if rows is None:
                    rows = _Rows(fh, table.schema.with_metadata(_file_metadata(task, fragment)))
                rows.add(table)
                if inputs is not None:
                    _side(task, table, inputs, profile, log)
            if fragment.rows is not None and seen != fragment.rows:
                raise RuntimeError(f"the engine handed over {seen} of the {fragment.rows} "
                                   "rows")
        except BaseException:
            if rows is not None:
                rows.abort()
            raise
        if rows is None:
            raise _Empty
        rows.close()

    try:
        try:
            sha = out.write(f"{name}.parquet", body)
            output: str | None = f"{name}.parquet"
        except _Empty:
            sha, output = None, None
        scored_rows = seen - rejects.rows
        rejects_sha = None
        if rejects.rows:
            rejects_sha = out.write(f"{REJECTS}/{name}.parquet", _copy(rejects))
        elif not out.local or os.path.exists(out.path(f"{REJECTS}/{name}.parquet")):
            out.remove(f"{REJECTS}/{name}.parquet")
        profile_bytes = None
        if profile:
            merged = profile[0]
            for p in profile[1:]:
                merged = merged.merge(p)
            profile_bytes = merged.to_bytes()
            out.write(f"{PROFILES}/{name}.profile", _bytes(profile_bytes))
        log_name = None
        if log.rows:
            log_name = f"{LOG}/{name}.arrows"
            out.write(log_name, _copy_ipc(log))
    finally:
        rejects.close()
        log.close()
    return FragmentOutcome(key=fragment.key, status="done", output=output, rows=scored_rows,
                           rejected=rejects.rows, sha256=sha, rejects_sha256=rejects_sha,
                           seconds=time.perf_counter() - started, profile=profile_bytes,
                           log=log_name)


def _split(batch: pa.RecordBatch, offset: int, fragment: Fragment,
           task: Task) -> tuple[pa.RecordBatch | None, pa.RecordBatch]:
    """(scored rows, reject rows) of a scored batch."""
    reasons = batch.column(batch.schema.get_field_index(REASON))
    if reasons.null_count == len(reasons):
        return batch, pa.RecordBatch.from_pylist([])
    bad = pc.is_valid(reasons)
    import numpy as np

    rows = np.flatnonzero(np.asarray(bad, dtype=bool)) + offset
    rejected = batch.filter(bad)
    arrays = [pa.array([fragment.key] * len(rows), pa.string()),
              pa.array(rows, pa.int64()), rejected.column(rejected.schema.get_field_index(
                  REASON)).cast(pa.string()),
              *(rejected.column(k) for k in task.keep)]
    names = ["fragment", "row", "reason", *task.keep]
    scored = batch.filter(pc.invert(bad))
    return scored, pa.RecordBatch.from_arrays(arrays, names=names)


def _output_part(scored: pa.RecordBatch) -> tuple[pa.Table, pa.StructArray | None]:
    names = [n for n in scored.schema.names if n not in (REASON, INPUTS)]
    table = pa.Table.from_batches([scored]).select(names)
    idx = scored.schema.get_field_index(INPUTS)
    inputs = scored.column(idx) if idx >= 0 else None
    return table, inputs


def _side(task: Task, table: pa.Table, inputs: pa.StructArray, profile: list[Any],
          log: _Spill) -> None:
    """The drift profile of inputs and predictions, and the rows for the prediction log."""
    outputs = table.drop_columns([*task.keep, VERSION])
    if task.profile:
        from airlock.monitor import Profile

        flat = pa.Table.from_arrays([*inputs.flatten(), *outputs.columns],
                                    names=[*(f.name for f in inputs.type), *outputs.column_names])
        cats, nums = _kinds(flat.schema)
        profile.append(Profile.from_data(flat, columns=[*nums, *cats], categorical=cats,
                                         numerical=nums))
    if task.log:
        struct = pa.StructArray.from_arrays([c.combine_chunks() for c in outputs.columns],
                                            names=outputs.column_names)
        log.add(pa.RecordBatch.from_arrays([inputs, struct], names=["inputs", "outputs"]))


def _kinds(schema: pa.Schema) -> tuple[list[str], list[str]]:
    cats, nums = [], []
    for f in schema:
        t = f.type
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            nums.append(f.name)
        elif (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t)
              or pa.types.is_dictionary(t)):
            cats.append(f.name)
    return cats, nums


def _copy(spill: _Spill) -> Callable[[IO[bytes]], None]:
    def body(fh: IO[bytes]) -> None:
        rows: _Rows | None = None
        try:
            for batch in spill.batches():
                if rows is None:
                    rows = _Rows(fh, batch.schema)
                rows.add(batch)
        except BaseException:
            if rows is not None:
                rows.abort()
            raise
        if rows is not None:
            rows.close()
    return body


def _copy_ipc(spill: _Spill) -> Callable[[IO[bytes]], None]:
    def body(fh: IO[bytes]) -> None:
        writer = None
        try:
            for batch in spill.batches():
                if writer is None:
                    writer = pa.ipc.new_stream(fh, batch.schema)
                writer.write_batch(batch)
        finally:
            if writer is not None:
                writer.close()
    return body


def _bytes(data: bytes) -> Callable[[IO[bytes]], None]:
    def body(fh: IO[bytes]) -> None:
        fh.write(data)
    return body
