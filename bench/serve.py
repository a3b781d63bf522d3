#!/usr/bin/env python
"""airlock serve vs ``mlflow models serve``: the same model, the same load, one run.

    python bench/serve.py [--model adult|breast-cancer] [--duration S] [--repeats N]
                          [--workers N] [--loadgen auto|wrk|python] [--concurrency 16,64]
                          [--rows 1,100] [--servers mlflow,airlock,airlock-nobatch]
                          [--quick] [--json PATH]

The model (``--model``): ``adult`` (the default), scikit-learn
``HistGradientBoostingClassifier`` behind a ``ColumnTransformer`` (one-hot for the categorical
columns, numeric passed through) fitted on UCI Adult (examples/data/adult.data.gz, cleaned as
examples/demo.py does); or ``breast-cancer``, ``StandardScaler`` + ``LogisticRegression`` on
the Wisconsin breast-cancer data that ships with scikit-learn (30 numeric columns; the last
169 rows are the test rows). The SAME fitted pipeline is registered in a temporary airlock
store (``AIRLOCK_HOME``; alias ``production``) and saved as an MLflow model folder (skops,
trusting exactly the types the model holds).

Servers, each a subprocess on a free loopback port, started one at a time and stopped
(SIGTERM to its process group, SIGKILL after a timeout) before the next one starts:
``mlflow models serve -m DIR --env-manager local -w W`` (MLflow's default is one uvicorn
worker), ``airlock serve adult-income@production --workers W`` with micro-batching on, and
the same with ``--no-batching``. Before any timing each server scores the same 100 test rows
and must answer the pipeline's own ``predict`` (and, where it returns them, ``predict_proba``).

Load: a closed loop at concurrency 16 and 64 with 1-row and 100-row bodies of real Adult test
rows in MLflow's ``dataframe_split`` format, POSTed to ``/invocations`` -- the identical bytes
for every server; plus airlock's Open Inference Protocol v2 ``/v2/models/adult-income/infer``
(one named tensor per column) at concurrency 16 with 1 row. The generator is ``wrk`` (C; on a
2-core machine the generator competes with the server for the cores, so a cheap one matters),
else a pure-Python generator (bench/_loadgen.py). Each case: a warm-up, then ``--duration``
seconds; with ``--repeats N`` the median of N runs. ``ratio`` = the case's requests/s over
MLflow's for the same concurrency and rows. Target (issue 5): on 1-row requests at least 10x
MLflow's requests/s with p99 <= 20 ms and zero errors.

``--quick``: one 3-second case per server (concurrency 16, 1 row), a smaller model, the Python
generator unless ``--loadgen wrk``; it proves the benchmark works, its figures mean little.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _loadgen import WRK_INSTALL, LoadResult, Target, python_load, wrk_available, wrk_load

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
           "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
           "hours_per_week", "native_country", "income"]
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship",
               "race", "sex", "native_country"]
FEATURES = NUMERIC + CATEGORICAL  # as in examples/demo.py: fnlwgt is a sampling weight
MODEL = "adult-income"  # the registered name, whichever model --model picks
REF = f"{MODEL}@production"
HOST = "127.0.0.1"
SERVERS = ("mlflow", "airlock", "airlock-nobatch")
LABELS = {"mlflow": "mlflow", "airlock": "airlock batching on",
          "airlock-nobatch": "airlock batching off", "airlock-v2": "airlock OIP v2"}
INVOCATIONS = "/invocations"
V2_INFER = f"/v2/models/{MODEL}/infer"
TARGET_RATIO = 10.0
TARGET_P99_MS = 20.0
CHECK_ROWS = 100


class BenchError(Exception):
    """The benchmark cannot go on (a server did not start, answered wrongly…)."""


@dataclass(frozen=True)
class Case:
    server: str  # a key of LABELS
    concurrency: int
    rows: int

    @property
    def label(self) -> str:
        return f"{LABELS[self.server]} c={self.concurrency} rows={self.rows}"


# -- data and model ---------------------------------------------------------------------
def load_split(file: str) -> Any:
    """One Adult file cleaned as examples/demo.py does: whitespace stripped, '?' as null,
    income as 0/1 (the test file's labels end in '.')."""
    import polars as pl

    raw = pl.read_csv(DATA / file, has_header=False, comment_prefix="|",
                      schema=dict.fromkeys(COLUMNS, pl.String))
    df = raw.with_columns(pl.col(c).str.strip_chars() for c in COLUMNS).with_columns(
        pl.when(pl.col(c) == "?").then(None).otherwise(pl.col(c)).alias(c) for c in COLUMNS)
    return (
        df.filter(pl.col("income").is_not_null())
        .with_columns(pl.col(NUMERIC).cast(pl.Int64),
                      (pl.col("income").str.strip_chars_end(".") == ">50K").cast(pl.Int64))
        .select([*FEATURES, "income"])
    )


def breast_cancer() -> tuple[Any, Any]:
    """(train, test) polars frames of scikit-learn's breast-cancer data, label ``income`` (the
    name the rest of the benchmark uses for the label; here 1 = benign)."""
    import polars as pl
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    df = pl.from_pandas(bunch.frame.rename(columns={"target": "income"}))
    return df.head(400), df.tail(df.height - 400)


def train(quick: bool, model: str) -> tuple[Any, Any]:
    """The fitted pipeline and its training features (pandas)."""
    if model == "breast-cancer":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        df = breast_cancer()[0]
        x = df.drop("income").to_pandas()
        pipe = Pipeline([("scale", StandardScaler()),
                         ("clf", LogisticRegression(max_iter=1000))])
        return pipe.fit(x, df["income"].to_numpy()), x
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    df = load_split("adult.data.gz")
    if quick:
        df = df.head(4000)
    x = df.select(FEATURES).to_pandas()
    prep = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ("num", "passthrough", NUMERIC),
    ])
    clf = HistGradientBoostingClassifier(max_iter=30 if quick else 100, random_state=0)
    pipe = Pipeline([("prep", prep), ("clf", clf)]).fit(x, df["income"].to_numpy())
    return pipe, x


