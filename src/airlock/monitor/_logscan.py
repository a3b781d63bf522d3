"""Streaming reads of a served endpoint's prediction log, window by window.

Every pass goes through :func:`airlock.predlog.scan_prediction_log`, so only one record batch
(at most 64k rows) of the log is in memory at a time; what is kept per window is small and
per request (latencies, labels joined from the feedback stream), never the inputs.

Request-level figures (requests, errors, latency) count the first row (``row == 0``) of each
request, since every row of a request carries the same status and latency. Every answered
request is in the log (2xx, 4xx rejected before scoring, 403 guard blocks, 5xx model
failures), so the error rate counts them all. Rows of the shadow model (route ``shadow``) are
never client traffic: they are counted apart (their own requests, errors and latency, and how
often their prediction agrees with the one the client got). Drift and null rates read the
rows a model answered for a client (status below 400, not the shadow). A feedback label belongs to a
request and is joined to that request's first row; when a request was labelled twice, the
latest label wins.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from airlock.errors import NotFound, UsageError

__all__ = [
    "Labels",
    "LogWindow",
    "column_null_rate",
    "newest_ts",
    "parse_duration",
    "read_labels",
    "redacted_columns",
    "scan_windows",
    "to_datetime",
    "window_tables",
]

F64 = NDArray[np.float64]
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
SERVING_COLUMNS = ["request_id", "row", "ts", "route", "model", "version", "status",
                   "latency_ms"]
SHADOW = "shadow"


def parse_duration(text: str | int | float | timedelta, what: str = "duration") -> timedelta:
    """``"30s"``, ``"5m"``, ``"1h"``, ``"1d"``, ``"1w"`` (or seconds as a number)."""
    if isinstance(text, timedelta):
        value = text
    elif isinstance(text, int | float) and not isinstance(text, bool):
        value = timedelta(seconds=float(text))
    else:
        match = _DURATION.fullmatch(str(text))
        if match is None:
            raise UsageError(f"invalid {what} {text!r}: use a number and a unit (ms, s, m, h, "
                             "d, w), e.g. 30s, 5m, 1h, 1d")
        value = timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])
    if value <= timedelta(0):
        raise UsageError(f"invalid {what} {text!r}: it must be longer than zero")
    return value


def to_datetime(value: str | datetime | None, what: str) -> datetime | None:
    """An ISO-8601 time (naive means UTC), or a duration back from now (``"2h"``)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            return datetime.now(UTC) - parse_duration(value, what)
        except UsageError:
            raise UsageError(f"invalid {what} {value!r}: use an ISO time "
                             "(2024-03-01T12:00) or a duration back from now (2h)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _scan(endpoint: str, stream: str, since: datetime | None, until: datetime | None,
          columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    from airlock.predlog import scan_prediction_log

    return scan_prediction_log(endpoint, stream=stream, since=since, until=until,
                               columns=columns)


def _ms(col: pa.Array | pa.ChunkedArray) -> NDArray[np.int64]:
    out: NDArray[np.int64] = pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
    return out


# -- labels --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Labels:
    """The feedback stream reduced to the latest numeric label per request id.

    Looked up once per batch of the log: the ids are hashed once here and sorted, so a
    lookup is a vectorised binary search (``pc.index_in`` would rebuild its hash table of
    every label on each call, which dominated the scan of a large log)."""

    request_ids: pa.Array
    values: F64
    _hashes: NDArray[np.uint64] = field(init=False, repr=False)
    _order: NDArray[np.intp] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        hashes = _hash_ids(self.request_ids)
        order = np.argsort(hashes, kind="stable")  # equal ids keep their order: latest first
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "_hashes", hashes[order])

    def __len__(self) -> int:
        return len(self.request_ids)

    def lookup(self, request_ids: pa.Array) -> tuple[NDArray[np.bool_], F64]:
        """For each id: whether it has a label, and the label (NaN where none)."""
        if not len(self) or not len(request_ids):
            return np.zeros(len(request_ids), bool), np.full(len(request_ids), np.nan)
        wanted = _hash_ids(request_ids)
        at = np.searchsorted(self._hashes, wanted)
        hit = at < len(self._hashes)
        at[~hit] = 0
        hit &= self._hashes[at] == wanted
        pos = self._order[at]
        # a hash match is checked against the id itself; a collision (never seen in
        # practice) falls back to the exact lookup for those rows only
        same = pc.equal(request_ids, self.request_ids.take(pa.array(pos)))
        same_np = pc.fill_null(same, False).to_numpy(zero_copy_only=False)
        clash = np.flatnonzero(hit & ~same_np)
        found = hit & same_np
        if clash.size:
            idx = pc.index_in(request_ids.take(pa.array(clash)), value_set=self.request_ids)
            ok = idx.is_valid().to_numpy(zero_copy_only=False)
            pos[clash[ok]] = idx.filter(idx.is_valid()).to_numpy(zero_copy_only=False)
            found[clash[ok]] = True
        return found, np.where(found, self.values[pos], np.nan)


