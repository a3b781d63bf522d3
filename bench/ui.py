#!/usr/bin/env python
"""airlock ui vs MLflow's tracking server: the runs list, a run page, an endpoint page.

    python bench/ui.py [--runs N] [--requests N] [--repeat N] [--cache DIR] [--json PATH]
                       [--fill-only] [--smoke]

The same data in both tools: ``--runs`` runs (default 10,000) in one experiment, each with
20 params and 20 metrics of 100 steps, logged to airlock's embedded store (SQLite + local
artifacts) and, with ``MlflowClient.log_batch``, to MLflow's SQLite tracking store. Filling
them is slow (MLflow: about 0.4 s a run), so each store is filled once into ``--cache``
(default ``/tmp/airlock-bench-ui``) and reused while its sizes match. airlock's store also
gets an endpoint's prediction log of ``--requests`` requests (default 1,000,000) over 24
hours, written with the prediction-log writer (``airlock.predlog.PredictionLog``), with
errors, a canary route, feedback labels and drifted inputs in the last hours.

Then both servers run on 127.0.0.1, one process each: ``airlock ui`` and ``mlflow server
--workers 1``, and each case is timed from a client over HTTP (the whole answer read),
``--repeat`` times after a warm-up, reporting the median; the cases compared with each
other are timed in turns (round by round, the first one moving), so that a busy machine
weighs on both tools alike:

- runs list: the first page of 100 runs with metric columns, filtered
  (``metrics.m00 > 0.5 and params.p00 = '3'``) and sorted by a metric
  (``metrics.m01 DESC``): airlock's JSON API and its HTML page against MLflow's
  ``POST /ajax-api/2.0/mlflow/runs/search`` (the call MLflow's UI makes for its table). Both
  must return the same runs in the same order, or the benchmark stops.
- run page: a run with its 20 metric histories: airlock's page and API against MLflow's
  ``runs/get`` plus ``metrics/get-history`` for each metric (what its UI fetches).
- both UIs' runs list in Chromium (informational, when Playwright and Debian's chromium are
  there): a new tab on the same filtered, sorted list until the top run's name shows.
- endpoint page: airlock's endpoint page (1-hour windows: serving figures by status,
  latency percentiles, routes, performance on feedback, input and prediction drift per
  column per window) over the whole log; informational: without drift, and the API.

Targets: runs page ≤ 1 s and ≥ 5x faster than MLflow's search; run page ≤ 300 ms;
endpoint page over 1M requests ≤ 2 s. ``--smoke`` runs tiny sizes in a temporary folder to
prove the benchmark still works; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENDPOINT = "bench-ep"
EXPERIMENT = "bench"
FILTER = "metrics.m00 > 0.5 and params.p00 = '3'"
ORDER = "metrics.m01 DESC"
PAGE = 100
BASE_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: the log's first hour
MLFLOW_MAX_METRICS_PER_BATCH = 1000
SLOT_MS = 300_000  # the log rolls a segment every 5 minutes of its time


@dataclass(frozen=True)
class Sizes:
    runs: int = 10_000
    params: int = 20
    metrics: int = 20
    steps: int = 100
    requests: int = 1_000_000
    hours: int = 24

    def key(self, part: str) -> str:
        if part == "log":
            return f"log-q{self.requests}-h{self.hours}"
        return f"runs-r{self.runs}-p{self.params}-m{self.metrics}-s{self.steps}"


SMOKE = Sizes(runs=60, params=4, metrics=4, steps=10, requests=6_000, hours=3)


# -- data ---------------------------------------------------------------------------------
def run_values(i: int, sz: Sizes) -> tuple[dict[str, str], Any]:
    """Run ``i``'s params and its metric values (metrics x steps), the same in both tools."""
    import numpy as np

    rng = np.random.default_rng(i)
    params = {f"p{j:02d}": str((i * 7 + j * 3) % 10) for j in range(sz.params)}
    drift = np.linspace(0.0, 0.2, sz.steps)
    values = rng.random((sz.metrics, sz.steps)) * 0.8 + drift
    return params, values


