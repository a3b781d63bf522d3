"""Files: the one atomic writer and the one table-file reader.

:func:`write_atomic` writes a file so that a reader sees the old content or the new, never a
part: the bytes go to a uniquely named temporary file in the target's folder
(``tempfile.mkstemp``, so concurrent writers never share one), which is fsync'd, renamed over
the target with ``os.replace`` and made durable by an fsync of the folder. If anything fails
midway the temporary file is removed and the target keeps its old content.

:func:`scan_table` opens a table file lazily as a ``polars.LazyFrame``: Parquet (a file, a
folder, hive-partitioned or not, or a glob), CSV/TSV (gzip/zstd-compressed too), JSON lines
and Arrow IPC/Feather. Nothing is read but the schema until the caller collects, so a Parquet
folder larger than memory is one streaming pass. Index columns that pandas wrote
(``__index_level_0__`` and the index named in the pandas metadata) are left out unless asked
for. Every fault becomes one :mod:`airlock.errors` message naming the file: a path that does not
exist is :class:`NotFound`; an unknown extension, an empty or garbage file, text that is not
UTF-8 or a ragged CSV is a :class:`UsageError` (:class:`InvalidInput`). Errors that polars only
finds while collecting are translated by the :func:`reading` context manager.

:func:`read_jsonl` reads a JSON-lines file of records (prompt sets, labelled texts, LLM cases)
as Python values, each with where it came from (``cases.jsonl line 3``) so a check of a record
can name its line; :func:`parse_jsonl` does the same for lines already read (stdin).
:func:`stream_jsonl` reads a JSON-lines file or stream one line at a time with bounded memory
(a line longer than ``max_line_bytes`` is skipped in chunks, never held), and yields a bad
line (not UTF-8, not JSON, too long) as an error naming its line instead of raising, so the
caller checks the other lines.

In-memory tables (pandas, polars, pyarrow, numpy) are not files: ``airlock.data`` converts them.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from airlock.errors import (
    NO_SUCH_FILE,
    AirlockError,
    InvalidInput,
    NotFound,
    UsageError,
    file_not_found,
)

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = [
    "EMPTY",
    "LINE_TOO_LONG",
    "MIXED_FORMATS",
    "NOT_FOUND",
    "NOT_JSON",
    "NOT_UTF8",
    "NO_DATA_FILES",
    "NO_MATCH",
    "RAGGED",
    "UNKNOWN_FORMAT",
    "UNREADABLE",
    "UNWRITABLE",
    "JsonLine",
    "file_format",
    "fsync_dir",
    "parse_jsonl",
    "read_bytes",
    "read_jsonl",
    "read_table",
    "reading",
    "scan_table",
    "stream_jsonl",
    "table_format",
    "write_atomic",
]

NOT_FOUND = NO_SUCH_FILE.format(what="file or folder", path="{path}")  # the one wording
NO_MATCH = "no file matches {path}"
NO_DATA_FILES = ("folder {path} holds no table file (.parquet, .csv, .tsv, .jsonl, .arrow, "
                 ".feather)")
UNKNOWN_FORMAT = ("cannot tell the format of {path}: expected CSV, Parquet, JSON lines or Arrow "
                  "IPC (a file, a folder or a glob)")
MIXED_FORMATS = "{path} mixes table formats ({formats}): use one format per folder or glob"
UNREADABLE = "cannot read {path}: {fault}"
UNWRITABLE = "cannot write {path}: {fault}"
EMPTY = "the file is empty"
NOT_UTF8 = "the text is not UTF-8 (re-encode the file as UTF-8)"
RAGGED = "a row has more fields than the header (a ragged CSV)"
NOT_JSON = "{where}: not JSON ({fault})"
LINE_TOO_LONG = ("{where}: a line of {size:,} bytes is over the limit of {limit:,} bytes "
                 "({what})")
_CHUNK = 1 << 20

CSV_INFER_ROWS = 10_000
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv",
            ".txt": "csv", ".jsonl": "ndjson", ".ndjson": "ndjson", ".json": "ndjson",
            ".arrow": "ipc", ".ipc": "ipc", ".feather": "ipc"}
_COMPRESSED = (".gz", ".zst", ".zstd")
_FORMAT_NAMES = {"parquet": "Parquet", "csv": "CSV", "tsv": "TSV", "ndjson": "JSON lines",
                 "ipc": "Arrow IPC"}
_PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")


# -- writing -------------------------------------------------------------------------------

def write_atomic(path: str | Path, data: bytes | str | Callable[[IO[bytes]], object], *,
                 mode: int | None = None) -> Path:
    """Replace ``path`` with ``data`` atomically and durably; returns the path.

    ``data`` is bytes, text (written as UTF-8) or a callable that writes to the open binary
    file (for outputs too large to hold in memory); an exception it raises propagates, after
    the temporary file is removed. ``mode`` sets the permission bits (default: those of the
    file being replaced, else 0o666 less the umask, as ``open()`` would). The folder must exist.
    """
    target = Path(path)
    folder = target.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except FileNotFoundError:
        raise NotFound(NOT_FOUND.format(path=folder)) from None
    except OSError as exc:
        raise UsageError(UNWRITABLE.format(path=target, fault=_os_fault(exc))) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                _write_all(fh, data, target)
            _os(target, fh.flush)
            _os(target, os.fsync, fh.fileno())
        _os(target, os.chmod, tmp, _mode(target, mode))
        _os(target, os.replace, tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)
    return target


def _write_all(fh: IO[bytes], data: bytes | str, target: Path) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    _os(target, fh.write, raw)


def _os(target: Path, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except OSError as exc:
        raise UsageError(UNWRITABLE.format(path=target, fault=_os_fault(exc))) from None


def _os_fault(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _mode(target: Path, mode: int | None) -> int:
    if mode is not None:
        return mode
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it (Linux), else by set-and-restore."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def fsync_dir(folder: Path) -> None:
    """Make the rename durable; some platforms cannot open a folder, which is no fault."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading -------------------------------------------------------------------------------

