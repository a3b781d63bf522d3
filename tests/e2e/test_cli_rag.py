"""`airlock rag eval` as a user drives it, in a subprocess, on a registered pyfunc retriever
(tests/integration/rag_toy.py): JSON and table output, the evaluation stored and gated on
``ci_low`` by `airlock gate`, a protected `kb@production` promoted through it (refused for
a failing policy), the LLM judge on a loopback OpenAI-compatible server with its cache and
run-to-run variance, the HTML report rendered in headless Chromium, and one-line errors
(exit 2) for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.integration import rag_toy
from tests.integration.test_rag_eval import CASES, write_jsonl

import airlock
from airlock.llm import MSG_ANSWER_ID, MSG_BAD_K, MSG_NO_QUERY
from airlock.store import close_stores

from .test_cli import one_line_error

ROOT = Path(__file__).resolve().parents[2]
TOY = "tests.integration.rag_toy"
CHROMIUM = "/usr/bin/chromium"


def rag(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home), "COLUMNS": "80",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    env.pop("AIRLOCK_STORE_URI", None)
    return subprocess.run([sys.executable, "-m", "airlock", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=180, check=False)


@pytest.fixture
def kb(airlock_home: Path, tmp_path: Path) -> Iterator[Path]:
    airlock.register_model("kb", rag_toy.retrieve)
    close_stores()
    write_jsonl(tmp_path / "cases.jsonl", CASES)
    yield tmp_path


def test_eval_gate_protect_promote(airlock_home: Path, kb: Path) -> None:
    res = rag("rag", "eval", "--data", "cases.jsonl", "--retriever", "kb@1", "--k", "1,5",
              "--model", f"python:{TOY}:answer", "--embed", f"python:{TOY}:embed",
              "--n-boot", "300", "--json", home=airlock_home, cwd=kb)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["stored"] and out["task"] == "rag" and out["model"]["ref"] == "kb@1"
    assert out["ks"] == [1, 5] and len(out["cases"]) == len(CASES)
    moon = next(c for c in out["cases"] if c["id"] == "moon")
    assert moon["unsupported"] == ["The moon is made of green cheese."]
    low = out["overall"]["ndcg@5"]["ci_low"]
    (kb / "pass.yaml").write_text(f"name: kb-gate\nrules:\n"
                                  f"  - {{metric: ndcg@5, min: {low - 0.01}, use: ci_low}}\n")
    (kb / "fail.yaml").write_text(f"name: kb-strict\nrules:\n"
                                  f"  - {{metric: ndcg@5, min: {low + 0.01}, use: ci_low}}\n"
                                  f"  - {{metric: hit_rate@1, min: 0.1}}\n")
    table = rag("rag", "eval", "--data", "cases.jsonl", "--retriever", "kb@1", "--k", "1,5",
                "--model", f"python:{TOY}:answer", "--embed", f"python:{TOY}:embed",
                "--n-boot", "300", "--policy", "fail.yaml", home=airlock_home, cwd=kb)
    assert table.returncode == 1, table.stderr  # the gate failed
    assert "already stored" in table.stdout and "gate: FAILED" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines()), table.stdout
    assert "ndcg@5" in table.stdout and "groundedness" in table.stdout
    gated = rag("gate", out["id"], "--policy", "pass.yaml", "--json", home=airlock_home, cwd=kb)
    assert gated.returncode == 0, gated.stderr
    assert json.loads(gated.stdout)["passed"] is True
    strict = rag("rag", "protect", "kb", "production", "--policy", "fail.yaml",
                 home=airlock_home, cwd=kb)
    assert strict.returncode == 0, strict.stderr
    refused = rag("promote", "kb@1", "--to", "production", home=airlock_home, cwd=kb)
    assert "failed policy 'kb-strict'" in one_line_error(refused, 1)
    assert rag("rag", "protect", "kb", "production", "--policy", "pass.yaml", "--replace",
               home=airlock_home, cwd=kb).returncode == 0
    promoted = rag("promote", "kb@1", "--to", "production", "--json", home=airlock_home,
                   cwd=kb)
    assert promoted.returncode == 0, promoted.stderr
    assert json.loads(promoted.stdout)["decision"] == json.loads(gated.stdout)["id"]
    assert airlock.get_model_version("kb@production").version == 1


class Judge(BaseHTTPRequestHandler):
    """An OpenAI-compatible judge: replies 4, 5, 4, 5, ... in the order it is asked."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Judge.calls.append(body)
        data = json.dumps({"choices": [{"message": {
            "role": "assistant", "content": "5" if len(Judge.calls) % 2 == 0 else "4"}}]
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def judge_url() -> Iterator[str]:
    Judge.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_llm_judge_cached_with_variance(airlock_home: Path, kb: Path, judge_url: str) -> None:
    args = ["rag", "eval", "--data", "cases.jsonl", "--retriever", "kb@1", "--model",
            f"python:{TOY}:answer", "--judge", judge_url, "--judge-model-name", "grader",
            "--judge-repeat", "2", "--n-boot", "50", "--json"]
    first = rag(*args, home=airlock_home, cwd=kb)
    assert first.returncode == 0, first.stderr
    judge = json.loads(first.stdout)["judge"]
    assert len(Judge.calls) == 2 * len(CASES) and judge["calls"] == 2 * len(CASES)
    assert Judge.calls[0]["model"] == "grader"
    assert "QUESTION:\nWhat is the capital of France?" in \
        Judge.calls[0]["messages"][0]["content"]
    assert judge["repeats"] == 2 and judge["cached"] == 0
    # replies alternate 4, 5: each case's two scores are 0.75 and 1.0 in some order
    assert judge["mean_case_std"] == pytest.approx(0.125)
    assert judge["std_between_repeats"] is not None
    score = json.loads(first.stdout)["overall"]["judge_score"]["value"]
    assert score == pytest.approx(0.875)
    again = rag(*args, home=airlock_home, cwd=kb)
    assert again.returncode == 0, again.stderr
    assert len(Judge.calls) == 2 * len(CASES)  # every reply came from the cache
    assert json.loads(again.stdout)["judge"]["cached"] == 2 * len(CASES)
    assert json.loads(again.stdout)["overall"] == json.loads(first.stdout)["overall"]


def test_bad_input_is_one_line_exit_2(airlock_home: Path, kb: Path) -> None:
    base = ["rag", "eval", "--retriever", "kb@1"]
    assert "not found" in one_line_error(rag("rag", "eval", "--data", "cases.jsonl",
                                             "--retriever", "nope@1", home=airlock_home,
                                             cwd=kb))
    write_jsonl(kb / "noquery.jsonl", [CASES[0], {"relevant": ["paris.md"]}])
    assert one_line_error(rag(*base, "--data", "noquery.jsonl", home=airlock_home, cwd=kb)) \
        == "error: " + MSG_NO_QUERY.format(where="noquery.jsonl line 2")
    for bad in ("1,x", "0", "5,,10"):
        assert one_line_error(rag(*base, "--data", "cases.jsonl", "--k", bad,
                                  home=airlock_home, cwd=kb)) == \
            "error: " + MSG_BAD_K.format(got=bad)
    write_jsonl(kb / "answers.jsonl", [{"id": "fr", "answer": "Paris"},
                                       {"id": "ghost", "answer": "Boo"}])
    assert one_line_error(rag(*base, "--data", "cases.jsonl", "--answers", "answers.jsonl",
                              home=airlock_home, cwd=kb)) == \
        "error: " + MSG_ANSWER_ID.format(where="answers.jsonl line 2", id="ghost")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")
def test_report_renders_in_chromium(airlock_home: Path, kb: Path) -> None:
    from playwright.sync_api import sync_playwright

    res = rag("rag", "eval", "--data", "cases.jsonl", "--retriever", "kb@1", "--model",
              f"python:{TOY}:answer", "--embed", f"python:{TOY}:embed", "--n-boot", "100",
              "--report", "rag.html", home=airlock_home, cwd=kb)
    assert res.returncode == 0, res.stderr
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((kb / "rag.html").as_uri())
        assert page.locator("h1").inner_text() == "RAG evaluation: kb@1"
        worst = page.locator("h2", has_text="Worst").locator("xpath=following::table[1]")
        first_row = worst.locator("tbody tr").first.inner_text()
        assert "moon" in first_row and "green cheese" in first_row
        page.screenshot(path=str(kb / "rag.png"), full_page=True)
        browser.close()
    assert requests == [(kb / "rag.html").as_uri()]
    assert (kb / "rag.png").stat().st_size > 10_000
