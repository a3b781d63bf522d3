#!/usr/bin/env python
"""airlock A/B analysis over the prediction log vs the same aggregates through GrowthBook's
``gbstats`` engine.

    python bench/experiments.py [--requests N] [--quick] [--json PATH]

Data: ``--requests`` logged requests (10,000,000 by default) of one endpoint with three
variants (primary 50 %, canary 25 %, canary-2 25 %), written through the prediction-log
writer (``PredictionLog.append``, zstd Parquet segments) into a temporary store; 2 % of the
requests answered 503 (null outputs), 30 % of the answered ones labelled through the
feedback stream.

Cases, each in a fresh subprocess so that its peak RSS (VmHWM) is its own:

- ``airlock``: ``analyze_endpoint(…, metrics=[accuracy, error_rate, latency_p95,
  mean(outputs.proba_1), mean(outputs.prediction)])``: one streamed pass over the log with
  the labels joined, SRM, per-variant CIs, Welch/delta-method lifts, the bootstrap p95, Holm;
- ``gbstats``: the warehouse way GrowthBook works: the whole log read into one polars frame
  (``read_parquet`` of the same segments, the labels joined), a group-by per variant giving
  count, sum and sum of squares per metric, then gbstats' ``TwoSidedTTest`` on each
  (variant, metric). p95 has no closed form in gbstats' frequentist engine and is left out.

Printed: seconds and peak RSS of each (targets: airlock <= 10 s and <= 1 GB), the ratio, and
whether both give the same lifts, CIs and p-values for the mean metrics (they must agree to
1e-6: the same aggregates, the same Welch t). ``--quick``: 200,000 requests.
The script is also its own worker: ``--worker airlock|gbstats DIR`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
EP = "bench-ab"
METRICS = ["accuracy", "error_rate", "latency_p95", "mean(outputs.proba_1)",
           "mean(outputs.prediction)"]
VARIANTS = {"primary": 0.5, "canary": 0.25, "canary-2": 0.25}
TARGET_S, TARGET_RSS_MB = 10.0, 1024.0
CHUNK = 500_000


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _env(home: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items()
           if k not in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI")}
    env["AIRLOCK_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


def generate(home: Path, n: int, seed: int = 0) -> None:
    """``n`` requests through the predlog writer, in chunks (vectorised Arrow rows)."""
    import os

    os.environ["AIRLOCK_HOME"] = str(home)
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from airlock.predlog import (
        COLUMNS,
        PREDICTIONS,
        TS_TYPE,
        PredictionLog,
        log_locations,
    )

    uri, spool = log_locations()
    rng = np.random.default_rng(seed)
    now = int(time.time() * 1000)
    names, shares = list(VARIANTS), np.array(list(VARIANTS.values()))
    acc = {"primary": 0.80, "canary": 0.82, "canary-2": 0.79}
    with PredictionLog(EP, artifact_uri=uri, spool_dir=spool,
                       segment_max_bytes=256 << 20) as plog, \
            PredictionLog(EP, artifact_uri=uri, spool_dir=spool, stream="feedback",
                          segment_max_bytes=256 << 20) as fb:
        for start in range(0, n, CHUNK):
            k = min(CHUNK, n - start)
            ids = pc.binary_join_element_wise(
                "r", pc.cast(pa.array(np.arange(start, start + k)), pa.string()), "")
            v = rng.choice(len(names), k, p=shares)
            route = pa.DictionaryArray.from_arrays(pa.array(v.astype(np.int32)),
                                                   pa.array(names)).cast(pa.string())
            ok = rng.random(k) >= 0.02
            y = (rng.random(k) < 0.3).astype(np.int64)
            hit = rng.random(k) < np.array([acc[x] for x in names])[v]
            pred = np.where(hit, y, 1 - y)
            outputs = pa.StructArray.from_arrays(
                [pa.array(pred), pa.array(rng.random(k))], names=["prediction", "proba_1"],
                mask=pa.array(~ok))
            inputs = pa.StructArray.from_arrays(
                [pa.array(rng.normal(40, 12, k).round())], names=["age"])
            ts = now - 3_600_000 + (start + np.arange(k)) * 3_000_000 // max(n, 1)
            cols = {
                "request_id": ids, "row": pa.array(np.zeros(k, np.int32)),
                "ts": pa.array(ts, TS_TYPE), "endpoint": pa.array([EP] * k),
                "route": route, "model": pa.array([EP] * k),
                "version": pa.array((v + 1).astype(np.int32)),
                "status": pa.array(np.where(ok, 200, 503).astype(np.int16)),
                "latency_ms": pa.array((rng.lognormal(2.5, 0.4, k)
                                        * (1 + 0.05 * v)).astype(np.float32)),
                "error_code": pa.array(np.where(ok, None, "ModelUnavailable"), pa.string()),
                "error": pa.array(np.where(ok, None, "failed"), pa.string()),
                "inputs": inputs, "outputs": outputs,
                "shadow_version": pa.nulls(k, pa.int32()), "shadow_outputs": pa.nulls(k)}
            plog.append(pa.table([cols[c] for c in COLUMNS[PREDICTIONS]],
                                 names=list(COLUMNS[PREDICTIONS]))).result()
            lab = np.flatnonzero(ok & (rng.random(k) < 0.3))
            fb.append(pa.table({  # make_feedback's rows, built without a Python loop
                "request_id": ids.take(pa.array(lab)),
                "ts": pa.array(np.full(len(lab), int(ts[-1])), TS_TYPE),
                "label": pa.array(y[lab].astype(np.float64)),
                "label_json": pc.cast(pa.array(y[lab]), pa.string())})).result()


def worker_airlock() -> dict[str, Any]:
    from airlock.experiments import analyze_endpoint

    start = time.perf_counter()
    r = analyze_endpoint(EP, since="1d", metrics=METRICS, expected_split=VARIANTS)
    seconds = time.perf_counter() - start
    d = r.to_dict()
    return {"seconds": seconds, "rss_mb": peak_rss_mb(),
            "units": {k: v["units"] for k, v in d["variants"].items()},
            "comparisons": [{k: c[k] for k in ("variant", "metric", "lift", "lift_ci_low",
                                               "lift_ci_high", "p_value")}
                            for c in d["comparisons"]], "srm_p": d["srm"]["p_value"]}


def worker_gbstats() -> dict[str, Any]:
    import polars as pl
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
    from gbstats.models.statistics import SampleMeanStatistic

    from airlock.predlog import log_locations

    start = time.perf_counter()
    uri, _ = log_locations()
    base = Path(uri.removeprefix("file://"))
    log = pl.read_parquet(sorted((base / "predictions" / EP).rglob("*.parquet")),
                          columns=["request_id", "row", "route", "status", "outputs"])
    labels = pl.read_parquet(sorted((base / "feedback" / EP).rglob("*.parquet")),
                             columns=["request_id", "label"])
    rows = log.filter(pl.col("row") == 0).unnest("outputs").join(
        labels, on="request_id", how="left").with_columns(
        acc=pl.when(pl.col("label").is_not_null() & (pl.col("status") < 400))
        .then((pl.col("prediction").cast(pl.Float64) == pl.col("label")).cast(pl.Float64)),
        err=(pl.col("status") >= 400).cast(pl.Float64),
        p1=pl.col("proba_1"), pr=pl.col("prediction").cast(pl.Float64))
    cols = {"accuracy": "acc", "error_rate": "err", "mean(outputs.proba_1)": "p1",
            "mean(outputs.prediction)": "pr"}
    agg = rows.group_by("route").agg(
        [pl.col(c).count().alias(f"{c}_n") for c in cols.values()]
        + [pl.col(c).sum().alias(f"{c}_s") for c in cols.values()]
        + [(pl.col(c) ** 2).sum().alias(f"{c}_ss") for c in cols.values()])
    stats = {r["route"]: r for r in agg.to_dicts()}
    comps = []
    for variant in ("canary", "canary-2"):
        for metric, c in cols.items():
            a, b = (SampleMeanStatistic(n=s[f"{c}_n"], sum=s[f"{c}_s"],
                                        sum_squares=s[f"{c}_ss"])
                    for s in (stats["primary"], stats[variant]))
            res = TwoSidedTTest(a, b, FrequentistConfig(difference_type="absolute")) \
                .compute_result()
            comps.append({"variant": variant, "metric": metric, "lift": res.expected,
                          "lift_ci_low": res.ci[0], "lift_ci_high": res.ci[1],
                          "p_value": res.p_value})
    return {"seconds": time.perf_counter() - start, "rss_mb": peak_rss_mb(),
            "comparisons": comps}


def _run(case: str, home: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", case, str(home)],
                          capture_output=True, text=True, env=_env(home), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{case} worker failed:\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _agreement(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> tuple[int, int]:
    mine = {(c["variant"], c["metric"]): c for c in ours}
    agree = 0
    for c in theirs:
        m = mine.get((c["variant"], c["metric"]))
        if m and all(abs((m[k] or 0) - c[k]) <= 1e-6 * max(1.0, abs(c[k]))
                     for k in ("lift", "lift_ci_low", "lift_ci_high", "p_value")):
            agree += 1
    return agree, len(theirs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "HOME"))
    args = ap.parse_args()
    if args.worker:
        case = args.worker[0]
        print(json.dumps(worker_airlock() if case == "airlock" else worker_gbstats()))
        return
    n = 200_000 if args.quick else args.requests
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        gen = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, "
                              f"{str(ROOT / 'bench')!r}); import experiments; "
                              f"experiments.generate(__import__('pathlib').Path({str(home)!r}),"
                              f" {n})"], env=_env(home), capture_output=True, text=True,
                             check=False)
        if gen.returncode != 0:
            raise SystemExit(f"generation failed:\n{gen.stderr}")
        gen_s = time.perf_counter() - t0
        ours, theirs = _run("airlock", home), _run("gbstats", home)
    agree, compared = _agreement(ours["comparisons"], theirs["comparisons"])
    ratio = theirs["seconds"] / ours["seconds"] if ours["seconds"] > 0 else float("inf")
    met = ours["seconds"] <= TARGET_S and ours["rss_mb"] <= TARGET_RSS_MB
    print(f"data: {n:,} logged requests, 3 variants, {len(METRICS)} metrics "
          f"(generated through the predlog writer in {gen_s:.1f} s)")
    print(f"case analyze: airlock {ours['seconds']:.2f} s | gbstats (polars read + group-by "
          f"+ gbstats) {theirs['seconds']:.2f} s | ratio {ratio:.2f}x")
    print(f"case peak_rss: airlock {ours['rss_mb']:,.0f} MB | gbstats {theirs['rss_mb']:,.0f} "
          f"MB | target <= {TARGET_S:g} s and <= {TARGET_RSS_MB:,.0f} MB | "
          f"met? {'yes' if met else 'NO'}")
    print(f"agreement: {agree}/{compared} comparisons of the mean metrics equal to 1e-6 "
          "(latency_p95: airlock only, bootstrap)")
    if args.json:
        args.json.write_text(json.dumps({
            "quick": args.quick, "requests": n, "airlock_s": ours["seconds"],
            "airlock_rss_mb": ours["rss_mb"], "gbstats_s": theirs["seconds"],
            "gbstats_rss_mb": theirs["rss_mb"], "ratio": ratio, "agree": agree,
            "compared": compared, "units": ours["units"], "met": met}, indent=2))


if __name__ == "__main__":
    main()
