"""`airlock prompts …`, `airlock llm eval --prompt`, `airlock gate` and `airlock promote` on a
protected prompt alias, as a user drives them: subprocesses of the real CLI, an
OpenAI-compatible chat endpoint on loopback, --json shapes, 80-column output, and one-line
errors (exit 2) that leave nothing half-written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import airlock
from airlock.prompts import prompt_history

from .test_cli import one_line_error

AIRLOCK = shutil.which("airlock", path=str(Path(sys.executable).parent)) or "airlock"

GOOD = """\
name: support-answer
description: Short answers from the FAQ.
template: |
  Reply with the city only.
  Q: {{ question }}
variables: {question: str}
model_config: {model: faq-model, temperature: 0.0}
response_format: {type: object, properties: {answer: {type: string}}}
"""
CHATTY = """\
name: support-answer
template:
  - {role: system, content: "Chat freely about {{ topic }}."}
  - {role: user, content: "Q: {{ question }}"}
variables: {question: str, topic: str}
model_config: {model: faq-model, temperature: 0.7}
"""
GATE = "name: answers\nrules:\n  - {metric: token_f1, min: 0.8}\n"
CITIES = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Peru": "Lima"}


def run(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home), "AIRLOCK_ACTOR": "cli-user",
           "COLUMNS": "80"}
    env.pop("AIRLOCK_STORE_URI", None)
    return subprocess.run([AIRLOCK, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False, cwd=cwd)


def ok(res: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    wide = [line for line in res.stdout.splitlines() if len(line) > 80]
    assert not wide, wide
    return res.stdout


def as_json(res: subprocess.CompletedProcess[str], code: int = 0) -> Any:
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    return json.loads(res.stdout)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"good": tmp_path / "good.yaml", "chatty": tmp_path / "chatty.yaml",
           "gate": tmp_path / "gate.yaml", "cases": tmp_path / "cases.jsonl"}
    out["good"].write_text(GOOD)
    out["chatty"].write_text(CHATTY)
    out["gate"].write_text(GATE)
    out["cases"].write_text("".join(json.dumps(
        {"id": c, "question": f"What is the capital of {c}?", "topic": "travel",
         "expected": "allowed", "reference": city}) + "\n" for c, city in CITIES.items()))
    return out


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible chat endpoint: a prompt that asks for "the city only" gets the
    city; any other prompt gets a chatty answer. Every request body is recorded."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            text = "\n".join(m["content"] for m in body["messages"])
            country = next((c for c in CITIES if c in text), "")
            answer = CITIES.get(country, "?") if "the city only" in text else \
                f"Well, {country} has many lovely cities worth a visit."
            data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                        "content": answer}}],
                               "usage": {"prompt_tokens": 12, "completion_tokens": 3}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_every_command_with_json_and_80_columns(airlock_home: Path,
                                                files: dict[str, Path]) -> None:
    home = airlock_home
    first = as_json(run("prompts", "register", str(files["good"]), "--json", home=home))
    assert (first["ref"], first["kind"], first["created"]) == ("support-answer@1", "text", True)
    assert first["variables"] == {"question": "str"}
    assert first["model_config"] == {"model": "faq-model", "temperature": 0.0}
    assert re.fullmatch(r"[0-9a-f]{64}", first["sha256"])
    again = as_json(run("prompts", "register", str(files["good"]), "--json", home=home))
    assert (again["version"], again["sha256"], again["created"]) == (1, first["sha256"], False)
    assert "registered support-answer@2" in ok(run("prompts", "register",
                                                   str(files["chatty"]), home=home))

    assert ok(run("prompts", "alias", "support-answer@1", "staging", home=home)).strip() == \
        "support-answer@staging → 1"
    listed = as_json(run("prompts", "list", "--json", home=home))
    assert [(p["name"], p["latest_version"], p["aliases"]) for p in listed] == [
        ("support-answer", 2, {"staging": 1})]

    shown = as_json(run("prompts", "show", "support-answer@staging", "--json", home=home))
    assert (shown["version"], shown["aliases"], shown["sha256"]) == (1, ["staging"],
                                                                     first["sha256"])
    assert shown["template"] == "Reply with the city only.\nQ: {{ question }}\n"
    versions = as_json(run("prompts", "show", "support-answer", "--json", home=home))
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["kind"] == "chat"
    text = ok(run("prompts", "show", "support-answer@2", home=home))
    assert "[system]" in text and "Chat freely about {{ topic }}." in text
    assert "support-answer@2 (chat)" in text

    diff = as_json(run("prompts", "diff", "support-answer@1", "support-answer@2", "--json",
                       home=home))
    assert diff["same"] is False and "-Reply with the city only." in diff["template"]
    assert {"field": "model_config", "key": "temperature", "a": 0.0, "b": 0.7} in \
        diff["changes"]
    assert {"field": "variables", "key": "topic", "a": None, "b": "str"} in diff["changes"]
    text = ok(run("prompts", "diff", "support-answer@staging", "support-answer@2", home=home))
    assert "+++ support-answer@2" in text and "temperature" in text

    history = as_json(run("prompts", "history", "support-answer", "--json", home=home))
    assert [(h["action"], h["alias"], h["from"], h["to"], h["actor"]) for h in history] == [
        ("alias.set", "staging", None, 1, "cli-user")]
    removed = as_json(run("prompts", "alias", "support-answer", "staging", "--delete",
                          "--json", home=home))
    assert removed == {"name": "support-answer", "alias": "staging", "from": 1, "to": None}
    assert airlock.verify_events().ok


def test_bad_input_is_one_line_and_writes_nothing(airlock_home: Path, files: dict[str, Path],
                                                  tmp_path: Path,
                                                  endpoint: tuple[str, Any]) -> None:
    home = airlock_home
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: p\ntemplate: |\n  Hello\n  {{ who }\nvariables: {who: str}\n")
    assert one_line_error(run("prompts", "register", str(bad), home=home)) == (
        "error: bad.yaml (template at line 2): line 2, column 8 of the template: "
        "unexpected '}'")
    bad.write_text("name: p\ntemplate: \"{{ ''.__class__ }}\"\n")
    assert "the attribute '__class__' is not allowed" in one_line_error(
        run("prompts", "register", str(bad), home=home))
    bad.write_text("name: p\ntemplate: '{{ who }}'\nvariables: {who: text}\n")
    assert "unknown type 'text'" in one_line_error(run("prompts", "register", str(bad),
                                                       home=home))
    assert airlock.list_prompts() == []  # nothing registered

    ok(run("prompts", "register", str(files["good"]), home=home))
    assert one_line_error(run("prompts", "show", "nope@1", home=home)) == \
        "error: prompt not found: nope"
    assert one_line_error(run("prompts", "show", "support-answer@prod", home=home)) == \
        "error: alias not found: support-answer@prod"
    assert "invalid prompt reference" in one_line_error(run("prompts", "show", "a@@b",
                                                            home=home))

    cases = tmp_path / "missing.jsonl"
    cases.write_text(json.dumps({"id": "c1", "question": "Capital of Peru?",
                                 "expected": "allowed"}) + "\n"
                     + json.dumps({"id": "c2", "expected": "allowed"}) + "\n")
    url, seen = endpoint
    before = len(seen)
    line = one_line_error(run("llm", "eval", "--data", str(cases), "--prompt",
                              "support-answer@1", "--model", url, home=home))
    assert line == ("error: missing.jsonl line 2: missing variable 'question' (the prompt "
                    "support-answer@1 needs: question)")
    cases.write_text(json.dumps({"question": 3, "mood": "x", "expected": "allowed"}))
    assert "variable 'question' must be str (got int)" in one_line_error(
        run("llm", "eval", "--data", str(cases), "--prompt", "support-answer@1",
            "--model", url, home=home))
    assert "alias not found: support-answer@prod" in one_line_error(
        run("llm", "eval", "--data", str(cases), "--prompt", "support-answer@prod",
            "--model", url, home=home))
    assert len(seen) == before  # the model was never called
    assert airlock.list_events(action="evaluation.") == []


def test_gate_and_promote_a_protected_prompt_alias(airlock_home: Path,
                                                   files: dict[str, Path],
                                                   endpoint: tuple[str, Any]) -> None:
    home, (url, seen) = airlock_home, endpoint
    ok(run("prompts", "register", str(files["good"]), home=home))
    ok(run("prompts", "register", str(files["chatty"]), home=home))
    protected = as_json(run("prompts", "protect", "support-answer", "production",
                            "--policy", str(files["gate"]), "--json", home=home))
    assert protected["policy"] == "answers" and protected["changed"] is True

    # the chatty version fails the gate: exit 1, the decision recorded beside it
    chatty = as_json(run("llm", "eval", "--data", str(files["cases"]), "--prompt",
                         "support-answer@2", "--model", url, "--gate", str(files["gate"]),
                         "--n-boot", "50", "--json", home=home), code=1)
    assert chatty["prompt"]["ref"] == "support-answer@2"
    assert chatty["model_name"] == "faq-model"  # from the prompt's model_config
    assert chatty["decision"]["passed"] is False
    assert all(r["prompt"]["ref"] == "support-answer@2" and r["prompt"]["sha256"]
               == chatty["prompt"]["sha256"] for r in chatty["cases"])
    assert seen[-1]["messages"][0] == {"role": "system", "content": "Chat freely about travel."}
    line = one_line_error(run("promote", "support-answer@2", "--to", "production",
                              home=home), code=1)
    assert "support-answer@2 failed policy 'answers' protecting support-answer@production" \
        in line
    assert "protected by a policy" in one_line_error(
        run("prompts", "alias", "support-answer@2", "production", home=home), code=1)

    # the short version passes; `airlock gate` decides the stored evaluation again
    good = as_json(run("llm", "eval", "--data", str(files["cases"]), "--prompt",
                       "support-answer@1", "--model", url, "--n-boot", "50", "--json",
                       home=home))
    assert good["all_metrics"]["token_f1"]["value"] == 1.0
    assert [{"role": "user", "content": "Reply with the city only.\nQ: What is the capital "
             "of Peru?\n"}] in [r["messages"] for r in seen[-len(CITIES):]]
    decision = as_json(run("gate", good["id"], "--policy", str(files["gate"]), "--json",
                           home=home))
    assert decision["passed"] is True and decision["evaluation"] == good["id"]
    assert "PASSED" in ok(run("gate", good["id"], "--policy", str(files["gate"]), home=home))
    moved = as_json(run("promote", "support-answer@1", "--to", "production", "--json",
                        home=home))
    assert (moved["to"], moved["decision"], moved["protected"]) == (1, decision["id"], True)
    assert airlock.load_prompt("support-answer@production").version == 1

    # an audited override moves it to the failing version
    over = as_json(run("promote", "support-answer@2", "--to", "production", "--override",
                       "--reason", "hotfix for the demo", "--json", home=home))
    assert over["override"]["reason"] == "hotfix for the demo"
    history = prompt_history("support-answer")
    assert [(h.action, h.payload.get("to")) for h in history] == [
        ("alias.protected", None), ("alias.set", 1), ("alias.moved", 2)]
    assert history[1].payload["decision"] == decision["id"]
    assert "override: hotfix for the demo" in ok(run("prompts", "history", "support-answer",
                                                     home=home))
    stored = airlock.list_events(action="evaluation.created")
    assert [(e.subject, e.payload["evaluation"]) for e in stored] == [
        ("prompts/support-answer", chatty["id"]), ("prompts/support-answer", good["id"])]
    from airlock.store import get_store

    assert get_store().evaluations.get(good["id"])["prompt"]["sha256"] == \
        good["prompt"]["sha256"]
    assert airlock.verify_events().ok
