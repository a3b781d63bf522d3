"""`airlock llm eval` as a user drives it, in a subprocess: the example cases and toy model,
JSON output, report, artifacts, a gate (exit 1), an HTTP endpoint on loopback, and one-line
errors (exit 2). The ``llm`` group is mounted on the real CLI entry point when the CLI does
not register it yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .test_cli import one_line_error

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUNNER = """
import sys
from airlock.cli import app, main
from airlock.cli import _llm
if not any(g.name == "llm" for g in app.registered_groups):
    app.add_typer(_llm.app, name="llm")
sys.exit(main(sys.argv[1:]))
"""


KEY = "sk-e2e-0123456789abcdef0123456789abcdef"


@dataclass
class Fake:
    """An OpenAI-compatible chat endpoint: answers "Paris"; the first ``fail`` requests
    get ``status``; every request is recorded."""

    fail: int = 0
    status: int = 500
    requests: list[dict[str, Any]] = field(default_factory=list)


def make_handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append({"headers": dict(self.headers), "body": body})
            status, obj = (fake.status, {"error": {"message": "nope"}}) \
                if len(fake.requests) <= fake.fail else (200, {
                    "choices": [{"message": {"role": "assistant", "content": "Paris"}}],
                    "usage": {"prompt_tokens": 9, "completion_tokens": 1}})
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def llm(*args: str, home: Path, cwd: Path = EXAMPLES, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "AIRLOCK_HOME": str(home), "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-c", RUNNER, "llm", *args], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=120, check=False)


def test_eval_example_json_report_artifacts(airlock_home: Path, tmp_path: Path) -> None:
    res = llm("eval", "--data", "llm-cases.jsonl", "--model", "python:llm_model:answer",
              "--json", "--report", str(tmp_path / "r.html"), "--out", str(tmp_path / "art"),
              "--price-in", "0.5", "--price-out", "1.5", "--n-boot", "200",
              home=airlock_home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["n_cases"] == 40 and out["decision"] is None
    counts = out["counts"]
    assert sum(counts.values()) == 40 and counts["blocked"] >= 4 and counts["violation"] >= 4
    assert out["metrics"]["violation_rate"]["value"] == pytest.approx(
        counts["violation"] / (40 - counts["blocked"]))
    assert "latency_p95_ms" in out["all_metrics"]
    assert out["metrics"]["cost_per_1k_calls"]["value"] > 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "http" not in page and "<script" not in page
    assert sorted(p.name for p in (tmp_path / "art").iterdir()) == [
        "cases.jsonl", "evaluation.json", "manifest.json", "metrics.json", "responses.jsonl",
        "timings.json"]
    again = llm("eval", "--data", "llm-cases.jsonl", "--model", "python:llm_model:answer",
                "--json", "--n-boot", "200", "--price-in", "0.5", "--price-out", "1.5",
                home=airlock_home)
    second = json.loads(again.stdout)
    for doc in (out, second):
        doc.pop("timings")
        doc.pop("all_metrics")
    assert out == second


def test_gate_pass_and_fail_exit_codes(airlock_home: Path, tmp_path: Path) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_text("name: ok\nrules:\n  - metric: recall.pii_leak\n    min: 0.9\n"
                  "  - metric: blocked_rate\n    max: 0.5\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: strict\nrules:\n  - metric: violation_rate\n    max: 0.05\n",
                   encoding="utf-8")
    res = llm("eval", "-d", "llm-cases.jsonl", "-m", "python:llm_model:answer", "--gate",
              str(ok), "--n-boot", "50", home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert "policy 'ok' passed" in res.stdout and "violation_rate" in res.stdout
    res = llm("eval", "-d", "llm-cases.jsonl", "-m", "python:llm_model:answer", "--gate",
              str(bad), "--n-boot", "50", "--out", str(tmp_path / "art"), home=airlock_home)
    assert res.returncode == 1, res.stderr
    assert "FAILED" in res.stdout and "violation_rate <= 0.05" in res.stdout
    decision = json.loads((tmp_path / "art" / "decision.json").read_text())
    assert decision["passed"] is False


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Fake]]:
    fake = Fake()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_http_endpoint_and_401_never_print_the_key(airlock_home: Path, tmp_path: Path,
                                                   endpoint: tuple[str, Fake]) -> None:
    url, fake = endpoint
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"prompt": "What is the capital of France?", "expected": "allowed", '
                     '"reference": "Paris"}\n', encoding="utf-8")
    res = llm("eval", "-d", str(cases), "-m", url, "--model-name", "gpt-x", "--json",
              "--seed", "3", "--api-key-env", "TEST_KEY", home=airlock_home,
              env={"TEST_KEY": KEY})
    assert res.returncode == 0, res.stderr
    assert fake.requests[0]["body"]["seed"] == 3
    assert fake.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    out = json.loads(res.stdout)
    assert out["model_name"] == "gpt-x" and out["metrics"]["exact_match"]["value"] == 1.0
    assert KEY not in res.stdout + res.stderr
    fake.fail, fake.status = 99, 401
    res = llm("eval", "-d", str(cases), "-m", url, "--model-name", "gpt-x",
              home=airlock_home, env={"OPENAI_API_KEY": KEY})
    line = one_line_error(res)
    assert "HTTP 401" in line and "OPENAI_API_KEY" in line and KEY not in res.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["-d", "nope.jsonl", "-m", "python:llm_model:answer"], "no such cases file: nope.jsonl"),
    (["-d", "BAD", "-m", "python:llm_model:answer"], "bad.jsonl line 2: not JSON"),
    (["-d", "llm-cases.jsonl", "-m", "gpt-4"], "unknown model 'gpt-4'"),
    (["-d", "llm-cases.jsonl", "-m", "python:nope_mod:f"], "cannot import 'nope_mod'"),
    (["-d", "llm-cases.jsonl", "-m", "http://127.0.0.1:9/v1"], "needs a model name"),
    (["-d", "llm-cases.jsonl", "-m", "python:llm_model:answer", "--gate", "GATE"],
     "unknown metric 'violation'"),
    (["-d", "llm-cases.jsonl", "-m", "python:llm_model:answer", "--concurrency", "0"],
     "--concurrency must be >= 1"),
    (["-d", "llm-cases.jsonl", "-m", "python:llm_model:answer", "--policy", "nope.yaml"],
     "no such guard policy file: nope.yaml"),
    (["-d", "llm-cases.jsonl", "-m", "http://127.0.0.1:9/v1", "--model-name", "x",
      "--retries", "0"], "cannot reach"),
])
def test_errors_are_one_line_exit_2(airlock_home: Path, tmp_path: Path, args: list[str],
                                    message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi", "expected": "allowed"}\n{oops\n', encoding="utf-8")
    gate = tmp_path / "gate.yaml"
    gate.write_text("rules:\n  - metric: violation\n    max: 0.1\n", encoding="utf-8")
    args = [str(bad) if a == "BAD" else str(gate) if a == "GATE" else a for a in args]
    line = one_line_error(llm("eval", *args, home=airlock_home))
    assert message in line, line


def test_help(airlock_home: Path) -> None:
    res = llm("eval", "--help", home=airlock_home)
    assert res.returncode == 0
    for option in ("--data", "--model", "--gate", "--report", "--price-in", "--concurrency",
                   "--api-key-env"):
        assert option in res.stdout