@contextlib.contextmanager
def _marker(folder: Path, what: dict[str, Any]) -> Iterator[bool]:
    """Yields True when ``folder`` must be (re)filled; writes the marker once it is."""
    marker = folder / "filled.json"
    if marker.exists() and json.loads(marker.read_text()) == what:
        yield False
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield True
    marker.write_text(json.dumps(what))


def _airlock_env(home: Path) -> None:
    os.environ["AIRLOCK_HOME"] = str(home)
    for var in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI", "AIRLOCK_UI_TOKENS"):
        os.environ.pop(var, None)


def fill_airlock_runs(home: Path, sz: Sizes) -> None:
    import airlock
    from airlock.store import close_stores

    _airlock_env(home)
    start = time.perf_counter()
    for i in range(sz.runs):
        params, values = run_values(i, sz)
        run = airlock.start_run(EXPERIMENT, name=f"run-{i:05d}", params=params)
        run.log_batch([(f"m{k:02d}", float(values[k, s]), s, BASE_MS + s)
                       for k in range(sz.metrics) for s in range(sz.steps)])
        run.end()
        if i and i % 1000 == 0:
            print(f"  airlock: {i:,} runs in {time.perf_counter() - start:.0f} s", flush=True)
    close_stores()


def fill_mlflow(folder: Path, sz: Sizes) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    exp = client.create_experiment(EXPERIMENT, artifact_location=(folder / "art").as_uri())
    start = time.perf_counter()
    for i in range(sz.runs):
        params, values = run_values(i, sz)
        run = client.create_run(exp, run_name=f"run-{i:05d}", start_time=BASE_MS).info.run_id
        client.log_batch(run, params=[Param(k, v) for k, v in params.items()])
        points = [Metric(f"m{k:02d}", float(values[k, s]), BASE_MS + s, s)
                  for k in range(sz.metrics) for s in range(sz.steps)]
        for j in range(0, len(points), MLFLOW_MAX_METRICS_PER_BATCH):
            client.log_batch(run, metrics=points[j:j + MLFLOW_MAX_METRICS_PER_BATCH])
        client.set_terminated(run)
        if i and i % 500 == 0:
            print(f"  mlflow: {i:,} runs in {time.perf_counter() - start:.0f} s", flush=True)


def _frame(rng: Any, n: int, shift: float) -> Any:
    import pyarrow as pa

    return pa.table({f"x{j}": rng.normal(shift if j == 0 else 0.0, 1.0, n) for j in range(5)}
                    | {"segment": rng.choice(["a", "b", "c", "d"], n)})


def _append_slot(plog: Any, labels: Any, rng: Any, first: int, n: int, ts: Any,
                 drifted: bool) -> list[Any]:
    """One slot's requests: answered by the primary or the canary in micro-batches, 1.5 %
    failing one by one (422 before a model, 503 from it), feedback for 10 % of them."""
    import numpy as np
    import pyarrow as pa

    from airlock.predlog import make_batch_records, make_feedback
    from airlock.predlog import make_records as one

    x = _frame(rng, n, 0.8 if drifted else 0.0)
    score = 1 / (1 + np.exp(-x.column("x0").to_numpy()))
    ids = [f"r{first + k:08d}" for k in range(n)]
    canary, failed = rng.random(n) < 0.1, rng.random(n) < 0.015
    latency = rng.lognormal(2.0, 0.5, n)
    pending = []
    for route, version, keep in (("primary", 1, ~canary & ~failed),
                                 ("canary", 2, canary & ~failed)):
        idx = np.flatnonzero(keep)
        out = pa.table({"prediction": (score[idx] > 0.5).astype(np.int64),
                        "proba_1": score[idx]})
        pending.append(plog.append(make_batch_records(
            request_ids=[ids[k] for k in idx], row_counts=[1] * len(idx),
            ts_ms=ts[idx].tolist(), latency_ms=latency[idx].tolist(), status=200,
            endpoint=ENDPOINT, route=route, model="bench-model", version=version,
            inputs=x.take(idx), outputs=out)))
    for k in np.flatnonzero(failed):
        status = 422 if k % 3 else 503
        pending.append(plog.append(one(
            request_id=ids[k], ts_ms=int(ts[k]), endpoint=ENDPOINT, route="primary",
            model="bench-model", version=1, status=status, latency_ms=float(latency[k]),
            inputs=None if status == 422 else x.slice(int(k), 1), outputs=None,
            error_code="InvalidInput" if status == 422 else "ModelUnavailable",
            error="bad input" if status == 422 else "the model failed")))
    fed = np.flatnonzero(~failed & (rng.random(n) < 0.1))
    truth = (rng.random(len(fed)) < score[fed]).astype(int).tolist()
    pending.append(labels.append(make_feedback([ids[k] for k in fed], truth,
                                               [int(t) + 60_000 for t in ts[fed]])))
    return pending


