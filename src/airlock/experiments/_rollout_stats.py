"""The figures a rollout step is judged on: control against candidate in one window of the
prediction log.

:func:`window_analysis` reads the window once (requests of the two routes, their feedback
labels) and returns the shape of the A/B analysis result (``{"srm", "variants",
"comparisons"}``, see :mod:`airlock.experiments`), for the metrics a rollout checks:
``error_rate`` (answered with a status >= 400), ``guard_block_rate`` (``GuardBlocked``),
``latency_p95`` and, on labelled requests, ``accuracy``. Rates are compared with the
Agresti-Caffo interval of a difference of proportions, the p95 with a bootstrap from the
shared engine (:func:`airlock.evaluation.resample_counts`); the intervals are two-sided at
``1 - 2 alpha``, so each bound is a one-sided test at ``alpha``. The sample ratio mismatch is
a chi-square test of the requests per route against the weights in force (scipy).

:func:`window_drift` compares the candidate's inputs and predictions in the window with the
control's through :class:`airlock.monitor.DriftMonitor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

__all__ = ["Window", "read_window", "window_analysis", "window_drift"]

F64 = NDArray[np.float64]
N_BOOT = 400


@dataclass(frozen=True)
class Window:
    """One window of the log, per route: requests (one row each) and answered rows."""

    since: datetime
    until: datetime
    requests: dict[str, pa.Table]  # route -> status, latency_ms, blocked, correct
    inputs: dict[str, list[pa.Table]]
    outputs: dict[str, list[pa.Table]]


def _flat(batch: pa.RecordBatch, name: str, mask: pa.Array) -> pa.Table | None:
    col = batch.column(name).filter(mask)
    if not isinstance(col, pa.StructArray) or col.type.num_fields == 0 or not len(col):
        return None
    return pa.Table.from_arrays(col.flatten(), names=[f.name for f in col.type])


def _label_table(endpoint: str) -> pa.Table | None:
    """The feedback stream's numeric labels, newest first (one row per labelled request)."""
    from airlock.predlog import FEEDBACK, scan_prediction_log

    parts = list(scan_prediction_log(endpoint, stream=FEEDBACK,
                                     columns=["request_id", "ts", "label"]))
    if not parts:
        return None
    table = pa.Table.from_batches(parts).filter(pc.is_valid(pc.field("label")))
    return table.sort_by([("ts", "descending")]) if table.num_rows else None


def _labels(labels: pa.Table | None, ids: pa.Array) -> tuple[NDArray[np.bool_], F64]:
    """The newest label of each request id, and whether it has one (NaN where none)."""
    if labels is None or not len(ids):
        return np.zeros(len(ids), bool), np.full(len(ids), np.nan)
    idx = pc.index_in(ids, value_set=labels.column("request_id").combine_chunks())
    found = idx.is_valid().to_numpy(zero_copy_only=False)
    values = labels.column("label").to_numpy().astype(np.float64)
    pos = idx.fill_null(0).to_numpy(zero_copy_only=False)
    return found, np.where(found, values[pos], np.nan)


