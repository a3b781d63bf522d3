"""``monitor_endpoint``: a served endpoint's health over its prediction log, window by window.

Per window: requests, rows, errors and error rate, latency p50/p95/p99, throughput, the
route split (the shadow's figures apart); with feedback labels, performance on the labelled
requests and label drift against the first labelled window; prediction drift of the logged
outputs against, in this order, the ``prediction_reference`` given, the ``reference`` when it
holds the output columns, or the profile of the served version's predictions recorded when it
was evaluated; with a reference, input drift per column through :class:`DriftMonitor`. Every
drift figure names what it was compared with; a figure that could not be computed says why
(``missing``), never silently falls back to another reference.

Memory stays bounded by one window: the serving figures come from one streamed pass over the
log that keeps only per-request latencies and labels; drift then reads the inputs and outputs
of one window at a time (segments outside it are pruned by name, never opened).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from airlock.errors import AirlockError, NotFound, UsageError

from ._data import column_kind, open_data
from ._logscan import (
    LogWindow,
    parse_duration,
    read_labels,
    redacted_columns,
    scan_windows,
    to_datetime,
    window_tables,
)
from ._metrics import performance, serving_figures
from ._monitor import DriftMonitor
from ._profile import Profile
from ._result import DriftResult

__all__ = ["EndpointReport", "WindowReport", "monitor_endpoint"]


@dataclass(frozen=True)
class WindowReport:
    """One window of an endpoint: serving figures, performance, and drift results."""

    start: datetime
    end: datetime
    serving: dict[str, Any]
    performance: dict[str, Any] | None = None
    label_drift: dict[str, Any] | None = None
    prediction_drift: DriftResult | None = None
    input_drift: DriftResult | None = None
    notes: tuple[str, ...] = ()
    missing: dict[str, str] = field(default_factory=dict)
    """Why a drift figure of this window is absent: ``input_drift``, ``prediction_drift``,
    ``label_drift`` → the reason."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), **self.serving,
            "performance": self.performance, "label_drift": self.label_drift,
            "prediction_drift": _drift_dict(self.prediction_drift),
            "input_drift": _drift_dict(self.input_drift), "missing": dict(self.missing),
            "notes": list(self.notes),
        }


def _drift_dict(result: DriftResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"reference": result.reference, "skipped": dict(result.skipped),
            "drift_share": result.drift_share, "drifted": result.drifted,
            "drifted_columns": result.drifted_columns,
            "columns": {n: _figures(c.to_dict(distribution=False))
                        for n, c in result.columns.items()}}


_FIGURES = ("method", "statistic", "statistic_reason", "p_value", "p_value_reason",
            "threshold", "drifted")


def _figures(col: dict[str, Any]) -> dict[str, Any]:
    """A column's deciding figures, with the reason of a missing or non-finite one."""
    return {k: col[k] for k in _FIGURES if k in col}


@dataclass(frozen=True)
class EndpointReport:
    """Every window of an endpoint's log between ``since`` and ``until``."""

    endpoint: str
    window: timedelta
    since: datetime | None
    until: datetime | None
    windows: tuple[WindowReport, ...]
    reference: str | None = None
    seconds: float = 0.0
    totals: dict[str, Any] = field(default_factory=dict)
    prediction_reference: str | None = None
    prediction_reference_missing: str | None = None
    versions: dict[str, int] = field(default_factory=dict)
    """Requests answered without an error (status < 400) per version (``model@version``),
    over every window."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "window_seconds": self.window.total_seconds(),
            "versions": dict(self.versions),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "reference": self.reference, "prediction_reference": self.prediction_reference,
            "prediction_reference_missing": self.prediction_reference_missing,
            "totals": self.totals,
            "windows": [w.to_dict() for w in self.windows],
            "seconds": round(self.seconds, 4),
        }

    def drift_result(self) -> DriftResult | None:
        """The latest window's input (else prediction) drift, carrying every window's
        result, as :func:`render_drift_report` draws it."""
        results = [w.input_drift or w.prediction_drift for w in self.windows]
        kept = [r for r in results if r is not None]
        if not kept:
            return None
        return replace(kept[-1], windows=tuple(kept))


# -- drift against a reference -----------------------------------------------------------
def _reference_columns(reference: Any) -> tuple[Any, list[str]]:
    if isinstance(reference, str | Path) and Profile.is_profile(reference):
        reference = Profile.load(reference)
    if isinstance(reference, Profile):
        return reference, list(reference.columns)
    data = open_data(reference, what="reference")
    names = [f.name for f in data.schema if column_kind(f.type) is not None]
    return reference, names


def skipped_columns(table: pa.Table, names: list[str]) -> dict[str, str]:
    """The reference columns ``names`` that cannot be compared with the logged ``table``,
    each with why: redacted or dropped by the log's redactor, or never logged."""
    redacted = redacted_columns(table)
    out: dict[str, str] = {}
    for n in names:
        mode = redacted.get(n)
        if mode == "drop":
            out[n] = "dropped from the prediction log (redact: drop)"
        elif mode is not None:
            out[n] = (f"redacted in the prediction log (redact: {mode}): its logged values "
                      "are not comparable with the reference")
        elif n not in table.schema.names:
            out[n] = "not in the logged inputs"
        elif column_kind(table.schema.field(n).type) is None:
            out[n] = f"logged as {table.schema.field(n).type}, which drift cannot compare"
    return out


