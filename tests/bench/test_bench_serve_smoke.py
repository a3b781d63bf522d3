"""The serving benchmark still runs, and its load generators count what they claim to.

``bench/serve.py --quick`` end to end (real servers on 127.0.0.1, no timing asserts, no wrk
needed); bench/_loadgen.py against a small real HTTP server that answers 200 or 503."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "serve.py"
SERVERS = ("mlflow", "airlock batching on", "airlock batching off")


def _loadgen() -> ModuleType:
    name = "airlock_bench_loadgen"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "_loadgen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


class _Handler(BaseHTTPRequestHandler):
    """POST /ok → 200, anything else → 503; keep-alive (HTTP/1.1 with Content-Length)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        status = 200 if self.path == "/ok" else 503
        answer = json.dumps({"bytes": len(body)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_python_loadgen_measures_2xx_and_counts_non_2xx_as_errors(http_server: int) -> None:
    lg = _loadgen()
    ok = lg.python_load(lg.Target("127.0.0.1", http_server, "/ok", b'{"x": 1}'),
                        concurrency=4, duration=0.6, warmup=0.2)
    assert ok.requests > 20 and ok.errors == 0 and ok.first_error is None
    assert ok.rps == pytest.approx(ok.requests / 0.6)
    assert 0 < ok.p50_ms <= ok.p90_ms <= ok.p95_ms <= ok.p99_ms <= ok.max_ms
    bad = lg.python_load(lg.Target("127.0.0.1", http_server, "/bad", b"{}"),
                         concurrency=2, duration=0.4)
    assert bad.requests > 0 and bad.non_2xx == bad.requests == bad.errors
    assert bad.first_error is not None and bad.first_error.startswith("HTTP 503")


def test_python_loadgen_counts_refused_connections_as_socket_errors() -> None:
    lg = _loadgen()
    res = lg.python_load(lg.Target("127.0.0.1", _closed_port(), "/ok", b"{}"),
                         concurrency=2, duration=0.3)
    assert res.requests == 0 and res.socket_errors > 0 and res.errors == res.socket_errors
    assert "ConnectionRefusedError" in (res.first_error or "")


def test_percentile_is_nearest_rank() -> None:
    lg = _loadgen()
    values = [float(v) for v in range(1, 101)]
    assert [lg.percentile(values, q) for q in (50, 90, 99, 100)] == [50.0, 90.0, 99.0, 100.0]
    assert lg.percentile([7.0], 99) == 7.0


def test_wrk_loadgen_parses_its_summary(http_server: int) -> None:
    lg = _loadgen()
    if lg.wrk_available() is None:
        pytest.skip(lg.WRK_INSTALL)
    ok = lg.wrk_load(lg.Target("127.0.0.1", http_server, "/ok", b'{"x": 1}'),
                     concurrency=2, duration=1)
    assert ok.generator == "wrk" and ok.requests > 20 and ok.errors == 0
    assert 0 < ok.p50_ms <= ok.p90_ms <= ok.p99_ms <= ok.max_ms
    bad = lg.wrk_load(lg.Target("127.0.0.1", http_server, "/bad", b"{}"),
                      concurrency=2, duration=1)
    assert bad.requests > 0 and bad.non_2xx == bad.requests
    assert "a request on its own: HTTP 503" in (bad.first_error or "")


@pytest.mark.slow
def test_serve_benchmark_quick_prints_a_row_per_server_with_zero_errors(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="the benchmark compares with MLflow: "
                                         "pip install -e '.[bench]'")
    pytest.importorskip("sklearn", reason="the benchmark serves a scikit-learn model")
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    for label in SERVERS:
        row = (rf"^case {re.escape(label)} c=16 rows=1: rps [\d,.]+ \| p50 [\d.]+ ms \| "
               rf"p99 [\d.]+ ms \| errors 0 \| ratio [\d.]+x$")
        assert re.search(row, out, re.M), f"no error-free row for {label}:\n{out}"
        assert re.search(rf"^# {re.escape(label)}: 100 test rows scored, .*equal the "
                         r"pipeline's$", out, re.M), out
    assert re.search(r"^target airlock batching on c=16 rows=1: .*: (PASS|MISS)$", out, re.M)
    doc = json.loads(out_json.read_text())
    assert doc["quick"] is True and doc["environment"]["workers"] == 1
    assert {r["label"] for r in doc["results"]} >= set(SERVERS)
    assert all(r["errors"] == 0 and r["requests_per_s"] > 0 for r in doc["results"])
