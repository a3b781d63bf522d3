#!/usr/bin/env python
"""airlock vs MLflow (SQLite tracking store): tracking and registry micro-benchmarks.

    python bench/tracking.py [--repeat N] [--json PATH] [--smoke]

Both tools run in this process on this machine, each against a fresh store in one temporary
folder: airlock's embedded SQLite + local artifacts (``AIRLOCK_HOME``) and MLflow's
SQLAlchemy store on SQLite (``sqlite:///…/mlflow.db``) with a local artifact root, driven
through ``MlflowClient``. Every case is measured ``--repeat`` times, airlock and MLflow
alternating which goes first, and the median of the repeats is reported. ``ratio`` is how
many times faster airlock is: MLflow's time / airlock's time (for points/s, airlock's
rate / MLflow's rate).

Correctness is checked along the way (search result counts, predictions of loaded models,
alias targets); a wrong answer stops the benchmark with an error. ``--smoke`` runs tiny
sizes to prove the benchmark still works; its timings mean nothing.

Notes: MLflow takes at most 1,000 metrics per ``log_batch`` call, so its points go in chunks
of 1,000. Both systems store the scikit-learn models with skops (MLflow 3's default too),
trusting exactly the types the model holds. airlock's ``log_metric`` only buffers: the
"+ flush" row includes writing the points. airlock's ``start_run`` records the git state of
the working directory, so the informational run-creation figure depends on where you run.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
#: UCI Adult, no header; the shared copy, else the one shipped with the examples.
ADULT_PATHS = (ROOT / "examples" / "data" / "adult.data.gz",
               ROOT.parent / "shared" / "datasets" / "adult" / "adult.data")
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
SEARCH_FILTER = "metrics.val_auc > 0.9 and params.max_depth = '6'"
MLFLOW_MAX_METRICS_PER_BATCH = 1000
BASE_TS = 1_700_000_000_000

Figures = dict[str, float]


@dataclass(frozen=True)
class Sizes:
    metric_calls: int = 1000
    multi_calls: int = 100
    multi_keys: int = 100
    batch_points: int = 10_000
    n_params: int = 100
    search_runs: int = 200
    search_reps: int = 20
    load_reps: int = 10
    resolve_reps: int = 200
    train_rows: int = 5000
    hgb_iter: int = 100


FULL = Sizes()
SMOKE = Sizes(metric_calls=50, multi_calls=10, multi_keys=20,
              batch_points=2000, search_runs=12, search_reps=3, load_reps=2,
              resolve_reps=20, train_rows=1000, hgb_iter=10)


@dataclass(frozen=True)
class Row:
    """One line of the result table: a figure of a case, with the issue's target if any."""

    case: str
    figure: str
    label: str
    unit: str
    target: float | None = None
    higher_is_better: bool = False


def rows(sz: Sizes) -> tuple[Row, ...]:
    n, b = f"{sz.metric_calls:,}", f"{sz.batch_points:,}"
    return (
        Row("log_metric", "median", f"log_metric x{n}: median per call", "ms", 0.1),
        Row("log_metric", "p95", f"log_metric x{n}: p95 per call", "ms"),
        Row("log_metric", "p99", f"log_metric x{n}: p99 per call", "ms", 0.05),
        Row("log_metric", "amortised", f"log_metric x{n} + flush: amortised per call", "ms"),
        Row("log_metrics", "rate", f"log_metrics x{sz.multi_calls} of {sz.multi_keys} keys "
            "+ flush (MLflow: log_batch per call)", "points/s", 500_000,
            higher_is_better=True),
        Row("log_batch", "rate", f"log_batch of {b} points (MLflow: chunks of "
            f"{MLFLOW_MAX_METRICS_PER_BATCH})", "points/s", 500_000, higher_is_better=True),
        Row("log_params", "ms", f"log_params of {sz.n_params} params", "ms"),
        Row("search_runs", "median", f"search_runs over {sz.search_runs} runs: median of "
            f"{sz.search_reps}", "ms", 5.0),
        Row("load_model[logreg]", "median", f"load_model LogisticRegression: median of "
            f"{sz.load_reps}", "ms", 50.0),
        Row("load_model[hgb]", "median", f"load_model HistGradientBoosting: median of "
            f"{sz.load_reps}", "ms", 50.0),
        Row("resolve_alias", "median", f"resolve name@staging: median of {sz.resolve_reps}",
            "ms", 1.0),
    )


