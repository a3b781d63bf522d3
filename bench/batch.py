#!/usr/bin/env python
"""airlock batch scoring vs the jobs people write by hand, on the same Parquet files.

    python bench/batch.py [--rows N] [--files N] [--repeats N] [--engines local,ray,spark]
                          [--quick] [--json PATH]

Data: ``--rows`` rows (10,000,000 by default) of 20 columns, 12 numeric and 8 categorical
(text), seeded, in ``--files`` Parquet files (zstd, 65,536-row groups). Model: the demo's
kind of gradient-boosted pipeline (ordinal-encoded categories into a
HistGradientBoostingClassifier, 100 trees of up to 31 leaves) trained on 20,000 rows and
registered in a fresh store. Every case writes ids, predictions and probabilities to Parquet.

Cases (timings are medians of ``--repeats`` runs, in the same run as their peer):

- ``local``: ``airlock.batch.score`` on the local engine (a process per core, then one
  worker) vs a hand-written loop, file by file: ``pd.read_parquet`` → ``predict_proba`` →
  ``to_parquet``. Each run is a fresh process; its peak RSS is the peak of the summed RSS of
  the process and its children (sampled every 50 ms from /proc). Targets: >= 1.5x the loop's
  rows/s; peak RSS <= 1 GB.
- ``spark``: the Spark engine vs MLflow's ``spark_udf`` (``env_manager="local"``) over the
  same files, on the same ``local[2]`` session. Target: >= 2x the rows/s.
- ``ray``: the Ray engine vs a hand-written Ray Data job (``read_parquet`` → ``map_batches``
  with the model in a callable class on an actor pool of the same size → ``write_parquet``)
  on the same ``ray.init(num_cpus=2)`` cluster. Target: overhead <= 15 %.

``--quick`` runs 20,000 rows in 4 files once (a smoke test, no targets claimed).

The script is also its own worker (``--worker local|loop|spark|ray DIR``), printing one JSON
line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

NUMERIC = [f"num_{i:02d}" for i in range(12)]
CATEGORICAL = [f"cat_{i:02d}" for i in range(8)]
FEATURES = NUMERIC + CATEGORICAL
TARGETS = {"local": 1.5, "spark": 2.0, "ray_overhead": 0.15, "rss_mb": 1024.0}
BATCH = 65536


# -- data and model -------------------------------------------------------------------------
def frame(n: int, seed: int, first_id: int = 0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {"id": np.arange(first_id, first_id + n, dtype=np.int64)}
    for i, name in enumerate(NUMERIC):
        cols[name] = (rng.integers(0, 100, n) if i % 3 == 0 else rng.normal(i, 1 + i, n))
    for i, name in enumerate(CATEGORICAL):
        levels = np.array([f"{name}_v{j}" for j in range(4 + 6 * i)])
        cols[name] = levels[rng.integers(0, len(levels), n)]
    return pd.DataFrame(cols)


def label(df: Any) -> Any:
    import numpy as np

    score = (df.num_01 - 1) / 2 + (df.cat_00.str.endswith(("v0", "v1"))) - df.num_03 / 100
    return (score + np.random.default_rng(1).normal(0, 0.5, len(df)) > 0.5).astype(int)


def pipeline() -> Any:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    prep = ColumnTransformer([
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
         CATEGORICAL),
        ("num", "passthrough", NUMERIC)])
    clf = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=31, early_stopping=False,
                                         categorical_features=list(range(len(CATEGORICAL))),
                                         random_state=0)
    return Pipeline([("prep", prep), ("clf", clf)])


def prepare(work: Path, rows: int, files: int) -> None:
    """Input files, the model registered in work/home, the same model for MLflow and the
    hand-written jobs."""
    import pickle

    import pyarrow as pa
    import pyarrow.parquet as pq

    os.environ["AIRLOCK_HOME"] = str(work / "home")
    import airlock

    train = frame(20_000, 0)
    pipe = pipeline().fit(train[FEATURES], label(train))
    airlock.register_model("bench-gbm", pipe, input_example=train[FEATURES].head(100))
    (work / "model.pkl").write_bytes(pickle.dumps(pipe))
    import warnings

    import mlflow.models
    import mlflow.sklearn
    import skops.io

    with warnings.catch_warnings():  # MLflow's hint about integer columns and missing values
        warnings.simplefilter("ignore")
        signature = mlflow.models.infer_signature(train[FEATURES].head(100),
                                                  pipe.predict(train[FEATURES].head(100)))
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipe))
    mlflow.sklearn.save_model(pipe, str(work / "mlflow-model"), signature=signature,
                              serialization_format="skops", skops_trusted_types=trusted,
                              pip_requirements=["scikit-learn"])
    data = work / "data"
    data.mkdir()
    per = rows // files
    for f in range(files):
        n = per if f < files - 1 else rows - per * (files - 1)
        table = pa.Table.from_pandas(frame(n, 100 + f, first_id=f * per), preserve_index=False)
        pq.write_table(table, data / f"part-{f:04d}.parquet", row_group_size=BATCH,
                       compression="zstd")


# -- memory of a process tree -----------------------------------------------------------------
class TreeRss:
    """Peak of the summed RSS of this process and its descendants, sampled (Linux /proc)."""

    def __init__(self, every: float = 0.05) -> None:
        self.every, self.peak_mb = every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def _sample(self) -> None:
        me, parents, rss = os.getpid(), {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                parents[int(entry)] = int(fields[1])
                rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                continue
        tree, grew = {me}, True
        while grew:
            more = {p for p, pp in parents.items() if pp in tree and p not in tree}
            tree |= more
            grew = bool(more)
        self.peak_mb = max(self.peak_mb, sum(rss.get(p, 0) for p in tree) / 2**20)


# -- workers ----------------------------------------------------------------------------------
def _out(work: Path, name: str) -> Path:
    return work / "out" / f"{name}-{uuid.uuid4().hex[:8]}"


def worker_local(work: Path, workers: int | None) -> dict[str, Any]:
    os.environ["AIRLOCK_HOME"] = str(work / "home")
    import airlock.batch

    with TreeRss() as mem:
        start = time.perf_counter()
        result = airlock.batch.score("bench-gbm@1", work / "data", _out(work, "local"),
                                     keep=["id"], workers=workers, batch_size=BATCH)
        seconds = time.perf_counter() - start
    assert result.passed, result.errors
    return {"seconds": seconds, "rows": result.rows, "peak_rss_mb": mem.peak_mb}


def worker_loop(work: Path) -> dict[str, Any]:
    import pickle

    import pandas as pd

    with TreeRss() as mem:
        start = time.perf_counter()
        model = pickle.loads((work / "model.pkl").read_bytes())
        out = _out(work, "loop")
        out.mkdir(parents=True)
        rows = 0
        for path in sorted((work / "data").glob("*.parquet")):
            df = pd.read_parquet(path)
            proba = model.predict_proba(df[FEATURES])
            pd.DataFrame({"id": df["id"], "prediction": model.classes_[proba.argmax(axis=1)],
                          "proba_0": proba[:, 0], "proba_1": proba[:, 1]}).to_parquet(
                out / path.name)
            rows += len(df)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": rows, "peak_rss_mb": mem.peak_mb}


def worker_spark(work: Path, repeats: int) -> dict[str, Any]:
    import warnings

    warnings.filterwarnings("ignore")
    os.environ["AIRLOCK_HOME"] = str(work / "home")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (SparkSession.builder.master("local[2]").appName("bench-batch")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "2g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    import mlflow.pyfunc

    import airlock.batch

    udf = mlflow.pyfunc.spark_udf(spark, str(work / "mlflow-model"), result_type="double",
                                  env_manager="local")

    def ours() -> int:
        r = airlock.batch.score("bench-gbm@1", work / "data", _out(work, "spark"), keep=["id"],
                                engine="spark", batch_size=BATCH)
        assert r.passed, r.errors
        return r.rows

    def theirs() -> None:
        df = spark.read.parquet(str(work / "data"))
        df.select("id", udf(*[F.col(c) for c in FEATURES]).alias("prediction")) \
            .write.parquet(str(_out(work, "mlflow")))

    return _alternate(ours, theirs, repeats, version=spark.version)


def worker_ray(work: Path, repeats: int) -> dict[str, Any]:
    import pickle
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    os.environ["AIRLOCK_HOME"] = str(work / "home")
    import ray
    import ray.data

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    import airlock.batch

    model_bytes = (work / "model.pkl").read_bytes()

    class Predict:
        def __init__(self) -> None:
            self.model = pickle.loads(model_bytes)

        def __call__(self, batch: Any) -> Any:
            import pandas as pd

            proba = self.model.predict_proba(batch[FEATURES])
            return pd.DataFrame({"id": batch["id"],
                                 "prediction": self.model.classes_[proba.argmax(axis=1)],
                                 "proba_0": proba[:, 0], "proba_1": proba[:, 1]})

    def ours() -> int:
        r = airlock.batch.score("bench-gbm@1", work / "data", _out(work, "ray"), keep=["id"],
                                engine="ray", batch_size=BATCH)
        assert r.passed, r.errors
        return r.rows

    def theirs() -> None:
        ds = ray.data.read_parquet(str(work / "data"))
        ds = ds.map_batches(Predict, compute=ray.data.ActorPoolStrategy(size=1), num_cpus=1,
                            batch_size=BATCH, batch_format="pandas")
        ds.write_parquet(str(_out(work, "ray-hand")))

    return _alternate(ours, theirs, repeats, version=ray.__version__)


def _alternate(ours: Any, theirs: Any, repeats: int, *, version: str) -> dict[str, Any]:
    """Warm both up once, then alternate them ``repeats`` times; medians."""
    ours()
    theirs()
    a, b, rows = [], [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        rows = ours()
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs()
        b.append(time.perf_counter() - start)
    return {"airlock_s": statistics.median(a), "peer_s": statistics.median(b), "rows": rows,
            "airlock_runs": a, "peer_runs": b, "version": version}


def run_worker(kind: str, work: Path, *extra: str, timeout: float = 7200) -> dict[str, Any]:
    args = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(work), *extra]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- main ------------------------------------------------------------------------------------
def _rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else 0.0


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default="local,ray,spark")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worker", nargs="+", default=None)
    args = parser.parse_args(argv)
    if args.worker:
        kind, work, *rest = args.worker
        if kind == "local":
            out = worker_local(Path(work), int(rest[0]) if rest and rest[0] != "auto" else None)
        elif kind == "loop":
            out = worker_loop(Path(work))
        elif kind == "spark":
            out = worker_spark(Path(work), int(rest[0]))
        else:
            out = worker_ray(Path(work), int(rest[0]))
        print(json.dumps(out))
        return 0
    if args.quick:
        args.rows, args.files, args.repeats = 20_000, 4, 1
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    figures: dict[str, Any] = {"rows": args.rows, "files": args.files,
                               "repeats": args.repeats, "quick": args.quick,
                               "cpus": os.cpu_count(), "python": platform.python_version()}
    with tempfile.TemporaryDirectory(prefix="airlock-bench-batch-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        run_worker_prepare(work, args.rows, args.files)
        print(f"data: {args.rows:,} rows x {len(FEATURES)} columns in {args.files} Parquet "
              f"files ({sum(p.stat().st_size for p in (work / 'data').iterdir()) / 2**20:,.0f}"
              f" MB), prepared in {time.perf_counter() - start:.0f} s; {os.cpu_count()} CPUs",
              flush=True)
        if "local" in engines:
            _local(work, args, figures)
        if "spark" in engines:
            _pair("spark", work, args, figures)
        if "ray" in engines:
            _pair("ray", work, args, figures)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def run_worker_prepare(work: Path, rows: int, files: int) -> None:
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
            f"import batch; batch.prepare(__import__('pathlib').Path({str(work)!r}), "
            f"{rows}, {files})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"preparing the data failed:\n{proc.stderr[-4000:]}")


def _local(work: Path, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    runs: dict[str, list[dict[str, Any]]] = {"local": [], "local1": [], "loop": []}
    for _ in range(args.repeats):
        runs["local"].append(run_worker("local", work, "auto"))
        runs["local1"].append(run_worker("local", work, "1"))
        runs["loop"].append(run_worker("loop", work))
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    rss = {k: max(r["peak_rss_mb"] for r in v) for k, v in runs.items()}
    rows = runs["local"][0]["rows"]
    rate = {k: _rate(rows, s) for k, s in med.items()}
    ratio = rate["local"] / rate["loop"]
    figures.update({f"{k}_s": s for k, s in med.items()})
    figures.update({f"{k}_rows_per_s": r for k, r in rate.items()})
    figures.update({f"{k}_rss_mb": m for k, m in rss.items()})
    figures["local_ratio"] = ratio
    figures["local_runs_s"] = {k: [r["seconds"] for r in v] for k, v in runs.items()}
    print(f"case local: airlock {rate['local']:,.0f} rows/s ({os.cpu_count()} workers) | "
          f"1 worker {rate['local1']:,.0f} rows/s | loop {rate['loop']:,.0f} rows/s | "
          f"ratio {ratio:.2f}x | target >= {TARGETS['local']}x | met? "
          f"{_met(ratio >= TARGETS['local'])}", flush=True)
    print(f"case peak_rss: airlock {rss['local']:,.0f} MB | 1 worker {rss['local1']:,.0f} MB "
          f"| loop {rss['loop']:,.0f} MB | target airlock <= {TARGETS['rss_mb']:,.0f} MB | "
          f"met? {_met(rss['local'] <= TARGETS['rss_mb'])}", flush=True)


def _pair(kind: str, work: Path, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    out = run_worker(kind, work, str(args.repeats))
    rate_ours, rate_peer = _rate(out["rows"], out["airlock_s"]), _rate(out["rows"],
                                                                      out["peer_s"])
    figures.update({f"{kind}_airlock_s": out["airlock_s"], f"{kind}_peer_s": out["peer_s"],
                    f"{kind}_airlock_rows_per_s": rate_ours,
                    f"{kind}_peer_rows_per_s": rate_peer, f"{kind}_version": out["version"]})
    if kind == "spark":
        ratio = rate_ours / rate_peer
        figures["spark_ratio"] = ratio
        print(f"case spark: airlock {rate_ours:,.0f} rows/s | mlflow spark_udf "
              f"{rate_peer:,.0f} rows/s | ratio {ratio:.2f}x | target >= "
              f"{TARGETS['spark']}x | met? {_met(ratio >= TARGETS['spark'])} "
              f"(spark {out['version']}, local[2])", flush=True)
    else:
        overhead = out["airlock_s"] / out["peer_s"] - 1
        figures["ray_overhead"] = overhead
        print(f"case ray: airlock {rate_ours:,.0f} rows/s | hand-written map_batches "
              f"{rate_peer:,.0f} rows/s | overhead {overhead:+.1%} | target <= "
              f"{TARGETS['ray_overhead']:.0%} | met? "
              f"{_met(overhead <= TARGETS['ray_overhead'])} (ray {out['version']})",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
