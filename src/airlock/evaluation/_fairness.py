"""Group fairness of a binary classifier: per-group rates and disparities with bootstrap CIs.

A row is predicted positive when ``score >= threshold``. Per group (a value of a sensitive
column; groups without rows never appear):

- ``selection_rate`` = (tp + fp) / n, ``tpr`` = tp / (tp + fn), ``fpr`` = fp / (fp + tn),
  ``precision`` = tp / (tp + fp), ``accuracy`` = (tp + tn) / n, ``support`` = n: the values
  of Fairlearn's ``MetricFrame`` with ``selection_rate``, ``true_positive_rate``,
  ``false_positive_rate``, ``precision_score`` and ``accuracy_score``. A rate whose
  denominator is 0 is None, where Fairlearn/scikit-learn give 0 (precision with a warning;
  TPR of a group without positives, FPR of one without negatives silently).

Disparities, over the groups where the rate is defined (Fairlearn's ``MetricFrame``
``difference``/``ratio`` with ``method="between_groups"``, which skip NaN the same way):

- ``demographic_parity_difference`` = max - min selection rate
  (``fairlearn.metrics.demographic_parity_difference``);
- ``demographic_parity_ratio`` = min / max selection rate
  (``fairlearn.metrics.demographic_parity_ratio``);
- ``equalized_odds_difference`` = max(max - min TPR, max - min FPR)
  (``fairlearn.metrics.equalized_odds_difference``, ``agg="worst_case"``);
- ``equal_opportunity_difference`` = max - min TPR
  (``fairlearn.metrics.equal_opportunity_difference``);
- ``disparate_impact_ratio`` = min / max selection rate: the same number as the demographic
  parity ratio, under the name the four-fifths rule uses;
- ``four_fifths_rule``: the disparate impact ratio with its CI, in the shape of every
  disparity, plus the rule's verdict: ``{value, ci_low, ci_high, bound: 0.8, passed}``,
  passed when min selection rate >= 0.8 x max selection rate. A model that selects nobody
  passes with ``value`` None and a ``reason``.

A disparity whose value is undefined (None) carries ``reason``, saying why.

Confidence intervals: the counts of the (group x y x prediction) cells of a bootstrap
resample of the rows are multinomial, so ``n_boot`` draws of ``multinomial(n, counts / n)``
(the engine's ``resample_counts``) give the exact bootstrap distribution of every rate and
disparity without touching the rows again. Group sizes vary between resamples, as they do
when resampling rows; a group that drew no rows in a resample is left out of that
resample's disparities. ``n_boot=0`` gives point estimates only (ci_low and ci_high None).
The same draws give every group's rates a percentile CI, reported under ``by_group_ci``
(``{group: {rate: {ci_low, ci_high}}}``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInput
from ._binary import (
    check_codes,
    check_target,
    confusion_counts,
    count_metrics,
    predicted,
)
from ._bootstrap import as_float, percentile_ci, resample_counts, rng_for
from ._catalogue import CATALOGUE
from ._types import MetricCI, Target

__all__ = ["DISPARITIES", "FOUR_FIFTHS", "FOUR_FIFTHS_RULE", "GROUP_METRICS",
           "fairness_binary", "four_fifths", "intersect"]

Array = np.ndarray[Any, Any]

GROUP_METRICS = ("selection_rate", "tpr", "fpr", "precision", "accuracy")
FOUR_FIFTHS_RULE = "four_fifths_rule"
#: the disparities with a bootstrap CI; the four-fifths rule is reported with them
DISPARITIES = tuple(CATALOGUE.exact_names("binary", "disparity"))
FOUR_FIFTHS = 0.8


def fairness_binary(t: Target, threshold: float, codes: Array, n_groups: int,
                    group_labels: list[str], *, n_boot: int = 1000, seed: int = 0,
                    confidence: float = 0.95) -> dict[str, Any]:
    """Per-group rates and disparities of one sensitive column (module docstring)."""
    y, _ = check_target(t)
    codes = check_codes(codes, len(y), n_groups)
    if len(group_labels) != n_groups:
        raise InvalidInput(f"{len(group_labels)} group labels for {n_groups} groups")
    cm = confusion_counts(y, predicted(t, threshold), codes, n_groups)
    present = np.flatnonzero(cm.sum(axis=(1, 2)) > 0)
    cm = cm[present]
    rates = _rates(cm)
    point = _disparities(rates)
    if n_boot > 0 and len(present):
        rng = rng_for(seed, "fairness", str(n_groups), "|".join(group_labels))
        low, high = _bootstrap(cm, n_boot, rng, confidence)
    else:
        low = high = {name: np.asarray(np.nan) for name in DISPARITIES}
        nan = np.full(len(present), np.nan)
        low.update({f"group:{m}": nan for m in GROUP_METRICS})
    by_group = {group_labels[g]: _group_rates(rates, i, int(cm[i].sum()))
                for i, g in enumerate(present)}
    disparities: dict[str, Any] = {
        name: _metric_ci(point[name], low[name], high[name],
                         CATALOGUE.undefined_reason(name, "binary") if len(present)
                         else "no group has rows")
        for name in DISPARITIES
    }
    disparities[FOUR_FIFTHS_RULE] = four_fifths(disparities["disparate_impact_ratio"],
                                                rates["selection_rate"])
    by_group_ci = {
        group_labels[g]: {m: {"ci_low": as_float(low[f"group:{m}"][i]),
                              "ci_high": as_float(high[f"group:{m}"][i])}
                          for m in GROUP_METRICS}
        for i, g in enumerate(present)
    }
    return {"by_group": by_group, "by_group_ci": by_group_ci, "disparities": disparities}


#: why a group's rate is None (its denominator is 0)
RATE_UNDEFINED = {"tpr": "no positive rows", "fpr": "no negative rows",
                  "precision": "no row is predicted positive"}


def _group_rates(rates: dict[str, Array], i: int, support: int) -> dict[str, Any]:
    """One group's rates; an undefined one is None with ``<rate>_reason`` beside it."""
    out: dict[str, Any] = {}
    for m in GROUP_METRICS:
        out[m] = as_float(rates[m][i])
        if out[m] is None:
            out[f"{m}_reason"] = RATE_UNDEFINED.get(m, "undefined for this group")
    out["support"] = support
    return out