def fill_log(home: Path, sz: Sizes) -> Path:
    """The prediction log of ENDPOINT and a reference profile of its inputs. The log rolls
    into a segment every SLOT_MS of its time, as `airlock serve` rolls one every 300 s."""
    import numpy as np
    import pyarrow as pa

    from airlock.monitor import Profile
    from airlock.predlog import PredictionLog, log_locations

    _airlock_env(home)
    uri, spool = log_locations()
    rng = np.random.default_rng(7)
    home.mkdir(parents=True, exist_ok=True)
    reference = home / "inputs.profile"
    sample = _frame(rng, 50_000, 0.0)
    Profile.from_data(sample).save(reference)
    proba = 1 / (1 + np.exp(-sample.column("x0").to_numpy()))
    Profile.from_data(pa.table({"prediction": (proba > 0.5).astype(np.int64),
                                "proba_1": proba})).save(home / "predictions.profile")
    span = sz.hours * 3_600_000
    drift_from = BASE_MS + span - span // 4  # the last quarter of the log drifts
    every = np.sort(BASE_MS + (np.arange(sz.requests) * span) // sz.requests)
    bounds = np.searchsorted(every, np.arange(BASE_MS, BASE_MS + span + SLOT_MS, SLOT_MS))
    for lo, hi in itertools.pairwise(bounds):
        if hi <= lo:
            continue
        plog = PredictionLog(ENDPOINT, spool_dir=spool, artifact_uri=uri).open()
        labels = PredictionLog(ENDPOINT, spool_dir=spool, artifact_uri=uri,
                               stream="feedback").open()
        for future in _append_slot(plog, labels, rng, int(lo), int(hi - lo), every[lo:hi],
                                   bool(every[lo] >= drift_from)):
            future.result()
        plog.close()  # rolls the slot's spools into segments
        labels.close()
    return reference


def prepare(cache: Path, sz: Sizes, only: str | None = None) -> tuple[Path, Path, Path]:
    """(airlock home, mlflow folder, reference profile), filled once per sizes; ``only``
    fills one part (airlock, mlflow or log: they can fill side by side)."""
    runs_home, mlflow_dir = cache / sz.key("runs") / "airlock", cache / sz.key("runs") / "mlflow"
    log_dir = cache / sz.key("log")
    home = cache / f"home-{sz.key('runs')}-{sz.key('log')}"
    with _marker(runs_home, asdict(sz) | {"part": "airlock"}) \
            if only in (None, "airlock") else contextlib.nullcontext(False) as todo:
        if todo:
            print(f"filling airlock with {sz.runs:,} runs…", flush=True)
            fill_airlock_runs(runs_home, sz)
    with _marker(mlflow_dir, asdict(sz) | {"part": "mlflow"}) \
            if only in (None, "mlflow") else contextlib.nullcontext(False) as todo:
        if todo:
            print(f"filling MLflow with {sz.runs:,} runs (log_batch)…", flush=True)
            fill_mlflow(mlflow_dir, sz)
    with _marker(log_dir, {"requests": sz.requests, "hours": sz.hours, "slot_ms": SLOT_MS,
                           "profiles": 2}) \
            if only in (None, "log") else contextlib.nullcontext(False) as todo:
        if todo:
            print(f"writing a prediction log of {sz.requests:,} requests…", flush=True)
            fill_log(log_dir / "home", sz)
    # the store the UI reads: the runs' database and artifacts next to the log's
    if only is None and not (home / "ready").exists():
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(runs_home, home, ignore=shutil.ignore_patterns("filled.json"))
        shutil.copytree(log_dir / "home" / "artifacts" / "prediction-logs",
                        home / "artifacts" / "prediction-logs")
        (home / "ready").write_text("")
    return home, mlflow_dir, log_dir / "home" / "inputs.profile"


# -- servers ------------------------------------------------------------------------------
def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], ready: str, cwd: Path
           ) -> Iterator[str]:
    """A server process; yields its base URL once ``ready`` answers 200."""
    import httpx

    port = _port()
    url = f"http://127.0.0.1:{port}"
    log = (cwd / f"server-{port}.log").open("w")
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, cwd=cwd, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[:3]} exited: {(cwd / log.name).read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + ready, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[:3]} did not answer in 180 s")
            time.sleep(0.2)  # polling while the server starts
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


