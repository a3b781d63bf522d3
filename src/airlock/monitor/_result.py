"""Drift results: one :class:`ColumnDrift` per column and a :class:`DriftResult` per scoring
(optionally per time window). Both are frozen, typed and serialisable with ``to_dict()``, so
alert rules, Prometheus gauges and reports read the same numbers. Results never render
themselves: the pages (:func:`~airlock.monitor.render_drift_report`) render results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["P_VALUE_METHODS", "ColumnDrift", "DriftResult", "put_figure", "severity"]

P_VALUE_METHODS = frozenset({"ks", "chisquare", "homogeneity", "z"})
MAX_SEVERITY = 1000.0


def severity(method: str, statistic: float | None, p_value: float | None,
             threshold: float) -> float:
    """How far past its threshold a column is: 1.0 at the threshold, above 1 when drifted.

    Distances: ``statistic / threshold``; p-value tests: ``log(p) / log(threshold)``. Capped
    at 1000; 0 when nothing could be computed.
    """
    if method in P_VALUE_METHODS:
        if p_value is None or not 0 < threshold < 1:
            return 0.0
        if p_value <= 0:
            return MAX_SEVERITY
        return min(MAX_SEVERITY, math.log(min(p_value, 1.0)) / math.log(threshold))
    if statistic is None or not math.isfinite(statistic):
        return MAX_SEVERITY if statistic is not None else 0.0
    if threshold <= 0:
        return MAX_SEVERITY if statistic > 0 else 0.0
    return min(MAX_SEVERITY, statistic / threshold)


def _num(x: float | None) -> float | None:
    """JSON-safe: infinities and NaN become None (strict JSON has neither)."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def put_figure(out: dict[str, Any], key: str, x: float | None, why: str) -> None:
    """``out[key] = x`` when finite; otherwise ``None`` and ``out[key + "_reason"]``: why the
    figure is missing or not finite (``why`` for a missing or infinite value, "not a number"
    for NaN). JSON never carries NaN, Infinity or the text "inf"."""
    value = _num(x)
    out[key] = value
    if value is None:
        out[f"{key}_reason"] = "not a number (undefined)" if x is not None and math.isnan(x) \
            else why


@dataclass(frozen=True, slots=True)
class ColumnDrift:
    """Drift of one column: the deciding ``method`` with its statistic, p-value (tests only),
    threshold and verdict, every other statistic computed on the way, and data-quality
    changes against the reference.

    ``approximate`` is True when the deciding statistic came from a reference profile's sketch
    rather than the exact values (KS and Wasserstein of a profile whose column has more
    distinct values than buckets); ``error_bound`` then bounds the error of that statistic.
    """

    column: str
    kind: str
    method: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    statistics: dict[str, float | None] = field(default_factory=dict)
    approximate: bool = False
    error_bound: float | None = None
    reference_count: int = 0
    current_count: int = 0
    reference_missing_rate: float = 0.0
    current_missing_rate: float = 0.0
    out_of_range_rate: float | None = None
    new_categories: tuple[str, ...] = ()
    vanished_categories: tuple[str, ...] = ()
    distribution: dict[str, Any] = field(default_factory=dict)
    note: str | None = None

    @property
    def missing_rate_change(self) -> float:
        return self.current_missing_rate - self.reference_missing_rate

    @property
    def severity(self) -> float:
        return severity(self.method, self.statistic, self.p_value, self.threshold)

    def why_missing(self, value: float | None) -> str:
        """Why a statistic is missing (None) or not finite (the ``_reason`` of the JSON)."""
        if value is None:
            return self.note or "not computed"
        new = self.new_categories
        if new:
            shown = ", ".join(repr(c) for c in new[:5]) + (" …" if len(new) > 5 else "")
            return (f"infinite: the reference has no rows in "
                    f"categor{'y' if len(new) == 1 else 'ies'} {shown}")
        return "infinite"

    def to_dict(self, *, distribution: bool = True) -> dict[str, Any]:
        """JSON-ready; a statistic that is missing or not finite is None with a
        ``<name>_reason`` beside it (``"statistic": None, "statistic_reason": ...``)."""
        statistics: dict[str, Any] = {}
        for k, v in self.statistics.items():
            put_figure(statistics, k, v, self.why_missing(v))
        out: dict[str, Any] = {"kind": self.kind, "method": self.method}
        put_figure(out, "statistic", self.statistic, self.why_missing(self.statistic))
        put_figure(out, "p_value", self.p_value,
                   "not computed" if self.method in P_VALUE_METHODS
                   else f"{self.method} is a distance: it has no p-value")
        out.update({
            "threshold": self.threshold,
            "drifted": self.drifted, "severity": round(self.severity, 6),
            "approximate": self.approximate, "error_bound": _num(self.error_bound),
            "statistics": statistics,
            "reference_count": self.reference_count, "current_count": self.current_count,
            "reference_missing_rate": self.reference_missing_rate,
            "current_missing_rate": self.current_missing_rate,
            "missing_rate_change": self.missing_rate_change,
            "out_of_range_rate": _num(self.out_of_range_rate),
            "new_categories": list(self.new_categories),
            "vanished_categories": list(self.vanished_categories),
        })
        if self.note:
            out["note"] = self.note
        if distribution:
            out["distribution"] = self.distribution
        return out


@dataclass(frozen=True, slots=True)
class DriftResult:
    """Dataset drift: ``drifted`` when ``drift_share`` (drifted columns / columns) reaches
    ``drift_share_threshold``. ``window`` labels a time window; ``windows`` holds the
    per-window results when the current data was also scored window by window."""

    columns: dict[str, ColumnDrift]
    drift_share: float
    drift_share_threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    window: str | None = None
    windows: tuple[DriftResult, ...] = ()
    approximate: bool = False
    seconds: float = 0.0
    reference: str | None = None
    """What the current data was compared with (a profile's or a file's path, a table, an
    evaluation's predictions, an earlier window)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Columns left out of the comparison, each with why (redacted in the log, not
    decodable, …): the drift share is over the compared columns only."""

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.by_severity() if c.drifted]

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns.values())

    def by_severity(self) -> list[ColumnDrift]:
        """Columns, drifted first, then by decreasing severity, then by name."""
        return sorted(self.columns.values(),
                      key=lambda c: (not c.drifted, -c.severity, c.column))

    def to_dict(self, *, distribution: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reference": self.reference,
            "drift_share": self.drift_share, "drifted": self.drifted,
            "drift_share_threshold": self.drift_share_threshold,
            "n_columns": len(self.columns), "n_drifted": self.n_drifted,
            "drifted_columns": self.drifted_columns,
            "reference_rows": self.reference_rows, "current_rows": self.current_rows,
            "approximate": self.approximate, "window": self.window,
            "seconds": round(self.seconds, 4),
            "columns": {n: c.to_dict(distribution=distribution)
                        for n, c in self.columns.items()},
        }
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        if self.windows:
            out["windows"] = [w.to_dict(distribution=False) for w in self.windows]
        return out

    def records(self) -> list[dict[str, Any]]:
        """One flat record per column (and per window, when the result carries windows),
        each labelled with its ``window``: rows for alert rules, gauges or a table."""
        out = []
        for result in (self, *self.windows):
            for col in result.columns.values():
                rec = {"window": result.window, "column": col.column,
                       **col.to_dict(distribution=False)}
                rec.pop("statistics")
                rec.update({f"stat_{k}": v for k, v in
                            col.to_dict(distribution=False)["statistics"].items()})
                out.append(rec)
        return out
