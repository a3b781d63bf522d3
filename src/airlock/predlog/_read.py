"""Reading the log: segments pruned by their names, then the live spools, batch by batch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airlock.errors import InvalidInput, NotFound, UsageError, file_not_found
from airlock.store import ArtifactStore

from ._locations import LOG_FOLDER, log_locations
from ._schema import COLUMNS, PREDICTIONS, TS_TYPE, check_name
from ._spool import SEGMENT, iter_spool, spool_files, spool_folder

__all__ = ["logged_endpoints", "read_prediction_log", "scan_prediction_log"]

READ_BATCH_ROWS = 64 * 1024
_DATE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


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
            seg = SEGMENT.fullmatch(rel)
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
    known = COLUMNS.get(stream)
    unknown = [c for c in columns if not isinstance(c, str) or (known and c not in known)]
    if unknown:
        raise UsageError(f"unknown column {unknown[0]!r} for the {stream} log; it has: "
                         + ", ".join(known or ()))
    return list(columns)


def _locate(artifact_uri: str | None,
            spool_dir: Path | str | None) -> tuple[ArtifactStore, Path | None]:
    """The segments' store and the spool folder: the current store's when ``artifact_uri`` is
    not given; an explicit location that does not exist is an error, never an empty log."""
    if artifact_uri is None:
        uri, spool = log_locations()
        return ArtifactStore(uri), Path(spool_dir) if spool_dir is not None else spool
    if spool_dir is not None and not Path(spool_dir).is_dir():
        raise file_not_found(spool_dir, "spool folder")
    store = ArtifactStore(artifact_uri)
    if not store.is_local:
        store.fs.invalidate_cache(store.root)
    if not store.fs.exists(store.root):
        if spool_dir is None:  # with spools, nothing may have rolled into a segment yet
            raise file_not_found(artifact_uri, "prediction log location")
        return store, Path(spool_dir)
    nested = f"{store.root}/{LOG_FOLDER}"
    if not any(store.fs.exists(f"{store.root}/{s}") for s in COLUMNS) and store.fs.exists(nested):
        raise NotFound(f"{artifact_uri} holds no prediction log; the store keeps its logs in "
                       f"{artifact_uri.rstrip('/')}/{LOG_FOLDER} (or pass no artifact_uri)")
    return store, Path(spool_dir) if spool_dir is not None else None


def scan_prediction_log(endpoint: str, *, artifact_uri: str | None = None,
                        spool_dir: Path | str | None = None, stream: str = PREDICTIONS,
                        since: datetime | None = None, until: datetime | None = None,
                        columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of the log with ``since <= ts < until``, segment by segment (pruned by
    their names before any is opened), then the live spools.

    Without ``artifact_uri`` it reads the current store's log, segments and live spools;
    with it, the segments there (and the spools in ``spool_dir`` when given). Batches of
    different model versions may have different ``inputs``/``outputs`` structs;
    :func:`read_prediction_log` unifies them. Naive datetimes are taken as UTC."""
    prefix = f"{check_name('stream', stream)}/{check_name('endpoint', endpoint)}"
    lo, hi = _to_ms(since, "since"), _to_ms(until, "until")
    wanted = _check_columns(stream, columns)
    store, spool = _locate(artifact_uri, spool_dir)
    return _scan(store, spool, prefix, stream, endpoint, lo, hi, wanted)


def _scan(store: ArtifactStore, spool_dir: Path | None, prefix: str, stream: str,
          endpoint: str, lo: int | None, hi: int | None,
          wanted: list[str] | None) -> Iterator[pa.RecordBatch]:
    # spools are listed before segments: a spool converted in between is then either in the
    # segment listing (and skipped) or read from its segment when the spool has gone
    paths = spool_files(spool_folder(spool_dir, stream, endpoint)) if spool_dir is not None else []
    # with spools to read, list every partition: a converted spool must not be read twice
    segments = _list_segments(store, prefix, None if spool_dir is not None else hi)
    for seg in segments:
        if (hi is not None and seg.lo >= hi) or (lo is not None and seg.hi < lo):
            continue  # pruned by its name, never opened
        inside = (lo is None or seg.lo >= lo) and (hi is None or seg.hi < hi)
        # a segment wholly inside the window is read without a row filter
        for batch in _read_segment(store, seg.key, None if inside else lo,
                                   None if inside else hi, wanted):
            if batch.num_rows:
                yield batch
    done = {s.spool_id for s in segments}
    for batch in _read_spools(store, prefix, paths, done, lo, hi, wanted):
        if batch.num_rows:
            yield batch


def logged_endpoints(artifact_uri: str | None = None, spool_dir: Path | str | None = None,
                     stream: str = PREDICTIONS) -> list[str]:
    """The endpoints with a ``stream`` log (segments or spools) at the location."""
    store, spool = _locate(artifact_uri, spool_dir)
    names: set[str] = set()
    base = f"{store.root}/{check_name('stream', stream)}"
    if store.fs.exists(base):
        names.update(str(e).rstrip("/").rsplit("/", 1)[-1]
                     for e in store.fs.ls(base, detail=False))
    if spool is not None and (spool / stream).is_dir():
        names.update(p.name for p in (spool / stream).iterdir() if p.is_dir())
    return sorted(names)


def read_prediction_log(endpoint: str, *, artifact_uri: str | None = None,
                        spool_dir: Path | str | None = None, stream: str = PREDICTIONS,
                        since: datetime | None = None, until: datetime | None = None,
                        columns: list[str] | None = None) -> pa.Table:
    """:func:`scan_prediction_log` as one table; structs of different versions are merged
    (fields missing in a version are null there). An endpoint that never logged a prediction
    there is :class:`~airlock.errors.NotFound` (its feedback stream may be empty)."""
    batches = scan_prediction_log(
        endpoint, artifact_uri=artifact_uri, spool_dir=spool_dir, stream=stream, since=since,
        until=until, columns=columns)
    if stream == PREDICTIONS:
        known = logged_endpoints(artifact_uri, spool_dir, stream)
        if endpoint not in known:
            raise NotFound(f"endpoint {endpoint!r} has no prediction log here; logged "
                           f"endpoints: {', '.join(known) or 'none'}")
    tables = [pa.Table.from_batches([b]) for b in batches]
    if not tables:
        names = columns if columns is not None else list(COLUMNS.get(stream, ("ts",)))
        return pa.table({n: pa.array([], TS_TYPE if n == "ts" else pa.null()) for n in names})
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"the {stream} log of {endpoint!r} does not combine into one table "
                           f"({exc}); read it batch by batch with scan_prediction_log") from None

