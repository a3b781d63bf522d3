"""The parts of an evaluation that repeat per column: slices, fairness, baseline deltas."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pyarrow as pa

from ._data import group_codes
from ._fairness import intersect
from ._types import MetricCI, Target, TaskCalculator

__all__ = ["baseline_section", "fairness_section", "section_boot", "slice_section"]


def section_boot(boot: dict[str, Any], *parts: str) -> dict[str, Any]:
    """Bootstrap options with a seed of its own per section (column), so sections with the
    same number of groups do not share their random draws."""
    seed = zlib.crc32("\x1f".join([str(boot["seed"]), *parts]).encode())
    return {**boot, "seed": seed}

ALPHA = 0.05  # a slice "regressed" when its delta is worse with p below this


def slice_section(calc: TaskCalculator, t: Target, codes: np.ndarray[Any, Any],
                  labels: list[str], min_support: int,
                  boot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    per_group = calc.grouped(t, codes, len(labels), **boot)
    support = np.bincount(codes, minlength=len(labels))
    out: dict[str, dict[str, Any]] = {}  # labels arrive sorted: the JSON order is stable
    for g, label in enumerate(labels):
        out[label] = {**per_group[g], "support": int(support[g]),
                      "flagged": bool(support[g] < min_support)}
    return out


def fairness_section(calc: TaskCalculator, task: str, t: Target, table: pa.Table,
                     sensitive: list[str], cfg: Any, boot: dict[str, Any]) -> dict[str, Any]:
    """Per sensitive column, and their intersection when there are two or more."""
    groups = {c: group_codes(table.column(c)) for c in sensitive}
    if len(sensitive) >= 2:
        joint = groups[sensitive[0]]
        for c in sensitive[1:]:
            joint = intersect(*joint, *groups[c])
        groups[" & ".join(sensitive)] = joint
    out: dict[str, Any] = {}
    for feature, (codes, labels) in groups.items():
        if task == "binary":
            from ._fairness import fairness_binary

            out[feature] = fairness_binary(t, cfg.threshold, codes, len(labels), labels,
                                           **section_boot(boot, "fairness", feature))
        else:
            out[feature] = _generic_fairness(calc, t, codes, labels, boot)
    return out


def _generic_fairness(calc: TaskCalculator, t: Target, codes: np.ndarray[Any, Any],
                      labels: list[str], boot: dict[str, Any]) -> dict[str, Any]:
    """Non-binary tasks: the task's metrics per group and the max-min gap of each."""
    per_group = calc.grouped(t, codes, len(labels), **{**boot, "n_boot": 0})
    support = np.bincount(codes, minlength=len(labels))
    by_group = {label: _values(per_group[g], int(support[g]))
                for g, label in enumerate(labels)}
    disparities: dict[str, MetricCI] = {}
    for metric in calc.metric_names():
        values = [float(x) for v in by_group.values()
                  if isinstance(x := v.get(metric), int | float)]
        gap = max(values) - min(values) if values else None
        figure: MetricCI = {"value": gap, "ci_low": None, "ci_high": None}
        if gap is None:
            figure["reason"] = f"{metric} is undefined for every group"
        disparities[f"{metric}_difference"] = figure
    return {"by_group": by_group, "disparities": disparities}


def _values(metrics: dict[str, MetricCI], support: int) -> dict[str, Any]:
    """A group's metric values; an undefined one is None with ``<metric>_reason``."""
    out: dict[str, Any] = {}
    for m, v in metrics.items():
        out[m] = v["value"]
        if v["value"] is None:
            out[f"{m}_reason"] = v.get("reason", "undefined for this group")
    out["support"] = support
    return out


def baseline_section(calc: TaskCalculator, cand: Target, base: Target,
                     groups: dict[str, tuple[np.ndarray[Any, Any], list[str]]],
                     min_support: int, boot: dict[str, Any]) -> dict[str, Any]:
    zeros = np.zeros(cand.n, dtype=np.int64)
    deltas = calc.paired(cand, base, zeros, 1, **boot)[0]
    regressed = []
    for column, (codes, labels) in groups.items():
        support = np.bincount(codes, minlength=len(labels))
        per_group = calc.paired(cand, base, codes, len(labels),
                                **section_boot(boot, "baseline", column))
        for g, label in enumerate(labels):
            if support[g] < min_support:
                continue
            for metric, d in per_group[g].items():
                if _worse(d, calc.higher_is_better(metric)):
                    regressed.append({"column": column, "value": label, "metric": metric,
                                      "support": int(support[g]), **d})
    return {"deltas": deltas, "regressed_slices": regressed}


def _worse(d: dict[str, Any], higher_is_better: bool) -> bool:
    delta, p = d.get("delta"), d.get("p_value")
    if delta is None or p is None or p >= ALPHA:
        return False
    return bool(delta < 0) if higher_is_better else bool(delta > 0)