def table_format(source: str | Path) -> str | None:
    """'parquet', 'csv', 'tsv', 'ndjson' or 'ipc' by the name of a file, or of the files in a
    folder or matched by a glob; None when it cannot be told (nothing is read)."""
    try:
        return _resolve(str(source))[1]
    except AirlockError:
        return None


def scan_table(source: str | Path, *, text: Collection[str] = (),
               keep_index: bool | Collection[str] = False) -> pl.LazyFrame:
    """A lazy frame over a table file, folder or glob (see the module docstring).

    ``text`` names CSV columns to read as text, unparsed (the others are inferred from the
    first 10,000 rows, dates included). ``keep_index`` keeps pandas index columns: all of them
    (True) or the ones named.
    """
    import polars as pl

    path = str(source)
    files, fmt = _resolve(path)
    for f in files:
        if os.stat(f).st_size == 0:
            raise InvalidInput(UNREADABLE.format(path=f, fault=EMPTY))
    with reading(path, fmt):
        if fmt == "parquet":
            hive = any("=" in part for f in files for part in Path(f).parent.parts)
            lf = pl.scan_parquet(files, hive_partitioning=hive)
        elif fmt in ("csv", "tsv"):
            overrides = dict.fromkeys(text, pl.String)
            lf = pl.scan_csv(files, separator="\t" if fmt == "tsv" else ",",
                             try_parse_dates=True, infer_schema_length=CSV_INFER_ROWS,
                             schema_overrides=overrides or None)
        elif fmt == "ndjson":
            lf = pl.scan_ndjson(files, infer_schema_length=CSV_INFER_ROWS)
        else:
            lf = pl.scan_ipc(files)
        names = lf.collect_schema().names()
        index = _index_columns(files[0], fmt, names)
    _check_names(files[0], fmt, names)
    if keep_index is True:
        return lf
    kept = set(keep_index) if keep_index is not False else set()
    dropped = [c for c in index if c not in kept]
    return lf.drop(dropped) if dropped else lf