# -- timing -------------------------------------------------------------------------------
def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of ``repeat`` calls after one warm-up, and the last result."""
    (ms,), (result,) = interleaved([fn], repeat)
    return ms, result


def interleaved(fns: list[Callable[[], Any]], repeat: int) -> tuple[list[float], list[Any]]:
    """Median milliseconds of each of ``fns`` over ``repeat`` rounds (after one warm-up
    round), each round calling them in turn, the first one moving, so that a busy machine
    weighs on them alike; and each one's last result."""
    results = [fn() for fn in fns]
    times: list[list[float]] = [[] for _ in fns]
    for r in range(repeat):
        for k in range(len(fns)):
            i = (k + r) % len(fns)
            start = time.perf_counter()
            results[i] = fns[i]()
            times[i].append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in times], results


def _get(client: Any, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    r.raise_for_status()
    return r


def measure(airlock_url: str, mlflow_url: str, sz: Sizes, repeat: int) -> dict[str, Any]:
    import httpx

    out: dict[str, Any] = {}
    query = {"experiment": EXPERIMENT, "filter": FILTER, "order_by": ORDER, "per_page": PAGE}
    with httpx.Client(base_url=airlock_url, timeout=120) as al, \
            httpx.Client(base_url=mlflow_url, timeout=300) as ml:
        exp = _get(ml, "/ajax-api/2.0/mlflow/experiments/get-by-name",
                   experiment_name=EXPERIMENT).json()["experiment"]["experiment_id"]
        body = {"experiment_ids": [exp], "filter": FILTER, "order_by": [ORDER],
                "max_results": PAGE}

        def search() -> Any:
            r = ml.post("/ajax-api/2.0/mlflow/runs/search", json=body)
            r.raise_for_status()
            return r.json()

        (out["runs_api"], out["runs_page"], out["mlflow_search"]), (d, page, found) = \
            interleaved([lambda: _get(al, "/api/runs", **query).json(),
                         lambda: _get(al, "/runs", **query).text, search], repeat)
        ours = [r["name"] for r in d["runs"]]
        theirs = [r["info"]["run_name"] for r in found.get("runs", [])]
        if ours != theirs or not ours:
            raise SystemExit(f"the runs differ: airlock {ours[:5]}… vs mlflow {theirs[:5]}…")
        if page.count("<tr data-run=") != len(ours):
            raise SystemExit("airlock's page does not show the API's runs")
        out["runs_matched"], out["runs_total"] = len(ours), d["total"]

        run_id = d["runs"][0]["id"]
        ml_run = found["runs"][0]["info"]["run_id"]

        def mlflow_run() -> int:
            _get(ml, "/ajax-api/2.0/mlflow/runs/get", run_id=ml_run)
            points = 0
            for k in range(sz.metrics):
                points += len(_get(ml, "/ajax-api/2.0/mlflow/metrics/get-history",
                                   run_id=ml_run, metric_key=f"m{k:02d}").json()["metrics"])
            return points

        (out["run_page"], out["run_api"], out["mlflow_run"]), (run_html, _, points) = \
            interleaved([lambda: _get(al, f"/runs/{run_id}").text,
                         lambda: _get(al, f"/api/runs/{run_id}").json(), mlflow_run], repeat)
        if run_html.count("<svg") < sz.metrics:
            raise SystemExit("airlock's run page does not chart every metric")
        if points != sz.metrics * sz.steps:
            raise SystemExit(f"MLflow returned {points} points, not {sz.metrics * sz.steps}")

        ep = f"/endpoints/{ENDPOINT}"
        n = max(1, min(repeat, 5))
        out["endpoint_page"], html = timed(lambda: _get(al, ep).text, n)
        out["endpoint_api"], e = timed(lambda: _get(al, f"/api{ep}").json(), n)
        out["endpoint_page_no_drift"], _ = timed(lambda: _get(al, ep, drift="0").text, n)
        logged = e["report"]["totals"]["requests"]
        if logged != sz.requests or html.count('class="drift-matrix"') != 2:
            raise SystemExit(f"the endpoint page counted {logged:,} requests, not "
                             f"{sz.requests:,} (or drew no drift)")
        out["endpoint_windows"] = len(e["report"]["windows"])
        out["top_run"], out["mlflow_experiment"] = ours[0], exp
    return out


CHROMIUM = "/usr/bin/chromium"


def browser_case(airlock_url: str, mlflow_url: str, exp: str, top: str,
                 repeat: int) -> dict[str, float] | None:
    """Each UI's runs list in Chromium, filtered and sorted the same way: from a new tab
    (scripts and styles already cached) until the top run's name shows. None without
    Chromium or Playwright. Requests off 127.0.0.1 are aborted (none is needed)."""
    from urllib.parse import urlencode, urlsplit

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    ours = f"{airlock_url}/runs?" + urlencode({"experiment": EXPERIMENT, "filter": FILTER,
                                               "order_by": ORDER, "per_page": PAGE})
    key = ORDER.split()[0].split(".", 1)[1]
    theirs = f"{mlflow_url}/#/experiments/{exp}/runs?" + urlencode({
        "searchFilter": FILTER, "orderByKey": f"metrics.`{key}`", "orderByAsc": "false",
        "startTime": "ALL", "lifecycleFilter": "Active", "modelVersionFilter": "All Runs"})
    out: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).hostname
                      == "127.0.0.1" else r.abort())
        def load(target: str) -> None:
            pg = context.new_page()
            pg.goto(target)
            pg.wait_for_selector(f"text={top}", timeout=120_000)
            pg.close()

        (out["airlock_ui"], out["mlflow_ui"]), _ = interleaved(
            [lambda: load(ours), lambda: load(theirs)], repeat)
        browser.close()
    return out


