"""Models and traffic for the rollout tests: a candidate that is always wrong, and clients
that send real requests (and their true labels through /v1/feedback) to a real server."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_ids = itertools.count()


def log_requests(endpoint: str, route: str, n: int, lo_ms: int, hi_ms: int, *, version: int,
                 status: int = 200, latency_ms: float = 5.0, error_code: str | None = None,
                 ages: Any = None) -> None:
    """``n`` one-row requests of ``route`` (answered by ``endpoint@version``, a model of the
    endpoint's name) spread over [lo_ms, hi_ms), written to the store's prediction log with
    the log's own writer."""
    import pyarrow as pa

    from airlock.predlog import PredictionLog, log_locations, make_records

    uri, spool = log_locations()
    ts = np.linspace(lo_ms, hi_ms - 1, n).astype(np.int64)
    rng = np.random.default_rng(len(route) + n)
    age = ages if ages is not None else rng.normal(40, 10, n)
    tables = [make_records(
        request_id=f"r{next(_ids)}", ts_ms=int(t), endpoint=endpoint, route=route,
        model=endpoint, version=version, status=status, latency_ms=latency_ms,
        inputs=pa.table({"age": [float(age[i])]}),
        outputs=pa.table({"prediction": [1]}) if status < 400 else None,
        error_code=error_code, error=None if error_code is None else "blocked")
        for i, t in enumerate(ts)]
    with PredictionLog(endpoint, spool_dir=spool, artifact_uri=uri) as plog:
        plog.append(pa.concat_tables(tables)).result()


def always_one(df: Any) -> dict[str, Any]:
    """A candidate that answers fast and wrongly: '>50K' for everybody (~24 % right)."""
    return {"prediction": np.ones(len(df), dtype=np.int64)}


@contextlib.contextmanager
def traffic(url: str, rows: list[list[Any]], columns: list[str], labels: list[int], *,
            feedback: bool = False, clients: int = 2) -> Iterator[dict[str, Any]]:
    """Clients posting one-row requests without pause until the block ends (with
    ``feedback``, each request's true label follows in batches through /v1/feedback).
    Yields counters: ``sent``, ``routes`` (route -> answers), ``statuses``, ``errors``
    (transport failures)."""
    import httpx

    stats: dict[str, Any] = {"sent": 0, "routes": {}, "statuses": {}, "errors": []}
    lock = threading.Lock()
    stop = threading.Event()

    def client(k: int) -> None:
        pending: list[dict[str, Any]] = []
        with httpx.Client(timeout=30) as c:
            for i in itertools.count():
                if stop.is_set():
                    break
                j = (i * clients + k) % len(rows)
                rid = f"c{k}-{i}"
                try:
                    r = c.post(f"{url}/invocations", headers={"X-Request-Id": rid},
                               json={"dataframe_split": {"columns": columns,
                                                         "data": [rows[j]]}})
                except httpx.TransportError as exc:
                    with lock:
                        stats["errors"].append(repr(exc))
                    continue
                route = r.headers.get("x-airlock-route", "-")
                with lock:
                    stats["sent"] += 1
                    stats["routes"][route] = stats["routes"].get(route, 0) + 1
                    stats["statuses"][r.status_code] = stats["statuses"].get(
                        r.status_code, 0) + 1
                if feedback:
                    pending.append({"request_id": rid, "label": labels[j]})
                    if len(pending) >= 20:
                        c.post(f"{url}/v1/feedback", json={"items": pending})
                        pending = []

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    try:
        yield stats
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)


@contextlib.contextmanager
def serve_process(config: Path, logs: Path, *, admin_token: str | None = None) -> Iterator[str]:
    """``python -m airlock serve --config CONFIG`` with its output in files under ``logs``;
    ``admin_token`` is given role viewer in ``AIRLOCK_TOKENS`` (the admin API takes only
    those tokens). Yields its URL once ready, stops it after."""
    from tests.integration.serving_helpers import serving_process

    env = {"AIRLOCK_TOKENS": f"rollout-test:viewer={admin_token}"} if admin_token else None
    with serving_process("--config", str(config), env=env, ready_timeout=120,
                         logs=logs) as (url, _proc):
        yield url
