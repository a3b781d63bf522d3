"""Per-window figures of a served endpoint: latency percentiles, error rate, throughput, and
performance on the requests whose labels arrived through feedback.

Performance reuses the evaluation package's point metrics (equal to scikit-learn's):
binary labels (0/1) with a 0/1 prediction give accuracy, precision, recall and f1, and with a
logged score (``proba_1``) also ROC AUC, log loss and Brier; other labels equal to the
prediction's classes give accuracy; numeric labels with a numeric prediction that is not a
class give MAE and RMSE.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ._logscan import LogWindow

__all__ = ["PERFORMANCE_METRICS", "latency_percentiles", "performance", "serving_figures",
           "shadow_figures"]

F64 = NDArray[np.float64]
PERCENTILES = (50, 95, 99)
PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier",
                       "mae", "rmse")


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def latency_percentiles(latencies: F64) -> dict[str, float | None]:
    """p50/p95/p99 (numpy's linear interpolation), mean and max of per-request latencies."""
    if not len(latencies):
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    qs = np.percentile(latencies, PERCENTILES)
    out = {f"p{p}": _num(q) for p, q in zip(PERCENTILES, qs, strict=True)}
    out["mean"], out["max"] = _num(latencies.mean()), _num(latencies.max())
    return out


NO_CLIENT_REQUESTS = "no client request in this window (only shadow traffic)"
NO_PAIRS = "no shadow answer could be paired with a client answer"


def shadow_figures(requests: int, errors: int, latencies: F64, compared: int,
                   agreed: int) -> dict[str, Any] | None:
    """The shadow model's own figures (None without shadow rows): its requests, errors and
    latency, and the share of its predictions equal to the client's answer."""
    if not requests:
        return None
    out = {"requests": requests, "errors": errors, "error_rate": errors / requests,
           "latency_ms": latency_percentiles(latencies), "compared": compared,
           "agreement": agreed / compared if compared else None}
    if not compared:
        out["agreement_reason"] = NO_PAIRS
    return out


def serving_figures(win: LogWindow) -> dict[str, Any]:
    """Requests, rows, errors, error rate, throughput (requests per second of the window),
    latency percentiles, routes and statuses of one window's client traffic, and the
    shadow's figures apart (``shadow``: None when there is no shadow)."""
    seconds = (win.end - win.start).total_seconds()
    return {
        "requests": win.requests, "rows": win.rows, "errors": win.errors,
        "error_rate": win.errors / win.requests if win.requests else None,
        **({} if win.requests else {"error_rate_reason": NO_CLIENT_REQUESTS}),
        "throughput_rps": win.requests / seconds if seconds > 0 else None,
        "latency_ms": latency_percentiles(win.latencies),
        "routes": dict(sorted(win.routes.items())),
        "statuses": {str(k): v for k, v in sorted(win.statuses.items())},
        "shadow": shadow_figures(win.shadow_requests, win.shadow_errors,
                                 win.shadow_latencies, win.shadow_compared, win.shadow_agreed),
    }


def _as_numbers(pred: pa.Array) -> F64 | None:
    """The predictions as float64 (NaN for nulls), or None when they are not numbers."""
    try:
        out: F64 = pc.cast(pred, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return out


def _binary(y: F64, yhat: F64, score: F64 | None) -> dict[str, float | None]:
    from airlock.evaluation import count_metrics, rank_metrics, row_losses

    yi, pi = y.astype(np.int64), yhat.astype(np.int64)
    tp = float(((yi == 1) & (pi == 1)).sum())
    fp = float(((yi == 0) & (pi == 1)).sum())
    fn = float(((yi == 1) & (pi == 0)).sum())
    tn = float(((yi == 0) & (pi == 0)).sum())
    counts = count_metrics(np.array(tp), np.array(fp), np.array(fn), np.array(tn))
    out = {m: _num(counts[m]) for m in ("accuracy", "precision", "recall", "f1")}
    if score is not None and not np.isnan(score).any():
        codes = np.zeros(len(yi), np.int64)
        auc, _ = rank_metrics(score, yi, codes, 1)
        ll, sq = row_losses(yi, score)
        out.update(roc_auc=_num(auc[0]), log_loss=_num(ll.mean()), brier=_num(sq.mean()))
    return out


def performance(win: LogWindow) -> dict[str, Any] | None:
    """Metrics of the labelled requests of ``win``; None when none is labelled."""
    y = win.labels
    pred = win.predictions
    if not len(y) or pred is None:
        return None
    out: dict[str, Any] = {"labelled": len(y), "label_mean": _num(y.mean())}
    yhat = _as_numbers(pred)
    if yhat is None:  # string classes: labels compared as text
        text = pc.cast(pred, pa.string()).to_numpy(zero_copy_only=False)
        labels = np.array([f"{v:g}" for v in y])
        out["accuracy"] = _num((text == labels).mean())
        return out
    ok = ~np.isnan(yhat)
    y, yhat = y[ok], yhat[ok]
    score = win.scores
    score = score[ok] if score is not None else None
    classes = bool(np.all(yhat == np.round(yhat)) and np.all(y == np.round(y)))
    if classes and set(np.unique(y)) <= {0.0, 1.0} and set(np.unique(yhat)) <= {0.0, 1.0}:
        out.update(_binary(y, yhat, score))
    elif classes:
        out["accuracy"] = _num((y == yhat).mean()) if len(y) else None
    else:
        err = yhat - y
        out.update(mae=_num(np.abs(err).mean()), rmse=_num(np.sqrt((err ** 2).mean())))
    return out