def intersect(codes_a: Array, labels_a: list[str], codes_b: Array,
              labels_b: list[str]) -> tuple[Array, list[str]]:
    """Group codes of the intersection of two sensitive columns.

    Only combinations that occur get a code, in the order of (a, b); labels read
    ``"Female & Black"``.
    """
    a = np.asarray(codes_a).astype(np.int64)
    b = np.asarray(codes_b).astype(np.int64)
    if a.shape != b.shape:
        raise InvalidInput(f"sensitive columns of {a.shape} and {b.shape} rows")
    nb = len(labels_b)
    joint = a * nb + b
    seen = np.bincount(joint, minlength=len(labels_a) * nb) > 0
    combos = np.flatnonzero(seen)
    new_code = np.cumsum(seen) - 1
    labels = [f"{labels_a[int(j) // nb]} & {labels_b[int(j) % nb]}" for j in combos]
    return new_code[joint].astype(np.int64), labels


def _rates(cm: Array) -> dict[str, Array]:
    """Group rates from (..., groups, y, yhat) counts."""
    tn, fp = cm[..., 0, 0], cm[..., 0, 1]
    fn, tp = cm[..., 1, 0], cm[..., 1, 1]
    return count_metrics(tp, fp, fn, tn)


def _spread(values: Array) -> tuple[Array, Array]:
    """Max and min over the last axis, NaN (undefined) groups skipped, no warnings."""
    top = np.fmax.reduce(values, axis=-1) if values.shape[-1] else np.full(values.shape[:-1],
                                                                           np.nan)
    low = np.fmin.reduce(values, axis=-1) if values.shape[-1] else top
    return top, low


def _disparities(rates: dict[str, Array]) -> dict[str, Array]:
    """Every disparity, vectorised over any leading (resample) axis."""
    sel_max, sel_min = _spread(rates["selection_rate"])
    tpr_max, tpr_min = _spread(rates["tpr"])
    fpr_max, fpr_min = _spread(rates["fpr"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sel_min / sel_max
    tpr_gap = tpr_max - tpr_min
    return {
        "demographic_parity_difference": sel_max - sel_min,
        "demographic_parity_ratio": ratio,
        "equalized_odds_difference": np.fmax(tpr_gap, fpr_max - fpr_min),
        "equal_opportunity_difference": tpr_gap,
        "disparate_impact_ratio": ratio,
    }


def _bootstrap(cm: Array, n_boot: int, rng: np.random.Generator,
               confidence: float) -> tuple[dict[str, Array], dict[str, Array]]:
    """Percentile CIs of the disparities and of every group's rates (keys ``group:<rate>``,
    arrays over groups) from multinomial resamples of the cell counts."""
    flat = cm.reshape(-1)
    cells = np.flatnonzero(flat)
    names = [*DISPARITIES, *(f"group:{m}" for m in GROUP_METRICS)]
    parts: dict[str, list[Array]] = {name: [] for name in names}
    for drawn in resample_counts(rng, flat[cells], n_boot, width=len(flat)):
        counts = np.zeros((len(drawn), len(flat)))
        counts[:, cells] = drawn
        rates = _rates(counts.reshape(len(drawn), *cm.shape))
        res = {**_disparities(rates), **{f"group:{m}": rates[m] for m in GROUP_METRICS}}
        for name in names:
            parts[name].append(res[name])
    low: dict[str, Array] = {}
    high: dict[str, Array] = {}
    for name in names:
        low[name], high[name] = percentile_ci(np.concatenate(parts[name]), confidence)
    return low, high


def four_fifths(ratio: MetricCI, selection_rates: Array) -> dict[str, Any]:
    """The four-fifths rule: the disparate impact ratio's figure with the bound and verdict
    (nobody selected, or no group: passed, with the ratio's reason)."""
    sel = selection_rates[~np.isnan(selection_rates)]
    passed = bool(len(sel) == 0 or sel.min() >= FOUR_FIFTHS * sel.max())
    return {**ratio, "bound": FOUR_FIFTHS, "passed": passed}


def _metric_ci(value: Array, low: Array, high: Array, reason: str) -> MetricCI:
    out: dict[str, Any] = {"value": as_float(value), "ci_low": as_float(low),
                           "ci_high": as_float(high)}
    if out["value"] is None:
        out["reason"] = reason
    return out