@dataclass
class Data:
    x: Any
    check: Any  # rows whose predictions must survive a register → load round trip
    models: dict[str, Any]


# -- the two systems --------------------------------------------------------------------

class Side(Protocol):
    """What the cases need from a tracking system; every payload is built before timing."""

    name: str

    def close(self) -> None: ...
    def start_run(self, experiment: str) -> Any: ...
    def metric_logger(self, run: Any) -> Callable[[str, float, int], object]: ...
    def flush(self, run: Any) -> None: ...
    def end_run(self, run: Any) -> None: ...
    def multi_payload(self, calls: int, keys: int) -> Any: ...
    def log_multi(self, run: Any, payload: Any) -> None: ...
    def batch_payload(self, n: int) -> Any: ...
    def log_batch(self, run: Any, payload: Any) -> None: ...
    def params_payload(self, values: dict[str, str]) -> Any: ...
    def log_params(self, run: Any, payload: Any) -> None: ...
    def seed_run(self, experiment: str, val_auc: float, max_depth: int) -> None: ...
    def search(self, experiment: str) -> int: ...
    def register(self, name: str, model: Any, x: Any) -> None: ...
    def load(self, ref: str) -> Callable[[Any], Any]: ...
    def resolve(self, ref: str) -> int: ...


class AirlockSide:
    name = "airlock"

    def __init__(self, home: Path) -> None:
        os.environ["AIRLOCK_HOME"] = str(home)
        for var in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI"):
            os.environ.pop(var, None)
        import airlock
        import airlock.registry
        import airlock.store

        airlock.store.close_stores()
        self.al = airlock

    def close(self) -> None:
        self.al.store.close_stores()

    def start_run(self, experiment: str) -> Any:
        return self.al.start_run(experiment)

    def metric_logger(self, run: Any) -> Callable[[str, float, int], object]:
        return run.log_metric  # type: ignore[no-any-return]

    def flush(self, run: Any) -> None:
        run.flush()

    def end_run(self, run: Any) -> None:
        run.end()

    def multi_payload(self, calls: int, keys: int) -> list[dict[str, float]]:
        return [{f"m{k:03d}": 1.0 / (i + k + 1) for k in range(keys)} for i in range(calls)]

    def log_multi(self, run: Any, payload: Any) -> None:
        log = run.log_metrics
        for step, values in enumerate(payload):
            log(values, step=step)

    def batch_payload(self, n: int) -> list[tuple[str, float, int, int]]:
        return [("loss", 1.0 / (i + 1), i, BASE_TS + i) for i in range(n)]

    def log_batch(self, run: Any, payload: Any) -> None:
        run.log_batch(payload)

    def params_payload(self, values: dict[str, str]) -> Any:
        return values

    def log_params(self, run: Any, payload: Any) -> None:
        run.log_params(payload)

    def seed_run(self, experiment: str, val_auc: float, max_depth: int) -> None:
        run = self.al.start_run(experiment, params={"max_depth": max_depth})
        run.log_metric("val_auc", val_auc)
        run.end()

    def search(self, experiment: str) -> int:
        return len(self.al.search_runs(SEARCH_FILTER, experiment=experiment))

    def register(self, name: str, model: Any, x: Any) -> None:
        version = self.al.register_model(name, model, input_example=x.head(5))
        self.al.set_alias(f"{name}@{version.version}", "staging")

    def load(self, ref: str) -> Callable[[Any], Any]:
        loaded = self.al.load_model(ref)
        return lambda x: loaded.predict(x)["prediction"].to_numpy()

    def resolve(self, ref: str) -> int:
        return int(self.al.registry.resolve(ref).version)