def read_table(source: str | Path, *, columns: Sequence[str] | None = None,
               keep_index: bool | Collection[str] = False) -> pa.Table:
    """The whole table (or the named columns that it has: a caller reports missing ones) as
    Arrow, read in one streaming pass."""
    import polars as pl

    lf = scan_table(source, keep_index=keep_index)
    if columns is not None:
        present = set(lf.collect_schema().names())
        lf = lf.select([c for c in columns if c in present])
    with reading(str(source), table_format(source)):
        frame = lf.collect(engine="streaming")
    assert isinstance(frame, pl.DataFrame)
    return frame.to_arrow()


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """A whole (small) file's bytes; NotFound in the one wording when it does not exist
    (``what`` names it: "attachment file"), UsageError naming the fault otherwise."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise file_not_found(path, what) from None
    except OSError as exc:
        raise UsageError(UNREADABLE.format(path=path, fault=exc.strerror or exc)) from None


def read_jsonl(path: str | Path, what: str) -> list[tuple[Any, str]]:
    """:func:`parse_jsonl` of a file; ``what`` names it in errors ("cases file", ...)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise file_not_found(path, what) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(UNREADABLE.format(path=path, fault=exc)) from None
    return parse_jsonl(lines, path.name)


def parse_jsonl(lines: list[str], name: str) -> list[tuple[Any, str]]:
    """Each non-blank line's JSON value with where it came from (``name line N``)."""
    out: list[tuple[Any, str]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), f"{name} line {i}"))
        except json.JSONDecodeError as exc:
            raise InvalidInput(NOT_JSON.format(where=f"{name} line {i}", fault=exc.msg)) \
                from None
    return out


class JsonLine(NamedTuple):
    """One non-blank line of a JSON-lines stream: its 1-based number, where it came from
    (``prompts.jsonl line 3``), its JSON value, and ``error`` (a message naming the line)
    when it could not be read, else None."""

    number: int
    where: str
    value: Any
    error: str | None


def stream_jsonl(source: str | Path | IO[bytes], name: str, *, max_line_bytes: int,
                 limit_name: str = "max_line_bytes") -> Iterator[JsonLine]:
    """The lines of a JSON-lines file (a path; NotFound in the one wording when missing) or
    binary stream, one at a time. Memory stays bounded by ``max_line_bytes``: a longer line
    is read past in chunks and yielded as a :data:`LINE_TOO_LONG` error (``limit_name``
    names the setting in it); a line that is not UTF-8 or not JSON is an error too."""
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            fh: IO[bytes] = path.open("rb")
        except FileNotFoundError:
            raise file_not_found(path, "file") from None
        except OSError as exc:
            raise UsageError(UNREADABLE.format(path=path, fault=exc.strerror or exc)) from None
        with fh:
            yield from _stream_lines(fh, name, max_line_bytes, limit_name)
    else:
        yield from _stream_lines(source, name, max_line_bytes, limit_name)


def _stream_lines(fh: IO[bytes], name: str, max_line_bytes: int,
                  limit_name: str) -> Iterator[JsonLine]:
    number = 0
    while True:
        raw = fh.readline(max_line_bytes + 1)
        if not raw:
            return
        number += 1
        where = f"{name} line {number}"
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            size = len(raw)
            while True:  # read past the rest of the line without keeping it
                more = fh.readline(_CHUNK)
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield JsonLine(number, where, None, LINE_TOO_LONG.format(
                where=where, size=size - (1 if more.endswith(b"\n") else 0),
                limit=max_line_bytes, what=limit_name))
            continue
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield JsonLine(number, where, None, f"{where}: {NOT_UTF8}")
            continue
        try:
            yield JsonLine(number, where, json.loads(line), None)
        except json.JSONDecodeError as exc:
            yield JsonLine(number, where, None, NOT_JSON.format(where=where, fault=exc.msg))


@contextlib.contextmanager
def reading(name: str | Path, fmt: str | None = None) -> Iterator[None]:
    """Turn a read fault that polars or the OS raises while a table file is scanned or
    collected into one :class:`InvalidInput` naming ``name`` and the fault (``fmt``, the
    file's format, words the fault better)."""
    import polars as pl

    faults = (pl.exceptions.PolarsError, OSError)
    try:
        yield
    except AirlockError:
        raise
    except faults as exc:
        raise InvalidInput(UNREADABLE.format(path=name, fault=_fault(exc, fmt))) from None
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":  # a polars panic on a corrupt file
            raise InvalidInput(UNREADABLE.format(path=name, fault="the file is corrupt")) \
                from None
        raise


