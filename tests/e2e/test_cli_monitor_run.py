"""`airlock monitor run` and `airlock monitor endpoint` as a user drives them: a prediction log
written by the real PredictionLog, rules YAML, a webhook receiver on loopback, the state that
makes a breach alert once, Prometheus gauges, exit codes and one-line errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml

from airlock.predlog import PredictionLog, log_locations, make_batch_records
from airlock.store import close_stores, get_store

from .test_cli import one_line_error
from .test_cli_monitor import monitor

EP = "churn"


def write_log(n: int, *, errors: int, latency: float = 12.0) -> None:
    """``n`` requests over the last minute, the last ``errors`` of them answered 500."""
    uri, spool = log_locations()
    now = int(time.time() * 1000)
    rng = np.random.default_rng(0)
    inputs = pa.table({"tenure": rng.normal(20, 5, n), "plan": rng.choice(["a", "b"], n)})
    outputs = pa.table({"prediction": rng.integers(0, 2, n)})
    with PredictionLog(EP, artifact_uri=uri, spool_dir=spool) as plog:
        plog.append(make_batch_records(
            request_ids=[f"q{i}" for i in range(n)], row_counts=[1] * n,
            ts_ms=(now - 60_000 + np.arange(n) * (60_000 // n)).tolist(),
            latency_ms=[latency] * n, status=[200] * (n - errors) + [500] * errors,
            endpoint=EP, route="primary", model="churn", version=1, inputs=inputs,
            outputs=outputs)).result()


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[Any] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                outer.bodies.append(json.loads(data))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def rules_file(tmp_path: Path, url: str | None, threshold: float = 0.1) -> Path:
    doc: dict[str, Any] = {
        "endpoint": EP, "window": "10m",
        "notify": {"log": True, **({"webhook": {"url": url, "timeout": 5}} if url else {})},
        "rules": [{"name": "errors", "kind": "error_rate", "threshold": threshold},
                  {"name": "p95", "kind": "latency", "threshold_ms": 100},
                  {"name": "fresh", "kind": "freshness", "max_age": "10m"}]}
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_run_once_alerts_once(airlock_home: Path, tmp_path: Path,
                              receiver: Receiver) -> None:
    write_log(50, errors=10)
    get_store()  # the store exists (its first use would print where it was created)
    close_stores()
    rules = rules_file(tmp_path, receiver.url)
    prom = tmp_path / "textfile" / "airlock.prom"
    first = monitor("run", "--rules", str(rules), "--once", "--json", "--prometheus-file",
                    str(prom), home=airlock_home)
    assert first.returncode == 1, first.stderr
    out = json.loads(first.stdout)
    assert out["firing"] == ["errors"]
    errors = out["rules"][0]
    assert errors["value"] == pytest.approx(0.2) and errors["change"] == "firing"
    assert first.stderr.splitlines() == [
        f"alert FIRING: rule errors on endpoint {EP}: value 0.2, threshold 0.1"]
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body == {"rule": "errors", "state": "firing", "value": 0.2, "threshold": 0.1,
                    "endpoint": EP, "at": out["at"],
                    "details": {"kind": "error_rate", "requests": 50, "errors": 10}}
    assert 'airlock_alert_firing{endpoint="churn",kind="error_rate",rule="errors"} 1.0' \
        in prom.read_text()
    second = monitor("run", "--rules", str(rules), "--once", home=airlock_home)
    assert second.returncode == 1 and second.stderr == ""  # still firing, not announced
    assert "FIRING" in second.stdout and len(receiver.bodies) == 1
    states = list((airlock_home / "monitor").glob("alerts-alerts-*.json"))
    assert len(states) == 1
    assert json.loads(states[0].read_text())["rules"]["errors"]["firing"] is True
    relaxed = rules_file(tmp_path, receiver.url, threshold=0.5)  # same file, same state
    third = monitor("run", "--rules", str(relaxed), "--once", "--json", home=airlock_home)
    assert third.returncode == 0, third.stderr
    assert [b["state"] for b in receiver.bodies] == ["firing", "resolved"]
    # each change is in the audit log too, with the webhook's body (for evidence packs)
    changes = get_store().events.list(action="alert.")
    assert [(e.action, e.subject) for e in changes] == [
        ("alert.firing", f"endpoints/{EP}"), ("alert.resolved", f"endpoints/{EP}")]
    assert changes[0].payload == body


def test_run_every_and_quiet_exit(airlock_home: Path, tmp_path: Path) -> None:
    write_log(20, errors=0)
    rules = rules_file(tmp_path, None)
    res = monitor("run", "--rules", str(rules), "--every", "1s", "--max-runs", "2", "--json",
                  home=airlock_home)
    assert res.returncode == 0, res.stderr
    runs = [json.loads(part) for part in res.stdout.replace("}\n{", "}\n\x00{").split("\x00")]
    assert len(runs) == 2 and all(r["firing"] == [] for r in runs)


@pytest.mark.parametrize(("text", "message"), [
    ("endpoint: churn\nrules:\n  - {name: x, kind: latency, threshold_ms: 0}\n",
     "rules[0].threshold_ms: input should be greater than 0, got 0 (line 3)"),
    ("endpoint: churn\nrules:\n  - {name: x, kind: error_rate}\n",
     "rules[0].threshold: required but missing (line 3)"),
    ("rules: [\n", "malformed YAML: "),
])
def test_bad_rules_one_line_error(airlock_home: Path, tmp_path: Path, text: str,
                                  message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    res = monitor("run", "--rules", str(path), "--once", home=airlock_home)
    line = one_line_error(res)
    assert message in line and str(path) in line


def test_run_usage_errors(airlock_home: Path, tmp_path: Path) -> None:
    rules = rules_file(tmp_path, None)
    both = monitor("run", "--rules", str(rules), "--once", "--every", "5m", home=airlock_home)
    assert "either --once or --every" in one_line_error(both)
    bad = monitor("run", "--rules", str(rules), "--every", "soon", home=airlock_home)
    assert "invalid --every 'soon'" in one_line_error(bad)


def test_endpoint_command(airlock_home: Path, tmp_path: Path) -> None:
    write_log(40, errors=4, latency=30.0)
    res = monitor("endpoint", EP, "--window", "1h", "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["totals"]["requests"] == 40 and out["totals"]["error_rate"] == 0.1
    assert out["totals"]["latency_ms"]["p95"] == 30.0
    html = tmp_path / "ep.html"
    text = monitor("endpoint", EP, "--since", "2h", "--report", str(html), home=airlock_home)
    assert text.returncode == 0, text.stderr
    assert "40 requests" in text.stdout and html.exists()
    assert get_store().events.list(action="monitor.") == []  # kept only when asked
    close_stores()
    kept = monitor("endpoint", EP, "--window", "1h", "--record", home=airlock_home)
    assert kept.returncode == 0, kept.stderr
    [check] = get_store().events.list(action="monitor.")
    assert (check.action, check.subject) == ("monitor.checked", f"endpoints/{EP}")
    assert check.payload["versions"] == {"churn@1": 36}  # answered without an error
    assert check.payload["requests"] == 40
    missing = monitor("endpoint", "nobody", home=airlock_home)
    assert "endpoint 'nobody' has no logged predictions" in one_line_error(missing)
    bad = monitor("endpoint", EP, "--window", "0m", home=airlock_home)
    assert "invalid window '0m'" in one_line_error(bad)