class MlflowSide:
    name = "mlflow"

    def __init__(self, folder: Path) -> None:
        import mlflow
        import mlflow.sklearn
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        folder.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        self.mlflow, self.metric_cls, self.param_cls = mlflow, Metric, Param
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.artifacts = (folder / "artifacts").as_uri()
        self.experiments: dict[str, str] = {}

    def close(self) -> None:
        pass

    def experiment(self, name: str) -> str:
        if name not in self.experiments:
            self.experiments[name] = self.client.create_experiment(
                name, artifact_location=f"{self.artifacts}/{name}")
        return self.experiments[name]

    def start_run(self, experiment: str) -> Any:
        return self.client.create_run(self.experiment(experiment)).info.run_id

    def metric_logger(self, run: Any) -> Callable[[str, float, int], object]:
        log = self.client.log_metric
        return lambda key, value, step: log(run, key, value, step=step)

    def flush(self, run: Any) -> None:
        pass  # MlflowClient.log_metric is synchronous: nothing is buffered

    def end_run(self, run: Any) -> None:
        self.client.set_terminated(run)

    def multi_payload(self, calls: int, keys: int) -> list[list[Any]]:
        return [[self.metric_cls(f"m{k:03d}", 1.0 / (i + k + 1), BASE_TS + i, i)
                 for k in range(keys)] for i in range(calls)]

    def log_multi(self, run: Any, payload: Any) -> None:
        for metrics in payload:
            self.client.log_batch(run, metrics=metrics)

    def batch_payload(self, n: int) -> list[Any]:
        return [self.metric_cls("loss", 1.0 / (i + 1), BASE_TS + i, i) for i in range(n)]

    def log_batch(self, run: Any, payload: Any) -> None:
        for i in range(0, len(payload), MLFLOW_MAX_METRICS_PER_BATCH):
            self.client.log_batch(run, metrics=payload[i:i + MLFLOW_MAX_METRICS_PER_BATCH])

    def params_payload(self, values: dict[str, str]) -> Any:
        return [self.param_cls(k, v) for k, v in values.items()]

    def log_params(self, run: Any, payload: Any) -> None:
        self.client.log_batch(run, params=payload)

    def seed_run(self, experiment: str, val_auc: float, max_depth: int) -> None:
        run = self.start_run(experiment)
        self.client.log_batch(run, metrics=[self.metric_cls("val_auc", val_auc, BASE_TS, 0)],
                              params=[self.param_cls("max_depth", str(max_depth))])
        self.client.set_terminated(run)

    def search(self, experiment: str) -> int:
        return len(self.client.search_runs([self.experiment(experiment)], SEARCH_FILTER))

    def register(self, name: str, model: Any, x: Any) -> None:
        """Log (skops, like airlock), register and alias; the skops types trusted are
        exactly those of this model, which is what airlock records at registration."""
        import skops.io
        from mlflow.models import infer_signature

        signature = infer_signature(x, model.predict(x))
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        with self.mlflow.start_run(experiment_id=self.experiment("bench-models")) as run:
            info = self.mlflow.sklearn.log_model(
                model, name="model", signature=signature, pip_requirements=["scikit-learn"],
                serialization_format="skops", skops_trusted_types=trusted)
        self.client.create_registered_model(name)
        version = self.client.create_model_version(name, info.model_uri, run.info.run_id,
                                                   model_id=info.model_id)
        self.client.set_registered_model_alias(name, "staging", version.version)

    def load(self, ref: str) -> Callable[[Any], Any]:
        return self.mlflow.sklearn.load_model(f"models:/{ref}").predict  # type: ignore[no-any-return]

    def resolve(self, ref: str) -> int:
        name, _, alias = ref.partition("@")
        return int(self.client.get_model_version_by_alias(name, alias).version)