def _predictions(batch: pa.RecordBatch, mask: pa.Array) -> F64:
    outputs = batch.column("outputs").filter(mask)
    n = len(outputs)
    if not isinstance(outputs, pa.StructArray) or outputs.type.get_field_index("prediction") < 0:
        return np.full(n, np.nan)
    try:
        out: F64 = pc.cast(outputs.field("prediction"), pa.float64()).to_numpy(
            zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.full(n, np.nan)
    return np.where(outputs.is_valid().to_numpy(zero_copy_only=False), out, np.nan)


def read_window(endpoint: str, routes: list[str], since: datetime, until: datetime, *,
                drift: bool = False) -> Window:
    """The requests of ``routes`` logged in ``[since, until)``: one pass over the log (plus
    the feedback stream), keeping per request its status, latency, guard block and (when
    labelled) whether its prediction was right; with ``drift``, the answered rows' inputs
    and outputs too."""
    from airlock.predlog import scan_prediction_log

    cols = ["request_id", "row", "route", "status", "latency_ms", "error_code", "outputs"]
    if drift:
        cols.append("inputs")
    reqs: dict[str, list[pa.Table]] = {r: [] for r in routes}
    inputs: dict[str, list[pa.Table]] = {r: [] for r in routes}
    outputs: dict[str, list[pa.Table]] = {r: [] for r in routes}
    wanted = pa.array(routes, pa.string())
    labels = _label_table(endpoint)
    for batch in scan_prediction_log(endpoint, since=since, until=until, columns=cols):
        in_routes = pc.fill_null(pc.is_in(batch.column("route"), value_set=wanted), False)
        first = pc.and_(in_routes, pc.equal(batch.column("row"), 0))
        part = batch.filter(first)
        if part.num_rows:
            status = pc.cast(part.column("status"), pa.int64())
            ids = part.column("request_id")
            found, label = _labels(labels, ids)
            pred = _predictions(part, pa.array(np.ones(part.num_rows, bool)))
            correct = np.where(found & ~np.isnan(pred), (pred == label).astype(float), np.nan)
            table = pa.table({
                "route": part.column("route"),
                "error": pc.cast(pc.greater_equal(status, 400), pa.float64()),
                "latency_ms": pc.cast(part.column("latency_ms"), pa.float64()),
                "blocked": pc.cast(pc.fill_null(pc.equal(part.column("error_code"),
                                                         "GuardBlocked"), False), pa.float64()),
                "correct": pa.array(correct, pa.float64(), from_pandas=True)})
            for r in routes:
                reqs[r].append(table.filter(pc.equal(table.column("route"), r)))
        if drift:
            ok = pc.and_(in_routes, pc.less(pc.cast(batch.column("status"), pa.int64()), 400))
            for r in routes:
                mask = pc.and_(ok, pc.equal(batch.column("route"), r))
                if not pc.any(mask).as_py():
                    continue
                for name, into in (("inputs", inputs), ("outputs", outputs)):
                    flat = _flat(batch, name, mask)
                    if flat is not None:
                        into[r].append(flat)
    empty = pa.table({"route": pa.array([], pa.string()), "error": pa.array([], pa.float64()),
                      "latency_ms": pa.array([], pa.float64()),
                      "blocked": pa.array([], pa.float64()),
                      "correct": pa.array([], pa.float64())})
    return Window(since, until, {r: pa.concat_tables(t) if t else empty
                                 for r, t in reqs.items()}, inputs, outputs)


# -- statistics ------------------------------------------------------------------------------
def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha))


def _rate(x: F64, alpha: float) -> dict[str, Any]:
    """A rate with its Wilson interval (two-sided 1 - 2 alpha)."""
    n = len(x)
    if not n:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0,
                "reason": "no request in the window"}
    from airlock.evaluation import wilson_ci

    low, high = wilson_ci(float(x.sum()), n, z=_z(alpha)) or (None, None)
    return {"value": float(x.mean()), "ci_low": low, "ci_high": high, "n": n}


def _rate_lift(cand: F64, ctrl: F64, alpha: float) -> dict[str, Any]:
    """Candidate minus control of a 0/1 metric: Agresti-Caffo interval, and the one-sided
    p-value of "candidate is not above control"."""
    from scipy.stats import norm

    n1, n0 = len(cand), len(ctrl)
    if not n1 or not n0:
        return {"lift": None, "lift_ci_low": None, "lift_ci_high": None, "p_value": None,
                "reason": "a variant has no request in the window"}
    p1, p0 = (cand.sum() + 1) / (n1 + 2), (ctrl.sum() + 1) / (n0 + 2)
    se = float(np.sqrt(p1 * (1 - p1) / (n1 + 2) + p0 * (1 - p0) / (n0 + 2)))
    lift, adj, z = float(cand.mean() - ctrl.mean()), float(p1 - p0), _z(alpha)
    return {"lift": lift, "lift_ci_low": adj - z * se, "lift_ci_high": adj + z * se,
            "p_value": float(norm.sf(adj / se)) if se > 0 else None,
            "method": "agresti-caffo"}


def _p95(values: F64) -> float:
    return float(np.quantile(values, 0.95, method="inverted_cdf"))


def _boot_p95(values: F64, route: str, seed: int) -> F64:
    """Bootstrap p95s of ``values`` (multinomial counts over the sorted values)."""
    from airlock.evaluation import resample_counts, rng_for

    ordered = np.sort(values)
    n = len(ordered)
    out: list[F64] = []
    for counts in resample_counts(rng_for(seed, "rollout", "latency_p95", route),
                                  np.ones(n), N_BOOT):
        cum = np.cumsum(counts, axis=1)
        out.append(ordered[np.argmax(cum >= 0.95 * n, axis=1)])
    return np.concatenate(out)


def _latency(cand: F64, ctrl: F64, alpha: float, seed: int) -> dict[str, Any]:
    if not len(cand) or not len(ctrl):
        return {"lift": None, "lift_ci_low": None, "lift_ci_high": None, "p_value": None,
                "reason": "a variant has no request in the window"}
    diffs = _boot_p95(cand, "candidate", seed) - _boot_p95(ctrl, "control", seed)
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
    return {"lift": _p95(cand) - _p95(ctrl), "lift_ci_low": float(lo),
            "lift_ci_high": float(hi), "p_value": float((diffs <= 0).mean()),
            "method": "bootstrap"}