def register_airlock(pipe: Any, x: Any) -> int:
    """Register the pipeline in the store ``AIRLOCK_HOME`` names; alias it production. The
    signature comes from the whole training frame (as MLflow's does), so the columns with
    missing values there accept nulls."""
    import airlock

    version = airlock.register_model(MODEL, pipe, input_example=x,
                                     description="bench/serve.py")
    airlock.set_alias(f"{MODEL}@{version.version}", "production")
    return int(version.version)


def save_mlflow(pipe: Any, x: Any, folder: Path) -> Path:
    """The same pipeline as an MLflow model folder (skops, its own types trusted)."""
    import warnings

    import mlflow.sklearn
    import skops.io
    from mlflow.models import infer_signature

    with warnings.catch_warnings():  # MLflow's hint about integer columns and missing values
        warnings.simplefilter("ignore")
        signature = infer_signature(x, pipe.predict_proba(x))
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipe))
    mlflow.sklearn.save_model(pipe, str(folder), signature=signature,
                              serialization_format="skops", skops_trusted_types=trusted,
                              pip_requirements=["scikit-learn"])
    return folder


# -- request bodies ---------------------------------------------------------------------
def split_body(frame: Any) -> bytes:
    """MLflow's ``dataframe_split`` body for a polars frame (nulls as JSON null)."""
    return json.dumps({"dataframe_split": {"columns": list(frame.columns),
                                           "data": [list(r) for r in frame.rows()]}}).encode()


def v2_body(frame: Any) -> bytes:
    """An OIP v2 request: one named tensor per column (BYTES, INT64 or FP64)."""
    import polars as pl

    def datatype(dtype: Any) -> str:
        if dtype.is_integer():
            return "INT64"
        return "FP64" if dtype.is_float() else "BYTES"

    inputs = [{"name": c, "shape": [frame.height], "datatype": datatype(frame.schema[c]),
               "data": frame[c].to_list()} for c in frame.columns]
    assert all(frame[c].null_count() == 0 for c in frame.columns if frame.schema[c] == pl.String)
    return json.dumps({"inputs": inputs}).encode()


