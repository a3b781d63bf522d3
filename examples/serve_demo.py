"""The serving part of the demo: the production alias behind `airlock serve` with a 10 %
canary, a few hundred real test rows sent as 1-row requests, latency percentiles and the
route split as clients saw them, delayed labels sent back, and the prediction log read."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml
from rich.console import Console
from rich.table import Table

console = Console()
REDACT = {"sex": "hash", "race": "mask"}  # how the log keeps the sensitive columns


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"airlock serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("airlock serve did not become ready")


def _client(port: int, bodies: list[bytes]) -> list[tuple[float, str, str, str]]:
    """One keep-alive connection: (latency ms, route, version, request id) per request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for body in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        ms = (time.perf_counter() - t0) * 1000
        out.append((ms, resp.getheader("X-Airlock-Route", f"error {resp.status}"),
                    resp.getheader("X-Airlock-Model-Version", "?"),
                    resp.getheader("X-Request-Id", "")))
    conn.close()
    return out


@contextlib.contextmanager
def serving(config: dict[str, Any], *, code: Path | None = None,
            output: Path | None = None) -> Iterator[int]:
    """``airlock serve`` of the endpoint ``config`` in its own process; yields its port once
    it is ready, then stops it (SIGTERM drains in-flight requests and closes the log).
    ``code``: a folder the server imports model code from; ``output``: a file for what the
    server prints (else the terminal)."""
    port = _free_port()
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(code), env.get("PYTHONPATH"))
                                            if p)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        path = Path(tmp) / "endpoint.yaml"
        path.write_text(yaml.safe_dump(config))
        sink = stack.enter_context(output.open("wb")) if output is not None else None
        proc = subprocess.Popen([sys.executable, "-m", "airlock", "serve", "--config", str(path),
                                 "--port", str(port)], start_new_session=True, env=env,
                                stdout=sink, stderr=sink)
        try:
            _wait_ready(port, proc)
            yield port
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)


def request_bodies(df: pl.DataFrame, features: list[str]) -> list[bytes]:
    """One 1-row MLflow-scoring request body per row."""
    return [json.dumps({"dataframe_split": {"columns": features, "data": [list(r)]}}).encode()
            for r in df.select(features).iter_rows()]


def send(port: int, bodies: list[bytes], clients: int) -> list[tuple[float, str, str, str]]:
    """The bodies over ``clients`` keep-alive connections at once."""
    shares = [bodies[i::clients] for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        return [a for part in pool.map(lambda b: _client(port, b), shares) for a in part]


def serve_canary(name: str, production: int, canary: int, test_df: pl.DataFrame,
                 features: list[str], rows: int = 400, clients: int = 8) -> None:
    """Serve ``name@production`` with ``name@canary`` on 10 % of the traffic, then stop."""
    config = {"name": name,
              "routes": [{"model": f"{name}@production", "weight": 90},
                         {"model": f"{name}@{canary}", "weight": 10, "name": "canary"}],
              "logging": {"redact": REDACT}}
    sample = test_df.head(rows)
    bodies = request_bodies(sample, features)
    with serving(config) as port:
        console.print(f"serving {name}@production (version {production}) with "
                      f"{name}@{canary} as a 10 % canary on http://127.0.0.1:{port}")
        started = time.perf_counter()
        answers = send(port, bodies, clients)
        seconds = time.perf_counter() - started
        _feedback(port, answers, sample)
    _print(answers, seconds, clients)
    _read_log(name, len(answers))


def _feedback(port: int, answers: list[tuple[float, str, str, str]],
              sample: pl.DataFrame) -> None:
    """The true labels arrive later: send them back by request id."""
    labels = sample["income"].to_list()
    by_id = [{"request_id": rid, "label": int(y)}
             for (_, _, _, rid), y in zip(answers, labels, strict=False)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/v1/feedback", json.dumps({"items": by_id}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    console.print(f"delayed labels sent back: {json.loads(resp.read())['accepted']} accepted")


def _print(answers: list[tuple[float, str, str, str]], seconds: float, clients: int) -> None:
    ms = np.array([a[0] for a in answers])
    table = Table(title=f"{len(answers)} one-row requests from {clients} clients, "
                        f"{len(answers) / seconds:.0f} requests/s")
    for col in ("route", "answered by", "requests", "share"):
        table.add_column(col)
    for (route, version), n in sorted(_count(answers).items()):
        table.add_row(route, version, str(n), f"{n / len(answers):.1%}")
    console.print(table)
    console.print(f"latency as clients saw it: p50 {np.percentile(ms, 50):.1f} ms, "
                  f"p95 {np.percentile(ms, 95):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms")


def _count(answers: list[tuple[float, str, str, str]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for _, route, version, _ in answers:
        out[(route, version)] = out.get((route, version), 0) + 1
    return out


def _read_log(name: str, sent: int) -> None:
    from airlock.predlog import read_prediction_log

    log: Any = read_prediction_log(name)  # the store's log: segments and live spools
    sex = log.column("inputs").combine_chunks().field("sex").to_pylist()[:2]
    console.print(f"prediction log: {log.num_rows} rows for {sent} requests "
                  f"(sex is stored hashed, e.g. {sex})")
