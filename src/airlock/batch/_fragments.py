"""A batch job's inputs: the fragments (files) an input names, checked up front, and read.

An input is a Parquet, CSV/TSV, JSON lines or Arrow IPC file, a folder of them (names that
start with ``.`` or ``_`` are skipped, as airlock's reader skips them), or a glob, on the local
disk or any fsspec URL (``s3://bucket/events/date=2026-12-01/*.parquet``). Every fragment is
one output file. Folders named ``key=value`` on a fragment's path (hive partitions) add
``key`` as a text column where the file has none, the same way on every engine.

:func:`list_inputs` reads each fragment's Parquet footer (or, for text formats, its schema) so
that an unreadable file is an error before anything is written, and gives each fragment an
input fingerprint: the sha256 of its Parquet footer, which records every column chunk's
offsets, sizes and statistics (text files: of its bytes).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa

from airlock._files import (
    MIXED_FORMATS,
    NO_DATA_FILES,
    NO_MATCH,
    NOT_FOUND,
    UNKNOWN_FORMAT,
    UNREADABLE,
    file_format,
    reading,
    scan_table,
)
from airlock.errors import DependencyMissing, InvalidInput, NotFound, UsageError
from airlock.store import sha256_file

__all__ = ["Fragment", "Inputs", "add_partitions", "list_inputs", "read_batches"]

_NAMES = {"parquet": "Parquet", "csv": "CSV", "tsv": "TSV", "ndjson": "JSON lines",
          "ipc": "Arrow IPC"}
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Fragment:
    """One input file. ``key`` names it everywhere (an absolute path, or a URL)."""

    key: str
    path: str
    format: str
    size: int
    partition: tuple[tuple[str, str], ...] = ()
    rows: int | None = None
    schema: pa.Schema | None = field(default=None, compare=False)
    digest: str = ""

    @property
    def id(self) -> str:
        """16 hex digits naming the fragment in output file names."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names) if self.schema is not None else []


@dataclass(frozen=True, slots=True)
class Inputs:
    """What an input named: its fragments (sorted by key), their one format, and the
    filesystem they are read from (picklable, shipped to workers)."""

    spec: str
    fs: Any = field(repr=False)
    local: bool
    format: str
    fragments: tuple[Fragment, ...]

    @property
    def digest(self) -> str:
        """The input fingerprint: sha256 over every fragment's key and fingerprint."""
        h = hashlib.sha256()
        for f in self.fragments:
            h.update(f"{f.key}\0{f.size}\0{f.digest}\n".encode())
        return h.hexdigest()

    @property
    def rows(self) -> int | None:
        counts = [f.rows for f in self.fragments]
        return None if any(c is None for c in counts) else sum(c or 0 for c in counts)


