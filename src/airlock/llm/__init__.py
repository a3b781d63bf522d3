"""LLM features: evaluation of a guard policy + model on labelled prompts, its metric
catalogue, gate and report (retrieval and RAG metrics build on this package).

    from airlock.llm import evaluate_llm, load_llm_gate, save_llm_report
    ev = evaluate_llm("cases.jsonl", "python:my_app:answer", policy="default")
    decision = ev.gate("gate.yaml")          # gates.load_policy(..., catalogue=LLM_METRICS)
    save_llm_report(ev, "llm.html", decision)
    ev.save("artifacts/", decision)          # reproducible files + manifest

A model is a Python function (``python:module:function`` or a callable), an
OpenAI-compatible endpoint (``http(s)://host:port/v1``, :class:`HttpChatModel`) or any
:class:`ChatModel`. ``LLM_METRICS`` names every metric with its direction and meaning; a
gate is a policy of metric rules on them, loaded by the one policy loader.
"""

from __future__ import annotations

from ._cases import OUTCOMES, normalize_label, read_cases
from ._catalogue import LLM_METRICS
from ._client import (
    DEFAULT_KEY_ENV,
    Answer,
    ChatModel,
    HttpChatModel,
    PythonChatModel,
    load_chat_model,
)
from ._evaluate import evaluate_llm
from ._gate import MSG_METRIC_RULES_ONLY, load_llm_gate
from ._page import render_llm_report, save_llm_report
from ._result import LlmEvaluation
from ._retrieval import RetrievalScores, retrieval_scores
from ._scores import exact_match, token_f1

__all__ = ["DEFAULT_KEY_ENV", "LLM_METRICS", "MSG_METRIC_RULES_ONLY", "OUTCOMES", "Answer",
           "ChatModel", "HttpChatModel", "LlmEvaluation", "PythonChatModel", "RetrievalScores",
           "evaluate_llm",
           "exact_match", "load_chat_model", "load_llm_gate", "normalize_label", "read_cases",
           "render_llm_report", "retrieval_scores", "save_llm_report", "token_f1"]