def request_rows(test: Any, rows: int) -> Any:
    """The first ``rows`` Adult test rows; a single row is the first one without nulls."""
    if rows == 1:
        return test.drop_nulls().head(1)
    return test.head(rows)


# -- servers ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def child_env(home: Path) -> dict[str, str]:
    """This interpreter's scripts first on PATH (MLflow execs ``uvicorn`` by name)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["AIRLOCK_HOME"] = str(home)
    for var in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI"):
        env.pop(var, None)
    return env


def airlock_command() -> list[str]:
    script = Path(sys.executable).parent / "airlock"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from airlock.cli import _run; sys.exit(_run())"]


def server_command(name: str, port: int, workers: int, mlflow_dir: Path) -> tuple[list[str],
                                                                                  str]:
    """(argv, readiness path) of one server under test."""
    if name == "mlflow":
        return ([sys.executable, "-m", "mlflow", "models", "serve", "-m", str(mlflow_dir),
                 "--env-manager", "local", "-h", HOST, "-p", str(port), "-w", str(workers)],
                "/ping")
    cmd = [*airlock_command(), "serve", REF, "--host", HOST, "--port", str(port),
           "--workers", str(workers)]
    return ([*cmd, "--no-batching"] if name == "airlock-nobatch" else cmd), "/v2/health/ready"


def check_airlock_serve(env: dict[str, str]) -> None:
    proc = subprocess.run([*airlock_command(), "serve", "--help"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    if proc.returncode != 0 or "--no-batching" not in proc.stdout:
        raise BenchError("`airlock serve` is not available here (airlock serve --help: "
                         f"{(proc.stderr or proc.stdout).strip()[-300:]}); run with "
                         "--servers mlflow to measure MLflow alone")


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def get_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM to the server's process group, SIGKILL if it is still there after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    with suppress(ProcessLookupError, PermissionError):  # workers left in its group
        os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def running(name: str, cmd: list[str], ready: str, port: int, env: dict[str, str], log: Path,
            timeout: float) -> Iterator[None]:
    """Start a server in its own session, wait until ``ready`` answers 200, stop it after."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while get_status(f"http://{HOST}:{port}{ready}") != 200:
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode} before it was ready; "
                                 f"the end of its log ({log}):\n{tail(log)}")
            if time.monotonic() > deadline:
                raise BenchError(f"{name} was not ready on {ready} after {timeout:.0f} s; "
                                 f"the end of its log ({log}):\n{tail(log)}")
            time.sleep(0.2)
        yield
    finally:
        stop(proc)


# -- correctness ------------------------------------------------------------------------
def post_json(url: str, body: bytes) -> Any:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise BenchError(f"POST {url}: HTTP {exc.code}: "
                         f"{exc.read()[:500].decode(errors='replace')}") from None


def labels_and_proba(predictions: Any) -> tuple[list[Any], list[float] | None]:
    """Class labels (and P(class 1) where given) from a ``{"predictions": …}`` answer:
    plain labels (MLflow's sklearn flavor: ``predict()``) or records with ``prediction``
    and ``proba_<class>`` (airlock's classifier outputs)."""
    if not isinstance(predictions, list) or not predictions:
        raise BenchError(f"expected a non-empty list of predictions, got {predictions!r:.200}")
    if not isinstance(predictions[0], dict):
        return list(predictions), None
    if "prediction" not in predictions[0]:
        raise BenchError(f"no 'prediction' in the answer's records: {predictions[0]!r:.200}")
    proba = [float(r["proba_1"]) for r in predictions] if "proba_1" in predictions[0] else None
    return [r["prediction"] for r in predictions], proba


def check_predictions(name: str, port: int, body: bytes, expected: Any,
                      expected_proba: Any) -> str:
    """The server's answer for the check rows must be the pipeline's own; returns a note."""
    answer = post_json(f"http://{HOST}:{port}{INVOCATIONS}", body)
    labels, proba = labels_and_proba(answer.get("predictions"))
    want = [int(v) for v in expected]
    if [int(v) for v in labels] != want:
        bad = sum(int(a) != b for a, b in zip(labels, want, strict=False))
        raise BenchError(f"{name} disagrees with the pipeline on {bad} of {len(want)} rows "
                         f"(or answered {len(labels)} rows)")
    if proba is not None:
        worst = max(abs(a - float(b)) for a, b in zip(proba, expected_proba, strict=True))
        if worst > 1e-9:
            raise BenchError(f"{name}'s proba_1 differs from predict_proba by up to {worst:g}")
        return "labels and probabilities equal the pipeline's"
    return "labels equal the pipeline's"