def _usable(table: pa.Table, names: list[str]) -> list[str]:
    return [n for n in names if n in table.schema.names
            and column_kind(table.schema.field(n).type) is not None]


@dataclass
class _Drift:
    """The fitted monitors: inputs against the reference, outputs against the prediction
    reference, labels against the first labelled window; and why one is missing."""

    reference: Any = None
    ref_columns: list[str] = field(default_factory=list)
    ref_name: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # input columns left out, and why
    # (reference, its columns, what it is) for the outputs, tried in order
    candidates: list[tuple[Any, list[str], str]] = field(default_factory=list)
    pred_name: str | None = None
    pred_missing: str | None = None
    inputs: DriftMonitor | None = None
    outputs: DriftMonitor | None = None
    labels: DriftMonitor | None = None
    label_start: datetime | None = None
    notes: list[str] = field(default_factory=list)

    def score(self, monitor: DriftMonitor | None, table: pa.Table | None) -> DriftResult | None:
        if monitor is None or table is None or table.num_rows == 0:
            return None
        try:
            return monitor.score(table)
        except AirlockError as exc:
            self.notes.append(str(exc))
            return None

    def fit_inputs(self, table: pa.Table | None) -> str | None:
        """Fit on the reference's columns that the log holds as they were; the reason when
        none is left (every shared column redacted)."""
        if self.inputs is not None or self.reference is None or table is None:
            return None
        self.skipped = skipped_columns(table, self.ref_columns)
        cols = [n for n in _usable(table, self.ref_columns) if n not in self.skipped]
        if not cols:
            if any(n in table.schema.names for n in self.ref_columns):
                return ("every input the reference shares with the log is redacted there: "
                        + "; ".join(f"{n}: {why}" for n, why in self.skipped.items()))
            raise UsageError("the reference shares no column with the logged inputs of the "
                             f"endpoint (reference: {', '.join(self.ref_columns[:8])})")
        self.inputs = DriftMonitor(columns=cols).fit(self.reference, name=self.ref_name)
        return None

    def fit_outputs(self, table: pa.Table | None) -> str | None:
        """Fit on the first prediction reference that shares columns with the logged
        outputs; the reason when there is none to fit."""
        if self.outputs is not None:
            return None
        if table is None:
            return "no answered request in this window"
        for reference, columns, name in self.candidates:
            cols = _usable(table, columns)
            if cols:
                self.outputs = DriftMonitor(columns=cols).fit(reference, name=name)
                self.pred_name = name
                return None
        tried = [name for _, _, name in self.candidates]
        return "; ".join([*([self.pred_missing] if self.pred_missing else []),
                          *(f"{n} holds none of the logged outputs "
                            f"({', '.join(table.schema.names[:8])})" for n in tried)]) \
            or "no prediction reference"


def _name_of(reference: Any) -> str | None:
    return f"{reference}" if isinstance(reference, str | Path) else None


def _prediction_reference(state: _Drift, explicit: Any, wins: list[LogWindow]) -> None:
    """The candidates for the reference of prediction drift, in order: the one given, the
    input reference (when it holds the output columns), the served version's evaluation
    profile (the version that answered most requests)."""
    if explicit is not None:
        ref, cols = _reference_columns(explicit)
        state.candidates.append((ref, cols, _name_of(explicit) or "the prediction reference"))
        return
    if state.reference is not None:
        state.candidates.append((state.reference, state.ref_columns,
                                 state.ref_name or "the reference"))
    versions: Counter[tuple[str, int]] = Counter()
    for w in wins:
        versions.update(w.versions)
    if not versions:
        state.pred_missing = "no request was answered by a model"
        return
    (model, version), _ = versions.most_common(1)[0]
    from ._reference import evaluation_reference

    profile, what = evaluation_reference(model, version)
    if profile is None:
        state.pred_missing = what
    else:
        state.candidates.append((profile, list(profile.columns), what))


def _label_drift(drift: _Drift, win: LogWindow) -> tuple[dict[str, Any] | None, str | None]:
    y = win.labels
    if not len(y):
        return None, "no labelled request in this window"
    binary = set(np.unique(y).tolist()) <= {0.0, 1.0}
    table = pa.table({"label": pa.array(y.astype(np.int64).astype(str) if binary else y)})
    if drift.labels is None:
        drift.label_start = win.start
        drift.labels = DriftMonitor(columns=["label"]).fit(
            table, name=f"labels of the first labelled window ({win.start.isoformat()})")
        return None, "this is the first labelled window: the reference of label drift"
    result = drift.score(drift.labels, table)
    if result is None:
        return None, "label drift could not be computed (see notes)"
    return {"reference": result.reference,
            **_figures(result.columns["label"].to_dict(distribution=False))}, None


