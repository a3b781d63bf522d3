"""A served endpoint's prediction log with a canary, written through the predlog writer."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from airlock.predlog import (
    PredictionLog,
    log_locations,
    make_batch_records,
    make_feedback,
    make_records,
)

EP = "adult-income"


@dataclass(frozen=True)
class Traffic:
    n: int = 4000
    canary_share: float = 0.5
    accuracy: tuple[float, float] = (0.80, 0.80)   # primary, canary
    error_rate: tuple[float, float] = (0.01, 0.01)
    labelled: float = 0.5
    seed: int = 0
    hours: float = 2.0


def write_traffic(t: Traffic, *, endpoint: str = EP, shadow: int = 0, guard: int = 0,
                  feedback: bool = True) -> dict[str, int]:
    """``t.n`` requests over the last ``t.hours`` hours, split between primary (@1) and
    canary (@2); errors as 503 rows with null outputs; labels for ``t.labelled`` of the
    answered requests; ``shadow`` shadow rows and ``guard`` blocked requests besides."""
    uri, spool = log_locations()
    rng = np.random.default_rng(t.seed)
    now = int(time.time() * 1000)
    ts = np.sort(now - rng.integers(1000, int(t.hours * 3600_000), t.n))
    canary = rng.random(t.n) < t.canary_share
    err = rng.random(t.n) < np.where(canary, t.error_rate[1], t.error_rate[0])
    age = rng.normal(40, 12, t.n).round()
    y = (rng.random(t.n) < 0.3).astype(np.int64)
    hit = rng.random(t.n) < np.where(canary, t.accuracy[1], t.accuracy[0])
    pred = np.where(hit, y, 1 - y)
    latency = rng.lognormal(2.5, 0.4, t.n) * np.where(canary, 1.0, 1.0)
    counts = {"primary": 0, "canary": 0}
    with PredictionLog(endpoint, artifact_uri=uri, spool_dir=spool) as plog:
        for route, version, sel in (("primary", 1, ~canary & ~err), ("canary", 2, canary & ~err)):
            idx = np.flatnonzero(sel)
            counts[route] += len(idx)
            plog.append(make_batch_records(
                request_ids=[f"r{i}" for i in idx], row_counts=[1] * len(idx),
                ts_ms=ts[idx].tolist(), latency_ms=latency[idx].tolist(), status=200,
                endpoint=endpoint, route=route, model=endpoint, version=version,
                inputs=pa.table({"age": age[idx], "user": [f"u{i % (t.n // 3)}" for i in idx]}),
                outputs=pa.table({"prediction": pred[idx],
                                  "proba_1": rng.random(len(idx))}))).result()
        for i in np.flatnonzero(err):
            route = "canary" if canary[i] else "primary"
            counts[route] += 1
            plog.append(make_records(
                request_id=f"r{i}", ts_ms=int(ts[i]), endpoint=endpoint, route=route,
                model=endpoint, version=2 if canary[i] else 1, status=503,
                latency_ms=float(latency[i]), inputs=pa.table({"age": [age[i]],
                                                               "user": [f"u{i}"]}),
                outputs=None, error_code="ModelUnavailable", error="failed")).result()
        for i in range(shadow):
            plog.append(make_records(
                request_id=f"r{i}", ts_ms=int(ts[i]), endpoint=endpoint, route="shadow",
                model=endpoint, version=3, status=200, latency_ms=1.0,
                inputs=pa.table({"age": [age[i]], "user": ["s"]}),
                outputs=pa.table({"prediction": [1]}))).result()
        for i in range(guard):
            plog.append(make_records(
                request_id=f"g{i}", ts_ms=int(ts[i]), endpoint=endpoint, route="guard",
                model=endpoint, version=None, status=403, latency_ms=1.0,
                inputs=pa.table({"age": [age[i]], "user": ["g"]}), outputs=None,
                error_code="GuardBlocked", error="blocked")).result()
    if feedback:
        ok = np.flatnonzero(~err & (rng.random(t.n) < t.labelled))
        with PredictionLog(endpoint, artifact_uri=uri, spool_dir=spool,
                           stream="feedback") as fb:
            fb.append(make_feedback([f"r{i}" for i in ok], y[ok].tolist(), now)).result()
    return counts