def check_v2(port: int, body: bytes, expected: int) -> None:
    """The OIP v2 request is answered 200 and, where it names a prediction output, right."""
    answer = post_json(f"http://{HOST}:{port}{V2_INFER}", body)
    outputs = {o.get("name"): o.get("data") for o in answer.get("outputs", [])}
    got = outputs.get("prediction")
    if got is not None and [int(v) for v in got] != [expected]:
        raise BenchError(f"airlock OIP v2 answered prediction {got}, the pipeline {expected}")


# -- load -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    duration: float
    warmup: float
    repeats: int
    workers: int
    concurrency: tuple[int, ...]
    rows: tuple[int, ...]
    servers: tuple[str, ...]
    loadgen: str  # wrk | python
    quick: bool
    ready_timeout: float
    model: str = "adult"


def measure(target: Target, concurrency: int, s: Settings) -> LoadResult:
    load = wrk_load if s.loadgen == "wrk" else python_load
    return load(target, concurrency=concurrency, duration=s.duration, warmup=s.warmup)


def median_result(runs: list[LoadResult]) -> dict[str, Any]:
    """The median of each figure over the repeats; errors are summed."""
    med = statistics.median
    return {"requests_per_s": med(r.rps for r in runs), "p50_ms": med(r.p50_ms for r in runs),
            "p90_ms": med(r.p90_ms for r in runs), "p99_ms": med(r.p99_ms for r in runs),
            "errors": sum(r.errors for r in runs), "non_2xx": sum(r.non_2xx for r in runs),
            "socket_errors": sum(r.socket_errors for r in runs),
            "first_error": next((r.first_error for r in runs if r.first_error), None),
            "runs": [r.to_dict() for r in runs]}


def cases_for(server: str, s: Settings) -> list[Case]:
    cases = [Case(server, c, r) for c in s.concurrency for r in s.rows]
    if server == "airlock":
        cases.append(Case("airlock-v2", min(s.concurrency, key=lambda c: abs(c - 16)), 1))
    return cases


def run_server(name: str, s: Settings, bodies: dict[tuple[str, int], bytes],
               oracle: dict[str, Any], mlflow_dir: Path, env: dict[str, str],
               logs: Path) -> tuple[dict[Case, dict[str, Any]], str]:
    """Start one server, check its answers, time its cases, stop it."""
    port = free_port()
    cmd, ready = server_command(name, port, s.workers, mlflow_dir)
    results: dict[Case, dict[str, Any]] = {}
    started = time.perf_counter()
    with running(name, cmd, ready, port, env, logs / f"{name}.log", s.ready_timeout):
        print(f"# {LABELS[name]}: ready on port {port} in {time.perf_counter() - started:.1f} s",
              flush=True)
        note = check_predictions(LABELS[name], port, bodies["check", CHECK_ROWS],
                                 oracle["labels"], oracle["proba"])
        print(f"# {LABELS[name]}: {CHECK_ROWS} test rows scored, {note}", flush=True)
        if name == "airlock":
            check_v2(port, bodies["v2", 1], oracle["one"])
        for case in cases_for(name, s):
            path, key = (V2_INFER, ("v2", 1)) if case.server == "airlock-v2" \
                else (INVOCATIONS, ("split", case.rows))
            target = Target(HOST, port, path, bodies[key])
            runs = [measure(target, case.concurrency, s) for _ in range(s.repeats)]
            results[case] = median_result(runs)
            r = results[case]
            print(f"# {case.label}: {r['requests_per_s']:,.0f} req/s, p99 {r['p99_ms']:.1f} ms, "
                  f"errors {r['errors']}", flush=True)
    return results, note