def filesystem(url: str) -> tuple[Any, str, bool]:
    """(fsspec filesystem, its path for ``url``, whether it is the local disk)."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise DependencyMissing(f"{url} needs an extra: {exc}; for s3:// run "
                                "pip install 'airlock[s3]'") from None
    except ValueError as exc:
        raise UsageError(f"cannot use {url}: {exc}") from None
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return fs, str(path), "file" in protocols or "local" in protocols


def _key(fs: Any, path: str, local: bool) -> str:
    return os.path.abspath(path) if local else str(fs.unstrip_protocol(path))


def list_inputs(source: str | os.PathLike[str], *, threads: int = 8) -> Inputs:
    """The fragments of ``source``, each checked readable (see the module docstring)."""
    spec = str(source)
    fs, path, local = filesystem(spec)
    if local:
        path = os.path.abspath(os.path.expanduser(path))
    files = _files(fs, path, spec)
    formats = sorted({file_format(f) or "" for f in files})
    if len(formats) > 1:
        raise InvalidInput(MIXED_FORMATS.format(
            path=spec, formats=", ".join(_NAMES[f] for f in formats)))
    fmt = formats[0]
    plain = [Fragment(key=_key(fs, f, local), path=f, format=fmt, size=0,
                      partition=_partition(f)) for f in files]
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(plain)))) as pool:
        checked = list(pool.map(lambda fr: _inspect(fs, fr, local), plain))
    spec_key = os.path.abspath(os.path.expanduser(spec)) if local else spec
    return Inputs(spec=spec_key, fs=fs, local=local, format=fmt,
                  fragments=tuple(sorted(checked, key=lambda f: f.key)))


def _files(fs: Any, path: str, spec: str) -> list[str]:
    try:
        if any(ch in path for ch in "*?["):
            files = sorted(f for f in fs.glob(path) if fs.isfile(f))
            if not files:
                raise NotFound(NO_MATCH.format(path=spec))
        elif fs.isdir(path):
            files = sorted(f for f in fs.find(path) if not any(
                part.startswith((".", "_")) for part in _relative(f, path).split("/"))
                and file_format(f) is not None)
            if not files:
                raise NotFound(NO_DATA_FILES.format(path=spec))
            return files
        elif fs.isfile(path):
            files = [path]
        else:
            raise NotFound(NOT_FOUND.format(path=spec))
    except PermissionError:
        raise InvalidInput(UNREADABLE.format(path=spec, fault="permission denied")) from None
    except OSError as exc:
        raise InvalidInput(UNREADABLE.format(path=spec, fault=str(exc) or type(exc).__name__)) \
            from None
    for f in files:
        if file_format(f) is None:
            raise InvalidInput(UNKNOWN_FORMAT.format(path=f))
    return files


def _relative(path: str, base: str) -> str:
    return path[len(base):].lstrip("/") if path.startswith(base) else path


def _partition(path: str) -> tuple[tuple[str, str], ...]:
    """The ``key=value`` folders of ``path`` (every folder on it, so that a glob below
    ``date=…/`` still gives ``date``)."""
    out: dict[str, str] = {}
    for part in path.split("/")[:-1]:
        key, eq, value = part.partition("=")
        if eq and key and not key.startswith((".", "_")):
            out.setdefault(unquote(key), unquote(value))
    return tuple(out.items())


def _inspect(fs: Any, fragment: Fragment, local: bool) -> Fragment:
    """The fragment with its size, rows, schema and fingerprint; InvalidInput naming it when
    it cannot be read."""
    import dataclasses

    where = fragment.key
    try:
        size = int(fs.size(fragment.path))
        if size == 0:
            raise InvalidInput(UNREADABLE.format(path=where, fault="the file is empty"))
        if fragment.format == "parquet":
            rows, schema, digest = _parquet_footer(fs, fragment.path, size, where)
            return dataclasses.replace(fragment, size=size, rows=rows, schema=schema,
                                       digest=digest)
        with local_copy(fs, fragment, local) as path:
            lf = scan_table(path)
            with reading(where, fragment.format):
                names = lf.collect_schema().names()
            digest = sha256_file(Path(path))
        schema = pa.schema([pa.field(n, pa.null()) for n in names])
        return dataclasses.replace(fragment, size=size, schema=schema, digest=digest)
    except PermissionError:
        raise InvalidInput(UNREADABLE.format(path=where, fault="permission denied")) from None
    except FileNotFoundError:
        raise NotFound(NOT_FOUND.format(path=where)) from None


def _parquet_footer(fs: Any, path: str, size: int,
                    where: str) -> tuple[int, pa.Schema, str]:
    import pyarrow.parquet as pq

    if size < 12:
        raise InvalidInput(UNREADABLE.format(
            path=where, fault="not a Parquet file (too short: no header and footer)"))
    with fs.open(path, "rb") as fh:
        fh.seek(size - 8)
        tail = fh.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or length + 12 > size:
            raise InvalidInput(UNREADABLE.format(
                path=where, fault="not a Parquet file (no Parquet footer)"))
        fh.seek(size - 8 - length)
        footer = fh.read(length)
        fh.seek(0)
        try:
            meta = pq.ParquetFile(fh).metadata
            schema = meta.schema.to_arrow_schema()
        except (pa.ArrowException, OSError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InvalidInput(UNREADABLE.format(path=where, fault=first)) from None
    digest = hashlib.sha256(size.to_bytes(8, "little") + footer).hexdigest()
    return int(meta.num_rows), schema.remove_metadata(), digest


@contextlib.contextmanager
def local_copy(fs: Any, fragment: Fragment, local: bool) -> Iterator[str]:
    """A local path of the fragment's bytes: itself on the local disk, else a temporary
    copy (text formats are read by airlock's own reader, which reads local files)."""
    if local:
        yield fragment.path
        return
    name = fragment.path.rsplit("/", 1)[-1]
    with tempfile.TemporaryDirectory(prefix="airlock-batch-") as tmp:
        target = os.path.join(tmp, name)
        with fs.open(fragment.path, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)
        yield target


def add_partitions(batch: pa.RecordBatch, fragment: Fragment,
                   wanted: Sequence[str]) -> pa.RecordBatch:
    """``batch`` with the fragment's partition values (text) as columns, for the wanted
    columns the file does not hold."""
    extra = [(k, v) for k, v in fragment.partition
             if k in wanted and k not in batch.schema.names]
    if not extra:
        return batch
    import numpy as np

    zeros = pa.array(np.zeros(batch.num_rows, dtype=np.int32))
    arrays = [*batch.columns, *(pa.array([v], pa.string()).take(zeros) for _, v in extra)]
    return pa.RecordBatch.from_arrays(arrays, names=[*batch.schema.names,
                                                     *(k for k, _ in extra)])


def read_batches(fs: Any, local: bool, fragment: Fragment, columns: Sequence[str],
                 batch_size: int) -> Iterator[pa.RecordBatch]:
    """The fragment's rows in batches of up to ``batch_size``: only ``columns`` (those the
    file has, plus partition values), streamed, so memory stays bounded by the batch."""
    wanted = list(columns)
    if fragment.format == "parquet":
        import pyarrow.parquet as pq

        present = [c for c in wanted if c in fragment.columns]
        with contextlib.ExitStack() as stack:
            source = fragment.path if local else stack.enter_context(
                fs.open(fragment.path, "rb"))
            stack.enter_context(reading(fragment.key, "parquet"))
            pf = pq.ParquetFile(source, pre_buffer=False)
            for batch in pf.iter_batches(batch_size=batch_size, columns=present,
                                         use_threads=False):
                yield add_partitions(batch, fragment, wanted)
        return
    with local_copy(fs, fragment, local) as path:
        lf = scan_table(path)
        with reading(fragment.key, fragment.format):
            have = lf.collect_schema().names()
            lf = lf.select([c for c in wanted if c in have])
            for frame in lf.collect_batches(chunk_size=batch_size):
                for batch in frame.to_arrow().to_batches(max_chunksize=batch_size):
                    yield add_partitions(batch, fragment, wanted)