def _hash_ids(ids: pa.Array) -> NDArray[np.uint64]:
    import polars as pl

    hashed: NDArray[np.uint64] = pl.Series(values=ids).hash(seed=0).to_numpy()
    return hashed


def read_labels(endpoint: str, until: datetime | None = None) -> Labels:
    """Every numeric feedback label of ``endpoint`` (the stream is small: one row per
    labelled request), latest per request first so a lookup finds it."""
    parts = [b for b in _scan(endpoint, "feedback", None, until, ["request_id", "ts", "label"])]
    if not parts:
        return Labels(pa.array([], pa.string()), np.empty(0))
    table = pa.Table.from_batches(parts).filter(pc.is_valid(pc.field("label")))
    table = table.sort_by([("ts", "descending")])
    return Labels(table.column("request_id").combine_chunks(),
                  table.column("label").to_numpy().astype(np.float64))


# -- serving windows -----------------------------------------------------------------------
@dataclass
class LogWindow:
    """What one time window of the log holds: counts, per-request latencies, routes, and
    (when feedback exists) the labelled requests' label, prediction and score."""

    start: datetime
    end: datetime
    requests: int = 0
    rows: int = 0
    errors: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    versions: Counter[tuple[str, int]] = field(default_factory=Counter)  # answered requests
    first_ms: int | None = None
    last_ms: int | None = None
    shadow_requests: int = 0
    shadow_errors: int = 0
    shadow_compared: int = 0  # shadow answers with a client answer to compare with
    shadow_agreed: int = 0
    _latency: list[NDArray[np.float64]] = field(default_factory=list)
    _shadow_latency: list[NDArray[np.float64]] = field(default_factory=list)
    _y: list[F64] = field(default_factory=list)
    _pred: list[pa.Array] = field(default_factory=list)
    _score: list[F64] = field(default_factory=list)

    @property
    def latencies(self) -> F64:
        return np.concatenate(self._latency) if self._latency else np.empty(0)

    @property
    def shadow_latencies(self) -> F64:
        return np.concatenate(self._shadow_latency) if self._shadow_latency else np.empty(0)

    @property
    def labels(self) -> F64:
        return np.concatenate(self._y) if self._y else np.empty(0)

    @property
    def predictions(self) -> pa.Array | None:
        parts = [p for p in self._pred if len(p)]
        if not parts:
            return None
        try:
            return pa.concat_arrays(parts)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # versions with different types
            return pa.concat_arrays([pc.cast(p, pa.string()) for p in parts])

    @property
    def scores(self) -> F64 | None:
        if not self._score or len(self._score) != len(self._pred):
            return None
        return np.concatenate(self._score)


