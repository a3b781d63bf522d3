"""Experiment metrics: how ``mean(COLUMN)``, ``accuracy``, ``error_rate`` and
``latency_p95`` are named, which columns they read and which way is better.

On any table a metric is ``mean(COLUMN)`` (a rate when the column holds 0/1). On the
prediction log (or a table with its columns): ``accuracy`` compares the feedback ``label``
with the logged ``prediction`` on labelled, answered requests; ``error_rate`` is the share of
requests answered with a status of 400 or more; ``latency_pNN`` is the NN-th percentile of
``latency_ms`` per request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import polars as pl

from airlock.errors import UsageError

__all__ = ["LABEL", "LABEL_TEXT", "LATENCY", "PREDICTION", "STATUS", "MetricSpec",
           "parse_metric", "value_expr"]

LABEL, LABEL_TEXT, PREDICTION = "label", "label_text", "prediction"
STATUS, LATENCY = "status", "latency_ms"
_MEAN = re.compile(r"mean\(\s*([^()]+?)\s*\)")
_LATENCY = re.compile(r"latency_p(\d{1,2}(?:\.\d+)?)")
MSG_METRIC = ("unknown metric {name!r}: use mean(COLUMN), accuracy, error_rate or "
              "latency_pNN (e.g. latency_p95)")

Kind = Literal["mean", "accuracy", "error_rate", "quantile"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its name as written, what it reads, and which way is better."""

    name: str
    kind: Kind
    column: str
    lower_is_better: bool = False
    quantile: float | None = None

    @property
    def needs_labels(self) -> bool:
        return self.kind == "accuracy"

    @property
    def columns(self) -> tuple[str, ...]:
        if self.kind == "accuracy":
            return (LABEL, PREDICTION)
        return (self.column,)


def parse_metric(name: str) -> MetricSpec:
    """``mean(COLUMN)``, ``accuracy``, ``error_rate`` or ``latency_pNN``; UsageError else."""
    if not isinstance(name, str):
        raise UsageError(MSG_METRIC.format(name=name))
    text = name.strip()
    if (m := _MEAN.fullmatch(text)) is not None:
        return MetricSpec(text, "mean", m.group(1))
    if text == "accuracy":
        return MetricSpec(text, "accuracy", PREDICTION)
    if text == "error_rate":
        return MetricSpec(text, "error_rate", STATUS, lower_is_better=True)
    if (m := _LATENCY.fullmatch(text)) is not None and 0 < float(m.group(1)) < 100:
        return MetricSpec(text, "quantile", LATENCY, lower_is_better=True,
                          quantile=float(m.group(1)) / 100.0)
    raise UsageError(MSG_METRIC.format(name=name))


def value_expr(spec: MetricSpec, schema: pl.Schema) -> pl.Expr:
    """The per-row value of ``spec`` (float64; null where the row does not measure it)."""
    if spec.kind == "error_rate":
        return (pl.col(STATUS) >= 400).cast(pl.Float64)
    if spec.kind == "accuracy":
        ok = pl.col(STATUS) < 400 if STATUS in schema else pl.lit(True)
        pred = schema.get(PREDICTION)
        if pred is not None and (pred == pl.String or pred == pl.Categorical):
            label = pl.col(LABEL_TEXT) if LABEL_TEXT in schema else pl.col(LABEL).cast(pl.String)
            hit = pl.col(PREDICTION).cast(pl.String) == label
        else:
            hit = pl.col(PREDICTION).cast(pl.Float64) == pl.col(LABEL).cast(pl.Float64)
        return pl.when(ok & pl.col(LABEL).is_not_null()).then(hit.cast(pl.Float64))
    if spec.kind == "quantile":
        return pl.col(LATENCY).cast(pl.Float64)
    return pl.col(spec.column).cast(pl.Float64)