# -- report -----------------------------------------------------------------------------
def ratio_to_mlflow(case: Case, results: dict[Case, dict[str, Any]]) -> float | None:
    peer = results.get(Case("mlflow", case.concurrency, case.rows))
    if peer is None or peer["requests_per_s"] <= 0:
        return None
    return float(results[case]["requests_per_s"] / peer["requests_per_s"])


def report(results: dict[Case, dict[str, Any]]) -> list[dict[str, Any]]:
    """Print one row per case and the target verdicts; return the rows for --json."""
    rows = []
    for case, r in results.items():
        ratio = ratio_to_mlflow(case, results)
        rows.append({"server": case.server, "label": LABELS[case.server],
                     "concurrency": case.concurrency, "rows": case.rows, "ratio": ratio, **r})
        ratio_text = "n/a" if ratio is None else f"{ratio:.1f}x"
        print(f"case {case.label}: rps {r['requests_per_s']:,.1f} | p50 {r['p50_ms']:.2f} ms "
              f"| p99 {r['p99_ms']:.2f} ms | errors {r['errors']} | ratio {ratio_text}")
        if r["first_error"]:
            print(f"  first error: {r['first_error']}")
    return rows


def verdicts(results: dict[Case, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's target for every airlock 1-row case: ratio >= 10x, p99 <= 20 ms, 0 errors."""
    out = []
    for case, r in results.items():
        if case.server == "mlflow" or case.rows != 1:
            continue
        ratio = ratio_to_mlflow(case, results)
        met = (ratio is not None and ratio >= TARGET_RATIO and r["p99_ms"] <= TARGET_P99_MS
               and r["errors"] == 0)
        ratio_text = "n/a" if ratio is None else f"{ratio:.1f}x"
        print(f"target {case.label}: ratio {ratio_text} (>= {TARGET_RATIO:g}x), p99 "
              f"{r['p99_ms']:.2f} ms (<= {TARGET_P99_MS:g} ms), errors {r['errors']} (0): "
              f"{'PASS' if met else 'MISS'}")
        out.append({"case": case.label, "ratio": ratio, "p99_ms": r["p99_ms"],
                    "errors": r["errors"], "met": met})
    return out


def environment(s: Settings, version: int, load_before: float | None) -> dict[str, Any]:
    from importlib import metadata

    def ver(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "airlock": ver("airlock"), "mlflow": ver("mlflow-skinny"),
            "scikit-learn": ver("scikit-learn"), "loadgen": s.loadgen, "model": s.model,
            "workers": s.workers, "model_version": version,
            "load_average_before": load_before, "load_average_after": load_average()}


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def busy_warning() -> float | None:
    """Other work on the machine takes cores from the server and the generator alike."""
    load = load_average()
    if load is not None and load > 1.0:
        print(f"# warning: the 1-minute load average is {load:.1f} before the run: other "
              "processes compete for the cores and the figures will be lower and noisier",
              flush=True)
    return load


# -- main -------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> tuple[Settings, Path | None]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=None,
                   help="seconds timed per case (default 15; 3 with --quick)")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds of warm-up per case, not timed (default 3; 0.5 with --quick)")
    p.add_argument("--repeats", type=int, default=None,
                   help="median of N runs of each case (default 3; 1 with --quick)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes of each server (default 1, MLflow's default)")
    p.add_argument("--servers", default=",".join(SERVERS),
                   help=f"comma-separated subset of {','.join(SERVERS)}")
    p.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                   help="auto: wrk when installed (python with --quick)")
    p.add_argument("--ready-timeout", type=float, default=180.0,
                   help="seconds a server may take to become ready")
    p.add_argument("--model", choices=("adult", "breast-cancer"), default="adult",
                   help="the pipeline served (see above)")
    p.add_argument("--concurrency", default=None,
                   help="comma-separated connection counts (default 16,64; 16 with --quick)")
    p.add_argument("--rows", default=None,
                   help="comma-separated rows per request (default 1,100; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="one short case per server")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the figures")
    a = p.parse_args(argv)
    servers = tuple(x.strip() for x in a.servers.split(",") if x.strip())
    if not servers or set(servers) - set(SERVERS):
        p.error(f"--servers takes a comma-separated subset of {','.join(SERVERS)}")
    for flag in ("duration", "repeats", "workers"):
        value = getattr(a, flag)
        if value is not None and value <= 0:
            p.error(f"--{flag} must be > 0")
    loadgen = a.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if wrk_available() and not a.quick else "python"
        if not a.quick and loadgen == "python":
            print(f"# {WRK_INSTALL}; using the Python load generator", flush=True)
    elif loadgen == "wrk" and not wrk_available():
        p.error(WRK_INSTALL)
    def numbers(text: str | None, flag: str, default: tuple[int, ...]) -> tuple[int, ...]:
        if text is None:
            return default
        try:
            values = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError:
            values = ()
        if not values or min(values) <= 0:
            p.error(f"--{flag} takes comma-separated positive whole numbers, got {text!r}")
        return values

    s = Settings(duration=a.duration or (3.0 if a.quick else 15.0),
                 warmup=a.warmup if a.warmup is not None else (0.5 if a.quick else 3.0),
                 repeats=a.repeats or (1 if a.quick else 3), workers=a.workers,
                 concurrency=numbers(a.concurrency, "concurrency",
                                     (16,) if a.quick else (16, 64)),
                 rows=numbers(a.rows, "rows", (1,) if a.quick else (1, 100)),
                 servers=servers, loadgen=loadgen, quick=a.quick,
                 ready_timeout=a.ready_timeout, model=a.model)
    return s, a.json