def _score_field(outputs: pa.StructArray) -> str | None:
    names = [outputs.type.field(i).name for i in range(outputs.type.num_fields)]
    for name in ("proba_1", "probability", "score", "proba"):
        if name in names:
            return name
    return None


def _add_labels(win: LogWindow, batch: pa.RecordBatch, mask: NDArray[np.bool_],
                labels: Labels) -> None:
    ids = batch.column("request_id").filter(pa.array(mask))
    found, y = labels.lookup(ids)
    if not found.any():
        return
    keep = np.flatnonzero(mask)[found]
    outputs = batch.column("outputs").take(pa.array(keep))
    if not isinstance(outputs, pa.StructArray) or outputs.type.get_field_index("prediction") < 0:
        return
    win._y.append(y[found])
    win._pred.append(outputs.field("prediction"))
    name = _score_field(outputs)
    if name is not None:
        win._score.append(pc.cast(outputs.field(name), pa.float64())
                          .to_numpy(zero_copy_only=False))


def _is_shadow(batch: pa.RecordBatch) -> NDArray[np.bool_]:
    out: NDArray[np.bool_] = pc.fill_null(pc.equal(batch.column("route"), SHADOW), False) \
        .to_numpy(zero_copy_only=False)
    return out


def _add_batch(windows: dict[int, LogWindow], batch: pa.RecordBatch, origin: int, step: int,
               labels: Labels | None) -> None:
    ts = _ms(batch.column("ts"))
    first = np.asarray(batch.column("row").to_numpy(zero_copy_only=False)) == 0
    status = np.nan_to_num(batch.column("status").to_numpy(zero_copy_only=False)
                           .astype(np.float64)).astype(np.int64)
    latency = pc.cast(batch.column("latency_ms"), pa.float64()).to_numpy(zero_copy_only=False)
    routes = batch.column("route")
    shadow = _is_shadow(batch)
    keys = (ts - origin) // step
    for key in np.unique(keys).tolist():
        in_win = keys == key
        client = in_win & ~shadow
        req = client & first
        start = datetime.fromtimestamp((origin + key * step) / 1000, UTC)
        win = windows.setdefault(key, LogWindow(start, start + timedelta(milliseconds=step)))
        win.rows += int(client.sum())
        win.requests += int(req.sum())
        win.errors += int((status[req] >= 400).sum())
        win._latency.append(latency[req])
        codes, counts = np.unique(status[req], return_counts=True)
        win.statuses.update(dict(zip(codes.tolist(), counts.tolist(), strict=True)))
        routed = pc.value_counts(routes.filter(pa.array(req))).to_pylist()
        win.routes.update({str(c["values"]): int(c["counts"]) for c in routed})
        answered = req & (status < 400)
        if answered.any() and "model" in batch.schema.names and "version" in batch.schema.names:
            pairs = pa.table({"m": batch.column("model"), "v": batch.column("version")}) \
                .filter(pa.array(answered)).group_by(["m", "v"]).aggregate([([], "count_all")])
            for m, v, n in zip(pairs.column("m").to_pylist(), pairs.column("v").to_pylist(),
                               pairs.column("count_all").to_pylist(), strict=True):
                if m is not None and v is not None:
                    win.versions[(m, int(v))] += int(n)
        sreq = in_win & shadow & first
        if sreq.any():
            win.shadow_requests += int(sreq.sum())
            win.shadow_errors += int((status[sreq] >= 400).sum())
            win._shadow_latency.append(latency[sreq])
        lo, hi = int(ts[in_win].min()), int(ts[in_win].max())
        win.first_ms = lo if win.first_ms is None else min(win.first_ms, lo)
        win.last_ms = hi if win.last_ms is None else max(win.last_ms, hi)
        if labels is not None and len(labels):
            _add_labels(win, batch, req, labels)