def _window_report(endpoint: str, win: LogWindow, drift: _Drift) -> WindowReport:
    missing: dict[str, str] = {}
    parts = ("outputs", "inputs") if drift.reference is not None else ("outputs",)
    read = window_tables(endpoint, win.start, win.end, parts)
    outputs = read["outputs"]
    why = drift.fit_outputs(outputs)
    pred = drift.score(drift.outputs, outputs)
    if pred is None:
        missing["prediction_drift"] = why or ("no answered request in this window"
                                              if outputs is None else "see notes")
    inp = None
    if drift.reference is not None:
        inputs = read["inputs"]
        why_inputs = drift.fit_inputs(inputs)
        inp = drift.score(drift.inputs, inputs)
        if inp is not None and drift.skipped:
            inp = replace(inp, skipped={**inp.skipped, **drift.skipped})
        if inp is None:
            missing["input_drift"] = why_inputs or (
                "no answered request in this window" if inputs is None else "see notes")
    else:
        missing["input_drift"] = "no reference given for the inputs"
    stamp = win.start.strftime("%Y-%m-%dT%H:%M:%S")  # each result names its window
    pred = replace(pred, window=stamp) if pred is not None else None
    inp = replace(inp, window=stamp) if inp is not None else None
    label, why_not = _label_drift(drift, win)
    if why_not is not None:
        missing["label_drift"] = why_not
    notes, drift.notes = tuple(drift.notes), []
    return WindowReport(win.start, win.end, serving_figures(win), performance(win),
                        label, pred, inp, notes, missing)


def _versions(windows: list[LogWindow]) -> dict[str, int]:
    served: Counter[tuple[str, int]] = Counter()
    for w in windows:
        served.update(w.versions)
    return {f"{m}@{v}": n for (m, v), n in sorted(served.items())}


def _totals(windows: list[LogWindow]) -> dict[str, Any]:
    from collections import Counter

    from ._metrics import latency_percentiles, shadow_figures

    requests = sum(w.requests for w in windows)
    errors = sum(w.errors for w in windows)
    lat = np.concatenate([w.latencies for w in windows]) if windows else np.empty(0)
    routes: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for w in windows:
        routes.update(w.routes)
        statuses.update(w.statuses)
    shadow_lat = [w.shadow_latencies for w in windows if w.shadow_requests]
    return {"windows": len(windows), "requests": requests,
            "rows": sum(w.rows for w in windows), "errors": errors,
            "error_rate": errors / requests if requests else None,
            "latency_ms": latency_percentiles(lat), "routes": dict(sorted(routes.items())),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "shadow": shadow_figures(
                sum(w.shadow_requests for w in windows), sum(w.shadow_errors for w in windows),
                np.concatenate(shadow_lat) if shadow_lat else np.empty(0),
                sum(w.shadow_compared for w in windows), sum(w.shadow_agreed for w in windows))}


def monitor_endpoint(name: str, *, window: str | timedelta = "1h",
                     since: str | datetime | None = None, until: str | datetime | None = None,
                     reference: Any = None, prediction_reference: Any = None,
                     drift: bool = True) -> EndpointReport:
    """The health of endpoint ``name`` over its prediction log, one entry per ``window``
    that holds requests. ``since``/``until``: datetimes, ISO strings or a duration back from
    now ("6h"). ``reference``: a saved profile, a data file or a table, for input (and,
    when it holds the output columns, prediction) drift. ``prediction_reference``: the same
    for the outputs (default: the profile of the served version's predictions recorded when
    it was evaluated). ``drift=False`` skips every drift statistic (serving figures and
    performance only, one pass)."""
    start = time.perf_counter()
    step = parse_duration(window, "window")
    lo, hi = to_datetime(since, "since"), to_datetime(until, "until")
    if lo is not None and hi is not None and lo >= hi:
        raise UsageError(f"since ({lo.isoformat()}) must be before until ({hi.isoformat()})")
    state = _Drift()
    if reference is not None:
        state.reference, state.ref_columns = _reference_columns(reference)
        state.ref_name = _name_of(reference) or "the reference given"
    labels = read_labels(name, hi)
    wins = scan_windows(name, window=step, since=lo, until=hi, labels=labels)
    if not wins and lo is None and hi is None:
        raise NotFound(f"endpoint {name!r} has no logged predictions")
    if drift:
        _prediction_reference(state, prediction_reference, wins)
    reports = [_window_report(name, w, state) if drift else
               WindowReport(w.start, w.end, serving_figures(w), performance(w))
               for w in wins]
    return EndpointReport(name, step, lo, hi, tuple(reports), reference=state.ref_name,
                          seconds=time.perf_counter() - start, totals=_totals(wins),
                          versions=_versions(wins),
                          prediction_reference=state.pred_name,
                          prediction_reference_missing=None if state.pred_name is not None
                          else next((w.missing["prediction_drift"] for w in reports
                                     if "prediction_drift" in w.missing), None))