def prepare(s: Settings, tmp: Path) -> tuple[dict[tuple[str, int], bytes], dict[str, Any],
                                              Path, int]:
    """Train, register, save for MLflow; the request bodies and the expected answers."""
    started = time.perf_counter()
    pipe, x = train(s.quick, s.model)
    version = register_airlock(pipe, x)
    mlflow_dir = save_mlflow(pipe, x, tmp / "mlflow-model")
    test = (breast_cancer()[1].drop("income") if s.model == "breast-cancer"
            else load_split("adult.test.gz").select(FEATURES))
    check, one = request_rows(test, CHECK_ROWS), request_rows(test, 1)
    bodies = {("check", CHECK_ROWS): split_body(check), ("v2", 1): v2_body(one),
              **{("split", n): split_body(request_rows(test, n)) for n in s.rows}}
    check_pd = check.to_pandas()
    oracle = {"labels": pipe.predict(check_pd), "proba": pipe.predict_proba(check_pd)[:, 1],
              "one": int(pipe.predict(one.to_pandas())[0])}
    data = "breast-cancer" if s.model == "breast-cancer" else "Adult"
    print(f"# model: {type(pipe[-1]).__name__} pipeline on {len(x):,} {data} rows, registered as "
          f"{MODEL}@{version} (alias production) and saved for MLflow in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    return bodies, oracle, mlflow_dir, version


def run(s: Settings, json_path: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="airlock-bench-serve-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "airlock-home"
        os.environ["AIRLOCK_HOME"] = str(home)  # before airlock reads its settings
        for var in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI"):
            os.environ.pop(var, None)
        env = child_env(home)
        if any(name.startswith("airlock") for name in s.servers):
            check_airlock_serve(env)
        bodies, oracle, mlflow_dir, version = prepare(s, tmp)
        print(f"# load: {s.loadgen}, {s.duration:g} s per case after {s.warmup:g} s warm-up, "
              f"median of {s.repeats}; {s.workers} worker(s) per server; {os.cpu_count()} CPUs",
              flush=True)
        load_before = busy_warning()
        results: dict[Case, dict[str, Any]] = {}
        notes = {}
        for name in s.servers:
            got, notes[name] = run_server(name, s, bodies, oracle, mlflow_dir, env, tmp)
            results.update(got)
        rows = report(results)
        targets = verdicts(results)
        if json_path is not None:
            doc = {"environment": environment(s, version, load_before), "quick": s.quick,
                   "settings": asdict(s),
                   "correctness": notes, "results": rows, "targets": targets}
            json_path.write_text(json.dumps(doc, indent=2, default=str))


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`: the servers stop


def main(argv: Sequence[str] | None = None) -> int:
    settings, json_path = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        run(settings, json_path)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the servers were stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