# -- report -------------------------------------------------------------------------------
def report(f: dict[str, Any], sz: Sizes, repeat: int, smoke: bool,
           json_path: Path | None) -> None:
    from importlib import metadata

    def ms(x: float) -> str:
        return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms"

    def met(ok: bool) -> str:
        return "yes" if ok else "NO"

    search = f["mlflow_search"]
    lines = [
        f"case runs_api: airlock {ms(f['runs_api'])} | mlflow search {ms(search)} | ratio "
        f"{search / f['runs_api']:,.1f}x | target <= 1000 ms and >= 5x | met? "
        f"{met(f['runs_api'] <= 1000 and search / f['runs_api'] >= 5)}",
        f"case runs_page: airlock {ms(f['runs_page'])} | mlflow search {ms(search)} | ratio "
        f"{search / f['runs_page']:,.1f}x | target <= 1000 ms and >= 5x | met? "
        f"{met(f['runs_page'] <= 1000 and search / f['runs_page'] >= 5)}",
        f"case run_page: airlock {ms(f['run_page'])} | mlflow get + {sz.metrics} histories "
        f"{ms(f['mlflow_run'])} | ratio {f['mlflow_run'] / f['run_page']:,.1f}x | target "
        f"<= 300 ms | met? {met(f['run_page'] <= 300)}",
        f"case endpoint_page: airlock {ms(f['endpoint_page'])} over {sz.requests:,} requests "
        f"({f['endpoint_windows']} windows) | target <= 2000 ms | met? "
        f"{met(f['endpoint_page'] <= 2000)}",
    ]
    print()
    print(f"airlock {metadata.version('airlock')} (airlock ui) vs MLflow "
          f"{metadata.version('mlflow-skinny')} (mlflow server --workers 1, SQLite) | Python "
          f"{platform.python_version()} | {platform.platform()} | {os.cpu_count()} CPUs")
    smoke_note = " (SMOKE: sizes too small to mean anything)" if smoke else ""
    print(f"{sz.runs:,} runs x {sz.params} params x {sz.metrics} metrics x {sz.steps} steps; "
          f"median of {repeat} repeats{smoke_note}; ratio = how many times faster airlock is")
    print(f"runs list: filter {FILTER!r}, order {ORDER!r}, first page of {PAGE} "
          f"({f['runs_total']:,} match; the same {f['runs_matched']} runs in both)")
    for line in lines:
        print(line)
    if "airlock_ui" in f:
        print(f"case runs_ui_in_chromium: airlock {ms(f['airlock_ui'])} | mlflow ui "
              f"{ms(f['mlflow_ui'])} | ratio {f['mlflow_ui'] / f['airlock_ui']:,.1f}x "
              "(a new tab until the top run shows; informational)")
    else:
        print("case runs_ui_in_chromium: skipped (no Chromium or Playwright, or --no-browser)")
    print(f"info: runs API as JSON {ms(f['runs_api'])}; run API {ms(f['run_api'])}; endpoint "
          f"API {ms(f['endpoint_api'])}; endpoint page without drift "
          f"{ms(f['endpoint_page_no_drift'])}")
    if json_path is not None:
        doc = {"smoke": smoke, "repeat": repeat, "sizes": asdict(sz), "figures_ms": f,
               "filter": FILTER, "order_by": ORDER}
        json_path.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {json_path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=Sizes.runs)
    p.add_argument("--requests", type=int, default=Sizes.requests)
    p.add_argument("--repeat", type=int, default=11)
    p.add_argument("--cache", type=Path, default=Path("/tmp/airlock-bench-ui"))
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--fill-only", action="store_true", help="Fill the cache and stop.")
    p.add_argument("--only", choices=("airlock", "mlflow", "log"), default=None,
                   help="With --fill-only: fill this part only (parts can fill side by side).")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--no-browser", action="store_true",
                   help="Skip timing both UIs' runs list in Chromium.")
    args = p.parse_args(argv)
    sz = SMOKE if args.smoke else Sizes(runs=args.runs, requests=args.requests)
    repeat = 3 if args.smoke else args.repeat
    work = Path(tempfile.mkdtemp(prefix="airlock-bench-ui-"))
    cache = work / "cache" if args.smoke else args.cache
    try:
        os.chdir(work)  # runs record the git state of the working folder: none here
        home, mlflow_dir, reference = prepare(cache, sz, args.only if args.fill_only else None)
        if args.fill_only:
            return 0
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRLOCK_", "MLFLOW_"))} | {"AIRLOCK_HOME": str(home)}
        src = str(ROOT / "src")  # the airlock of this checkout, whatever the folder
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
        ui_cmd = [sys.executable, "-m", "airlock", "ui", "--reference",
                  f"{ENDPOINT}={reference}", "--prediction-reference",
                  f"{ENDPOINT}={reference.with_name('predictions.profile')}", "--refresh", "0"]
        mlflow_cmd = [str(Path(sys.executable).with_name("mlflow")), "server",
                      "--backend-store-uri", f"sqlite:///{mlflow_dir / 'mlflow.db'}",
                      "--default-artifact-root", (mlflow_dir / "art").as_uri(),
                      "--host", "127.0.0.1", "--workers", "1"]
        with server(ui_cmd, env, "/api/session", work) as al, \
                server(mlflow_cmd, env, "/health", work) as ml:
            figures = measure(al, ml, sz, repeat)
            if not args.no_browser:
                found = browser_case(al, ml, figures["mlflow_experiment"], figures["top_run"],
                                     repeat)
                figures.update(found or {})
        report(figures, sz, repeat, args.smoke, args.json)
    finally:
        os.chdir(Path(__file__).resolve().parent)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