def _srm(observed: dict[str, int], expected_split: dict[str, float],
         threshold: float) -> dict[str, Any]:
    from scipy.stats import chisquare

    total = sum(observed.values())
    shares = {k: expected_split[k] / sum(expected_split.values()) for k in observed}
    expected = {k: total * s for k, s in shares.items()}
    out: dict[str, Any] = {"observed": observed, "expected": expected, "p_value": None,
                           "flagged": False, "threshold": threshold}
    if total == 0 or any(v == 0 for v in expected.values()):
        out["reason"] = "no request in the window" if total == 0 else \
            "a variant has weight 0: nothing to compare"
        return out
    p = float(chisquare(list(observed.values()), list(expected.values())).pvalue)
    return {**out, "p_value": p, "flagged": p < threshold}


def window_analysis(window: Window, *, control: str, candidate: str,
                    weights: dict[str, float], alpha: float, srm_p_value: float,
                    seed: int = 0) -> dict[str, Any]:
    """``{"srm", "variants", "comparisons"}`` of the window, candidate against control."""
    variants: dict[str, Any] = {}
    cols: dict[str, dict[str, F64]] = {}
    for route in (control, candidate):
        t = window.requests[route]
        c = {k: t.column(k).to_numpy() for k in ("error", "latency_ms", "blocked", "correct")}
        c["correct"] = c["correct"][~np.isnan(c["correct"])]
        cols[route] = c
        lat = c["latency_ms"]
        variants[route] = {
            "units": t.num_rows, "error_rate": _rate(c["error"], alpha),
            "guard_block_rate": _rate(c["blocked"], alpha),
            "latency_p95": {"value": _p95(lat) if len(lat) else None, "n": len(lat)},
            "accuracy": _rate(c["correct"], alpha)}
    cand, ctrl = cols[candidate], cols[control]
    comparisons = []
    for metric, key in (("error_rate", "error"), ("guard_block_rate", "blocked"),
                        ("accuracy", "correct")):
        comparisons.append({"variant": candidate, "control": control, "metric": metric,
                            **_rate_lift(cand[key], ctrl[key], alpha)})
    comparisons.append({"variant": candidate, "control": control, "metric": "latency_p95",
                        **_latency(cand["latency_ms"], ctrl["latency_ms"], alpha, seed)})
    observed = {r: int(variants[r]["units"]) for r in (control, candidate)}
    return {"srm": _srm(observed, {r: float(weights.get(r, 0.0)) for r in observed},
                        srm_p_value),
            "variants": variants, "comparisons": comparisons,
            "window": {"since": window.since.astimezone(UTC).isoformat(),
                       "until": window.until.astimezone(UTC).isoformat()}}


def window_drift(window: Window, *, control: str, candidate: str, part: str,
                 min_rows: int, columns: list[str] | None = None,
                 p_value: float = 0.001) -> dict[str, Any]:
    """Drift of the candidate's ``part`` (``inputs`` or ``outputs``) against the control's
    in the window, both taken as samples (KS; chi-square of homogeneity): drifted when a
    column's p-value is below ``p_value`` over the number of columns.
    ``{"drifted", "drift_share", "drifted_columns", "rows", "p_value", "column_p_value"}``
    or, when it cannot be computed, ``{"drifted": None, "reason"}``."""
    from airlock.errors import AirlockError
    from airlock.monitor import DriftMonitor

    store = window.inputs if part == "inputs" else window.outputs
    tables = {r: pa.concat_tables(store[r], promote_options="permissive") if store[r] else None
              for r in (control, candidate)}
    ref, cur = tables[control], tables[candidate]
    rows = {"control": 0 if ref is None else ref.num_rows,
            "candidate": 0 if cur is None else cur.num_rows}
    if ref is None or cur is None or min(rows.values()) < min_rows:
        return {"drifted": None, "rows": rows,
                "reason": f"fewer than {min_rows} answered rows in a variant"}
    shared = [n for n in ref.schema.names if n in cur.schema.names
              and (columns is None or n in columns)]
    if not shared:
        return {"drifted": None, "rows": rows, "reason": f"no {part} column in common"}
    each = p_value / len(shared)
    monitor = DriftMonitor(columns=shared, methods={"numerical": "ks",
                                                    "categorical": "homogeneity"},
                           thresholds=each, drift_share=1 / len(shared))
    try:
        result = monitor.fit(ref.select(shared), name=f"{control} {part}") \
            .score(cur.select(shared))
    except AirlockError as exc:
        return {"drifted": None, "rows": rows, "reason": str(exc)}
    return {"drifted": bool(result.drifted), "drift_share": result.drift_share,
            "drifted_columns": result.drifted_columns, "rows": rows,
            "p_value": p_value, "column_p_value": each,
            "reason": f"a column's p-value below {each:.3g} ({p_value:g} over "
                      f"{len(shared)} columns)" if result.drifted else None,
            "reference": result.reference}
