"""Running the cases: the input guard on every case, the model on the cases it lets through
(``concurrency`` calls at a time), then the output guard on every answer. Errors name the
case."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airlock.errors import AirlockError, ModelUnavailable
from airlock.guard import Finding, Guard, Verdict

from ._cases import messages_of
from ._client import Answer, ChatModel, Messages

__all__ = ["CaseRun", "run_cases"]

_RANK = {"block": 3, "redact": 2, "flag": 1}


@dataclass
class CaseRun:
    """What one case produced (before measuring)."""

    case: dict[str, Any]
    messages: Messages
    prompt: str | None
    input_findings: list[Finding]
    input_action: str
    answer: Answer | None = None
    output: Verdict | None = None
    latency_ms: float | None = None
    guard_ms: float = 0.0


def _check_input(guard: Guard, case: dict[str, Any]) -> CaseRun:
    """The input guard on every non-system message; ``redact`` findings are redacted
    before the model sees the text."""
    messages = messages_of(case["prompt"], case["system"], case["messages"])
    findings: list[Finding] = []
    actions: list[str] = []
    guard_ms = 0.0
    for i, msg in enumerate(messages):
        if msg["role"] == "system":
            continue
        try:
            verdict = guard.check(msg["content"], "input")
        except AirlockError as exc:
            raise type(exc)(f"case {case['id']}: {exc}") from None
        guard_ms += verdict.latency_ms
        findings += verdict.findings
        actions.append(verdict.action)
        if verdict.action == "redact":
            messages[i] = {**msg, "content": verdict.redacted}
    action = max(actions, key=lambda a: _RANK.get(a, 0), default="allow")
    prompt = case["prompt"] if case["messages"] is None and not case["system"] else None
    if prompt is not None:
        prompt = messages[-1]["content"]
    return CaseRun(case, messages, prompt, findings, action, guard_ms=guard_ms)


def _call(model: ChatModel, run: CaseRun) -> tuple[Answer, float]:
    start = time.perf_counter()
    try:
        answer = model(run.prompt, run.messages)
    except AirlockError as exc:
        raise type(exc)(f"case {run.case['id']}: {exc}") from None
    except Exception as exc:
        raise ModelUnavailable(f"case {run.case['id']}: the model raised "
                               f"{type(exc).__name__}: {exc}") from None
    return answer, (time.perf_counter() - start) * 1000.0


def run_cases(guard: Guard, model: ChatModel, cases: Sequence[dict[str, Any]],
              concurrency: int) -> list[CaseRun]:
    """Every case through the input guard, the model (unless blocked) and the output
    guard, in case order."""
    runs = [_check_input(guard, c) for c in cases]
    todo = [r for r in runs if r.input_action != "block"]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        try:
            answers = list(pool.map(lambda r: _call(model, r), todo))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    for run, (answer, ms) in zip(todo, answers, strict=True):
        run.answer, run.latency_ms = answer, ms
        try:
            run.output = guard.check(answer.text, "output")
        except AirlockError as exc:
            raise type(exc)(f"case {run.case['id']}: the answer: {exc}") from None
        run.guard_ms += run.output.latency_ms
    return runs