def _predictions(batch: pa.RecordBatch, mask: NDArray[np.bool_]) -> pa.Table | None:
    """(request_id, row, prediction as text) of the rows in ``mask`` that a model answered."""
    outputs = batch.column("outputs")
    if not isinstance(outputs, pa.StructArray) or outputs.type.get_field_index("prediction") < 0:
        return None
    keep = pa.array(mask)
    return pa.table({"request_id": batch.column("request_id").filter(keep),
                     "row": batch.column("row").filter(keep),
                     "prediction": pc.cast(outputs.field("prediction"), pa.string())
                     .filter(keep)})


def _add_agreement(endpoint: str, windows: dict[int, LogWindow], origin: int, step: int,
                   since: datetime | None, until: datetime | None) -> None:
    """How often the shadow's prediction equals the client's, row by row (a second pass,
    only over an endpoint whose log holds shadow rows)."""
    parts: dict[tuple[int, bool], list[pa.Table]] = {}
    for batch in _scan(endpoint, "predictions", since, until,
                       ["request_id", "row", "ts", "route", "status", "outputs"]):
        keys = (_ms(batch.column("ts")) - origin) // step
        shadow = _is_shadow(batch)
        ok = pc.fill_null(pc.less(batch.column("status"), 400), False) \
            .to_numpy(zero_copy_only=False)
        for key in np.unique(keys).tolist():
            if windows[key].shadow_requests == 0:
                continue
            for role in (True, False):
                part = _predictions(batch, (keys == key) & ok & (shadow == role))
                if part is not None and part.num_rows:
                    parts.setdefault((key, role), []).append(part)
    for key, win in windows.items():
        if (key, True) not in parts or (key, False) not in parts:
            continue
        ours = pa.concat_tables(parts[(key, True)])
        theirs = pa.concat_tables(parts[(key, False)]).rename_columns(
            ["request_id", "row", "client"])
        joined = ours.join(theirs, ["request_id", "row"], join_type="inner")
        win.shadow_compared = joined.num_rows
        win.shadow_agreed = int(pc.sum(pc.fill_null(
            pc.equal(joined.column("prediction"), joined.column("client")), False)).as_py()
            or 0)


def scan_windows(endpoint: str, *, window: timedelta, since: datetime | None = None,
                 until: datetime | None = None, labels: Labels | None = None,
                 origin: datetime | None = None) -> list[LogWindow]:
    """One :class:`LogWindow` per window that holds rows, in time order, from one streamed
    pass over the prediction log (two when the log holds shadow rows). Windows are aligned
    on ``origin`` (``since``, else the Unix epoch, so ``1h`` windows start on the hour)."""
    step = int(window.total_seconds() * 1000)
    base = origin or since
    origin_ms = int(base.timestamp() * 1000) if base is not None else 0
    columns = [*SERVING_COLUMNS, "outputs"] if labels is not None and len(labels) \
        else SERVING_COLUMNS
    windows: dict[int, LogWindow] = {}
    for batch in _scan(endpoint, "predictions", since, until, columns):
        _add_batch(windows, batch, origin_ms, step, labels)
    if any(w.shadow_requests for w in windows.values()):
        _add_agreement(endpoint, windows, origin_ms, step, since, until)
    return [windows[k] for k in sorted(windows)]


def newest_ts(endpoint: str) -> datetime | None:
    """The time of the newest row in the log (one streamed pass over the ``ts`` column)."""
    newest: int | None = None
    for batch in _scan(endpoint, "predictions", None, None, ["ts"]):
        top = pc.max(batch.column("ts").cast(pa.int64())).as_py()
        if top is not None and (newest is None or top > newest):
            newest = int(top)
    return None if newest is None else datetime.fromtimestamp(newest / 1000, UTC)


# -- window contents -----------------------------------------------------------------------
def _flatten(batch: pa.RecordBatch, struct: str, prefix: str = "") -> dict[str, pa.Array]:
    if struct not in batch.schema.names:
        return {}
    col = batch.column(struct)
    if not isinstance(col, pa.StructArray):
        return {}
    return {f"{prefix}{col.type.field(i).name}": col.field(i)
            for i in range(col.type.num_fields)}