# -- measurements -----------------------------------------------------------------------

def _ms(ns: int) -> float:
    return ns / 1e6


def _timed_ms(fn: Callable[[], Any], reps: int) -> list[float]:
    fn()  # warm-up: first-use imports and statement caches are not what we measure
    out = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        out.append(_ms(time.perf_counter_ns() - t0))
    return out


def _percentile(values: Sequence[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def case_log_metric(side: Side, sz: Sizes) -> Figures:
    """Per-call latency of single calls, then (another run, no per-call timers) the total of
    the same calls plus the final flush, which is when airlock acknowledges the points."""
    run = side.start_run("bench-metrics")
    log = side.metric_logger(run)
    per_call = []
    for i in range(sz.metric_calls):
        t0 = time.perf_counter_ns()
        log("loss", 1.0 / (i + 1), i)
        per_call.append(_ms(time.perf_counter_ns() - t0))
    side.end_run(run)
    run = side.start_run("bench-metrics")
    log = side.metric_logger(run)
    t0 = time.perf_counter_ns()
    for i in range(sz.metric_calls):
        log("loss", 1.0 / (i + 1), i)
    side.flush(run)
    total = _ms(time.perf_counter_ns() - t0)
    side.end_run(run)
    return {"median": statistics.median(per_call), "p95": _percentile(per_call, 95),
            "p99": _percentile(per_call, 99), "amortised": total / sz.metric_calls}


def case_log_metrics(side: Side, sz: Sizes) -> Figures:
    """Many keys per step (a training loop logging its whole metric dict): the calls plus
    the flush that makes them durable, in points per second."""
    payload = side.multi_payload(sz.multi_calls, sz.multi_keys)
    run = side.start_run("bench-multi")
    t0 = time.perf_counter_ns()
    side.log_multi(run, payload)
    side.flush(run)
    seconds = (time.perf_counter_ns() - t0) / 1e9
    side.end_run(run)
    return {"rate": sz.multi_calls * sz.multi_keys / seconds}


def case_log_batch(side: Side, sz: Sizes) -> Figures:
    payload = side.batch_payload(sz.batch_points)
    run = side.start_run("bench-batch")
    t0 = time.perf_counter_ns()
    side.log_batch(run, payload)
    seconds = (time.perf_counter_ns() - t0) / 1e9
    side.end_run(run)
    return {"rate": sz.batch_points / seconds}


def case_log_params(side: Side, sz: Sizes) -> Figures:
    payload = side.params_payload({f"param_{i:03d}": str(i * 7) for i in range(sz.n_params)})
    run = side.start_run("bench-params")
    t0 = time.perf_counter_ns()
    side.log_params(run, payload)
    elapsed = _ms(time.perf_counter_ns() - t0)
    side.end_run(run)
    return {"ms": elapsed}


def search_rows(n: int) -> list[tuple[float, int]]:
    """(val_auc, max_depth) of the seeded runs: deterministic, about 1 in 12 matches."""
    return [(0.80 + 0.15 * ((i * 37) % 100) / 100, 3 + i % 6) for i in range(n)]


def expected_matches(n: int) -> int:
    return sum(1 for auc, depth in search_rows(n) if auc > 0.9 and depth == 6)


def seed_search(side: Side, sz: Sizes) -> float:
    """Create the runs the search case looks through; returns ms per run (informational)."""
    t0 = time.perf_counter_ns()
    for auc, depth in search_rows(sz.search_runs):
        side.seed_run("bench-search", auc, depth)
    return _ms(time.perf_counter_ns() - t0) / sz.search_runs


def case_search(side: Side, sz: Sizes) -> Figures:
    found = side.search("bench-search")
    if found != (want := expected_matches(sz.search_runs)):
        raise RuntimeError(f"{side.name} search_runs found {found} runs, expected {want}")
    return {"median": statistics.median(_timed_ms(lambda: side.search("bench-search"),
                                                  sz.search_reps))}


def case_load(side: Side, sz: Sizes, *, model: str, data: Data) -> Figures:
    import numpy as np

    ref = f"bench-{model}@staging"
    predict = side.load(ref)
    got, want = predict(data.check), data.models[model].predict(data.check)
    if not np.array_equal(np.asarray(got), np.asarray(want)):
        raise RuntimeError(f"{side.name}: {ref} predicts differently from the trained model")
    return {"median": statistics.median(_timed_ms(lambda: side.load(ref), sz.load_reps))}


def case_resolve(side: Side, sz: Sizes) -> Figures:
    if (version := side.resolve("bench-logreg@staging")) != 1:
        raise RuntimeError(f"{side.name}: bench-logreg@staging resolved to {version}, not 1")
    return {"median": statistics.median(
        _timed_ms(lambda: side.resolve("bench-logreg@staging"), sz.resolve_reps))}


# -- data and models --------------------------------------------------------------------

def train(sz: Sizes) -> Data:
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    path = next((p for p in ADULT_PATHS if p.exists()), None)
    if path is None:
        raise FileNotFoundError(f"UCI Adult not found at any of {[str(p) for p in ADULT_PATHS]}")
    df = pd.read_csv(path, header=None, names=ADULT_COLUMNS, nrows=sz.train_rows,
                     skipinitialspace=True)
    x, y = df[NUMERIC].astype("float64"), (df["income"] == ">50K").astype("int64")
    models = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "hgb": HistGradientBoostingClassifier(max_iter=sz.hgb_iter, random_state=0),
    }
    for model in models.values():
        model.fit(x, y)
    return Data(x=x, check=x.head(200), models=models)


def setup(sides: Sequence[Side], sz: Sizes, data: Data) -> dict[str, float]:
    """Seed the search runs and register the models in every system (untimed but for the
    informational per-run creation time)."""
    per_run = {}
    for side in sides:
        per_run[side.name] = seed_search(side, sz)
        for name, model in data.models.items():
            side.register(f"bench-{name}", model, data.x)
    return per_run


# -- driver -----------------------------------------------------------------------------

CaseFn = Callable[[Side, Sizes], Figures]


def cases(data: Data) -> dict[str, CaseFn]:
    return {
        "log_metric": case_log_metric,
        "log_metrics": case_log_metrics,
        "log_batch": case_log_batch,
        "log_params": case_log_params,
        "search_runs": case_search,
        "load_model[logreg]": partial(case_load, model="logreg", data=data),
        "load_model[hgb]": partial(case_load, model="hgb", data=data),
        "resolve_alias": case_resolve,
    }


def measure(fn: CaseFn, sides: Sequence[Side], sz: Sizes,
            repeat: int) -> dict[str, list[Figures]]:
    """Run one case ``repeat`` times per system, alternating which system goes first."""
    samples: dict[str, list[Figures]] = {side.name: [] for side in sides}
    for i in range(repeat):
        for side in sides if i % 2 == 0 else list(reversed(sides)):
            gc.collect()
            samples[side.name].append(fn(side, sz))
    return samples


def ratio(row: Row, airlock: float, mlflow: float) -> float:
    return airlock / mlflow if row.higher_is_better else mlflow / airlock


def met(row: Row, airlock: float) -> bool | None:
    if row.target is None:
        return None
    return airlock >= row.target if row.higher_is_better else airlock <= row.target


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def summarise(row: Row, samples: dict[str, list[Figures]]) -> dict[str, Any]:
    a_runs = [s[row.figure] for s in samples["airlock"]]
    m_runs = [s[row.figure] for s in samples["mlflow"]]
    a, m = statistics.median(a_runs), statistics.median(m_runs)
    return {"case": row.case, "figure": row.figure, "label": row.label, "unit": row.unit,
            "airlock": a, "mlflow": m, "ratio": ratio(row, a, m), "target": row.target,
            "higher_is_better": row.higher_is_better, "met": met(row, a),
            "airlock_runs": a_runs, "mlflow_runs": m_runs}


def run_all(sides: Sequence[Side], sz: Sizes, repeat: int, data: Data) -> list[dict[str, Any]]:
    results = []
    all_rows = rows(sz)
    for case, fn in cases(data).items():
        samples = measure(fn, sides, sz, repeat)
        for row in (r for r in all_rows if r.case == case):
            res = summarise(row, samples)
            results.append(res)
            print(f"case {case} {row.figure}: airlock {fmt(res['airlock'], row.unit)} | "
                  f"mlflow {fmt(res['mlflow'], row.unit)} | ratio {res['ratio']:.1f}x",
                  flush=True)
    return results


# -- report -----------------------------------------------------------------------------

def table(results: Sequence[dict[str, Any]]) -> str:
    head = ("case", "airlock", "mlflow", "ratio", "target", "met?")
    body = []
    for r in results:
        op = "≥" if r["higher_is_better"] else "≤"
        target = "-" if r["target"] is None else f"{op} {fmt(r['target'], r['unit'])}"
        verdict = {True: "yes", False: "NO", None: "-"}[r["met"]]
        body.append((f"{r['label']} [{r['unit']}]", fmt(r["airlock"]), fmt(r["mlflow"]),
                     f"{r['ratio']:,.1f}x", target, verdict))
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                          for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(b) for b in body)])