def _fault(exc: BaseException, fmt: str | None) -> str:
    """One line saying what is wrong, in words rather than the engine's."""
    text = str(exc).strip()
    low = text.lower()
    first = (text.splitlines()[0] if text else type(exc).__name__)[:300]
    if isinstance(exc, PermissionError):
        return "permission denied"
    if type(exc).__name__ == "NoDataError" or "empty csv" in low or "empty file" in low:
        return EMPTY
    if "utf-8" in low or "utf8" in low:
        return NOT_UTF8
    if "more fields than defined" in low:
        return RAGGED
    if "at least 12 bytes" in low:
        return "not a Parquet file (too short: " + ("empty" if "0 bytes" in low else
                                                   "no header and footer") + ")"
    if "par1" in low or "out of specification" in low:
        return "not a Parquet file (no Parquet footer)"
    what = _FORMAT_NAMES.get(fmt or "")
    if what is not None and (isinstance(exc, OSError) or fmt in ("ndjson", "ipc")):
        return f"not a valid {what} file ({first})"
    return first


def _check_names(first: str, fmt: str, names: list[str]) -> None:
    """Column names polars accepts but cannot hand on (NUL bytes), or decoded lossily."""
    if any("\x00" in n for n in names):
        raise InvalidInput(UNREADABLE.format(path=first, fault="a column name holds a NUL byte"))
    if fmt in ("csv", "tsv") and any("\ufffd" in n for n in names):
        import codecs
        import gzip

        opener: Any = gzip.open if first.lower().endswith(".gz") else open
        try:
            with opener(first, "rb") as fh:
                head = fh.read(1 << 20).split(b"\n", 1)[0]
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            raise InvalidInput(UNREADABLE.format(path=first, fault=NOT_UTF8)) from None
        except OSError:
            pass  # the reader proper reports an unreadable file


def _resolve(path: str) -> tuple[list[str], str]:
    """(the files, their one format) of a file, folder or glob."""
    p = Path(path)
    if any(ch in path for ch in "*?["):
        files = sorted(f for f in glob.glob(path, recursive=True) if Path(f).is_file())
        if not files:
            raise NotFound(NO_MATCH.format(path=path))
        for f in files:
            if _format_of(f) is None:
                raise InvalidInput(UNKNOWN_FORMAT.format(path=f))
    elif p.is_dir():
        files = sorted(str(f) for f in p.rglob("*") if f.is_file()
                       and not any(part.startswith((".", "_"))
                                   for part in f.relative_to(p).parts)
                       and _format_of(str(f)) is not None)
        if not files:
            raise NotFound(NO_DATA_FILES.format(path=path))
    elif p.is_file():
        if _format_of(path) is None:
            raise InvalidInput(UNKNOWN_FORMAT.format(path=path))
        files = [path]
    else:
        raise NotFound(NOT_FOUND.format(path=path))
    formats = sorted({_format_of(f) or "" for f in files})
    if len(formats) > 1:
        raise InvalidInput(MIXED_FORMATS.format(
            path=path, formats=", ".join(_FORMAT_NAMES[f] for f in formats)))
    return files, formats[0]


def file_format(name: str) -> str | None:
    """The table format a file's name says ('parquet', 'csv', 'tsv', 'ndjson' or 'ipc'),
    None when it says none; nothing is read (names on any filesystem)."""
    return _format_of(name)


def _format_of(path: str) -> str | None:
    name = path.lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    fmt = _FORMATS.get(Path(name).suffix)
    if fmt in ("parquet", "ipc") and name != path.lower():
        return None  # compressed Parquet/IPC files are compressed inside, never as a whole
    return fmt


def _index_columns(first: str, fmt: str, names: list[str]) -> list[str]:
    """Columns that hold a pandas index: by the pandas metadata, or by pandas' own names."""
    found = [n for n in names if _PANDAS_INDEX.match(n)]
    if fmt in ("parquet", "ipc"):
        meta = _pandas_metadata(first, fmt)
        for entry in meta.get("index_columns", []) if isinstance(meta, dict) else []:
            if isinstance(entry, str) and entry in names and entry not in found:
                found.append(entry)
    return found


def _pandas_metadata(path: str, fmt: str) -> Any:
    import json

    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            metadata = pq.read_schema(path).metadata
        else:
            import pyarrow.ipc as ipc

            with pa.memory_map(path) as source:
                try:
                    metadata = ipc.open_file(source).schema.metadata
                except pa.ArrowInvalid:
                    metadata = ipc.open_stream(source).schema.metadata
        raw = (metadata or {}).get(b"pandas")
        return json.loads(raw) if raw else {}
    except (pa.ArrowException, OSError, ValueError):
        return {}  # the reader proper reports a broken file