def _answered(batch: pa.RecordBatch, part: str) -> pa.RecordBatch:
    """The rows drift reads: those a model answered for a client (status below 400, not the
    shadow's), whose ``part`` was logged."""
    keep = pc.and_(pc.invert(pc.fill_null(pc.equal(batch.column("route"), SHADOW), False)),
                   pc.fill_null(pc.less(batch.column("status"), 400), False))
    if part in batch.schema.names:
        keep = pc.and_(keep, pc.is_valid(batch.column(part)))
    return batch.filter(keep)


def _redactions(batch: pa.RecordBatch, part: str) -> dict[str, str]:
    """The fields of ``part`` the log's redactor changed (``hash``/``mask``) or dropped."""
    from airlock.predlog import REDACTED

    if part not in batch.schema.names:
        return {}
    f = batch.schema.field(part)
    out = {name: "drop" for name in (f.metadata or {}).get(REDACTED, b"").decode().split(",")
           if name}
    if pa.types.is_struct(f.type):
        for child in f.type:
            mode = (child.metadata or {}).get(REDACTED)
            if mode:
                out[child.name] = mode.decode()
    return out


def redacted_columns(table: pa.Table) -> dict[str, str]:
    """What :func:`window_tables` found redacted in the log: column → hash, mask or drop."""
    from airlock.predlog import REDACTED

    raw = (table.schema.metadata or {}).get(REDACTED)
    return dict(json.loads(raw)) if raw else {}


def window_tables(endpoint: str, since: datetime, until: datetime,
                  parts: tuple[str, ...] = ("inputs", "outputs")) -> dict[str, pa.Table | None]:
    """For each of ``parts`` (``inputs``, ``outputs``): that part of the rows in
    ``[since, until)`` that a model answered for a client, as a flat table, or None when the
    window has no such rows; all parts from one streamed pass over the window. Versions whose
    fields differ are unified; the fields the log redacted are named in each table's metadata
    (:func:`redacted_columns`)."""
    tables: dict[str, list[pa.Table]] = {p: [] for p in parts}
    redacted: dict[str, dict[str, str]] = {p: {} for p in parts}
    for batch in _scan(endpoint, "predictions", since, until, [*parts, "status", "route"]):
        for part in parts:
            redacted[part].update(_redactions(batch, part))
            cols = _flatten(_answered(batch, part), part)
            if cols and len(next(iter(cols.values()))):
                tables[part].append(pa.table(cols))
    return {part: _unified(tables[part], redacted[part]) for part in parts}


def _unified(tables: list[pa.Table], redacted: dict[str, str]) -> pa.Table | None:
    if not tables:
        return None
    out = pa.concat_tables(tables, promote_options="permissive")
    if redacted:
        from airlock.predlog import REDACTED

        out = out.replace_schema_metadata({REDACTED: json.dumps(redacted, sort_keys=True)})
    return out


def column_null_rate(endpoint: str, column: str, since: datetime | None,
                     until: datetime | None) -> tuple[float | None, int]:
    """Share of null values of an input (or output) field over the rows of the window, and
    the number of rows; None when the window has no rows. Streamed batch by batch."""
    nulls = rows = 0
    seen = False
    for batch in _scan(endpoint, "predictions", since, until,
                       ["inputs", "outputs", "status", "route"]):
        batch = _answered(batch, "outputs")
        cols = {**_flatten(batch, "outputs"), **_flatten(batch, "inputs")}
        rows += batch.num_rows
        if column in cols:
            seen = True
            nulls += cols[column].null_count
        else:
            nulls += batch.num_rows  # a version that does not log the field: all missing
    if rows == 0:
        return None, 0
    if not seen:
        raise NotFound(f"column {column!r} is in neither the inputs nor the outputs logged "
                       f"by endpoint {endpoint!r}")
    return nulls / rows, rows
