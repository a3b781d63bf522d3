"""Shared pieces of the serving tests: Adult models in the test's store, and a real uvicorn
server on a loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import airlock

NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship",
               "race", "sex", "native_country"]
FEATURES = NUMERIC + CATEGORICAL
NAME = "adult-income"


def adult_frame(adult_sample: Any) -> pd.DataFrame:
    return adult_sample.select(FEATURES).to_pandas()


def register_adult(adult_sample: Any, *, versions: int = 2) -> list[int]:
    """Logistic regressions on Adult (different C per version); production → the first."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x = adult_frame(adult_sample)
    y = (adult_sample["income"].to_numpy() == ">50K").astype(int)
    out = []
    for i in range(versions):
        prep = ColumnTransformer([("num", StandardScaler(), NUMERIC),
                                  ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)])
        model = Pipeline([("prep", prep),
                          ("clf", LogisticRegression(C=10.0 ** -(2 * i), max_iter=300))])
        model.fit(x, y)
        out.append(airlock.register_model(NAME, model, input_example=x.head(50)).version)
    airlock.set_alias(f"{NAME}@{out[0]}", "production")
    return out


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def running(config: Any, *, endpoint: Any = None) -> Iterator[str]:
    """Serve ``config`` from a thread; yields the base URL; stops (draining) on exit."""
    import uvicorn

    from airlock.serve import create_app
    from airlock.serve._server import uvicorn_options

    app = create_app(config, endpoint=endpoint)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           **uvicorn_options(config)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def failing_model(df: Any) -> dict[str, Any]:
    """A python-callable model that always breaks (not because of its input)."""
    raise RuntimeError("the model's backend is down")


def slow_model(df: Any) -> dict[str, Any]:
    """A python-callable model slower than any test endpoint's timeout; with
    ``AIRLOCK_TEST_SLOW_MARK`` set, it creates that file once a request is inside it."""
    mark = os.environ.get("AIRLOCK_TEST_SLOW_MARK")
    if mark:
        Path(mark).touch()
    time.sleep(float(os.environ.get("AIRLOCK_TEST_SLOW_S", "1.0")))
    return {"prediction": np.zeros(len(df), dtype=np.int64)}


@contextlib.contextmanager
def serving_process(*args: str, env: dict[str, str] | None = None, ready_timeout: float = 90,
                    logs: Path | None = None) -> Iterator[tuple[str, Any]]:
    """``python -m airlock serve ARGS --port P`` as users run it; yields (URL, process).
    ``logs``: the server's output goes to ``serve.out`` and ``serve.err`` there instead of
    pipes (a failing model logs a traceback per request, and a pipe nobody reads would fill
    up and block the server)."""
    import signal
    import subprocess
    import sys

    import httpx

    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()
    command = [sys.executable, "-m", "airlock", "serve", *args, "--port", str(port)]
    if logs is None:
        proc = subprocess.Popen(command, env={**os.environ, **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    else:
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / "serve.out", "wb") as out, open(logs / "serve.err", "wb") as err:
            proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out,
                                    stderr=err, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    try:
        while True:
            if proc.poll() is not None:
                err = (proc.stderr.read().decode() if proc.stderr else
                       (logs / "serve.err").read_text() if logs else "")
                raise RuntimeError(f"airlock serve exited {proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("airlock serve did not become ready")
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def echo_model(df: Any) -> dict[str, Any]:
    """A toy LLM feature: answers by echoing the prompt, and leaks a contact address."""
    return {"completion": np.array([f"You said: {p}. Mail ops@example.com for more."
                                    for p in df["prompt"]], dtype=object)}


def chat_model(df: Any) -> dict[str, Any]:
    """A toy chat feature: answers with the last user turn of the ``messages`` column (a
    JSON array of {role, content}) and the start of the retrieved ``context``."""
    import json

    out = []
    for messages, context in zip(df["messages"], df["context"], strict=True):
        last = [m["content"] for m in json.loads(messages) if m["role"] == "user"][-1]
        out.append(f"You asked: {last} (context: {str(context)[:40]})")
    return {"completion": np.array(out, dtype=object)}