def environment(sz: Sizes, repeat: int, smoke: bool) -> dict[str, Any]:
    from importlib import metadata

    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "airlock": metadata.version("airlock"),
            "mlflow": metadata.version("mlflow-skinny"),
            "scikit-learn": metadata.version("scikit-learn"),
            "sqlalchemy": metadata.version("sqlalchemy"),
            "repeat": repeat, "smoke": smoke, "sizes": asdict(sz)}


def report(results: list[dict[str, Any]], env: dict[str, Any], per_run: dict[str, float],
           json_path: Path | None) -> None:
    print()
    print(f"airlock {env['airlock']} vs MLflow {env['mlflow']} (SQLite tracking store, "
          f"MlflowClient) | Python {env['python']} | {env['platform']} | {env['cpus']} CPUs")
    smoke = " (SMOKE: sizes too small to mean anything)" if env["smoke"] else ""
    print(f"median of {env['repeat']} repeats{smoke}; ratio = how many times faster airlock is")
    print(table(results))
    print(f"info (setup of search_runs, 1 sample): create a run + 1 param + 1 metric + end: "
          f"airlock {fmt(per_run['airlock'], 'ms')}/run, mlflow {fmt(per_run['mlflow'], 'ms')}/run")
    if json_path is not None:
        doc = {"environment": env, "setup_ms_per_run": per_run, "results": results}
        json_path.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {json_path}")


# -- entry point ------------------------------------------------------------------------

def quiet_mlflow() -> None:
    """Silence MLflow's chatter (INFO logs, deprecation notices, telemetry), not its errors."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"mlflow(\.|$)")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="measure each case N times and report the median (default 5; "
                        "1 with --smoke)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the results as JSON to PATH")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, to check the benchmark works (timings meaningless)")
    args = p.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sz = SMOKE if args.smoke else FULL
    repeat = args.repeat or (1 if args.smoke else 5)
    quiet_mlflow()
    with tempfile.TemporaryDirectory(prefix="airlock-bench-") as tmp:
        sides: list[Side] = [AirlockSide(Path(tmp) / "airlock"), MlflowSide(Path(tmp) / "mlflow")]
        try:
            data = train(sz)
            per_run = setup(sides, sz, data)
            gc.collect()
            gc.freeze()  # imports and setup go to the permanent generation: cheap collections
            results = run_all(sides, sz, repeat, data)
        finally:
            for side in sides:
                side.close()
    report(results, environment(sz, repeat, args.smoke), per_run, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
