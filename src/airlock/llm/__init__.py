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

A retriever over your documents (chunked, embedded offline by all-MiniLM-L6-v2 on
onnxruntime, indexed by faiss) is a registered version of flavor ``index``::

    from airlock.llm import build_index, query_index
    v = build_index("kb", "docs/", chunk=512, overlap=64)     # -> kb@1
    query_index("kb@1", "how do I serve a model?", k=5)      # [{rank, doc_id, ...}]

RAG evaluation of a registered retriever (``predict(query table) -> (query, rank, doc_id,
chunk_id, score, text)``)::

    from airlock.llm import evaluate_rag, save_rag_report
    ev = evaluate_rag("cases.jsonl", "kb@staging", ks=(1, 5, 10), answers="answers.jsonl",
                      embed=my_embedder)          # stored as an evaluation of task "rag"
    ev.gate("gate.yaml")                          # metric rules on RAG_METRICS
    save_rag_report(ev, "rag.html")

``retrieval_scores`` computes the retrieval metrics of any run against qrels with
trec_eval's conventions (:mod:`._retrieval`), vectorised over all queries.
"""

from __future__ import annotations

from ._cases import OUTCOMES, normalize_label, read_cases
from ._catalogue import LLM_METRICS
from ._chunks import (
    DOC_SUFFIXES,
    MSG_BAD_CHUNKING,
    MSG_CORPUS_COLUMNS,
    MSG_NO_CHUNKS,
    MSG_NO_DOCS,
    MSG_TOO_LARGE,
    MSG_UNDECODABLE,
    chunk_spans,
    read_corpus,
)
from ._client import (
    DEFAULT_KEY_ENV,
    Answer,
    ChatModel,
    HttpChatModel,
    PythonChatModel,
    load_chat_model,
)
from ._evaluate import evaluate_llm
from ._gate import MSG_METRIC_RULES_ONLY, load_llm_gate, load_metric_gate
from ._index import (
    DEFAULT_EMBEDDER,
    MSG_NOT_AN_EMBEDDER,
    MSG_NOT_AN_INDEX,
    build_index,
    default_embedder,
    load_index,
    query_index,
)
from ._page import render_llm_report, save_llm_report
from ._rag_answers import (
    Embed,
    Grounding,
    context_scores,
    groundedness,
    load_embedder,
    split_sentences,
)
from ._rag_cases import MSG_ANSWER_ID, MSG_NO_QUERY, read_answers, read_rag_cases
from ._rag_catalogue import RAG_METRICS, RAG_TASK, catalogue_for_task, load_rag_gate
from ._rag_evaluate import MSG_RETRIEVER_COLUMNS, RAG_PROMPT, evaluate_rag
from ._rag_judge import JUDGE_PROMPT
from ._rag_page import render_rag_report, save_rag_report
from ._rag_result import RagEvaluation
from ._result import LlmEvaluation
from ._retrieval import MSG_BAD_K, RetrievalScores, retrieval_scores
from ._scores import exact_match, token_f1

__all__ = [
    "DEFAULT_EMBEDDER",
    "DEFAULT_KEY_ENV",
    "DOC_SUFFIXES",
    "JUDGE_PROMPT",
    "LLM_METRICS",
    "MSG_ANSWER_ID",
    "MSG_BAD_CHUNKING",
    "MSG_BAD_K",
    "MSG_CORPUS_COLUMNS",
    "MSG_METRIC_RULES_ONLY",
    "MSG_NOT_AN_EMBEDDER",
    "MSG_NOT_AN_INDEX",
    "MSG_NO_CHUNKS",
    "MSG_NO_DOCS",
    "MSG_NO_QUERY",
    "MSG_RETRIEVER_COLUMNS",
    "MSG_TOO_LARGE",
    "MSG_UNDECODABLE",
    "OUTCOMES",
    "RAG_METRICS",
    "RAG_PROMPT",
    "RAG_TASK",
    "Answer",
    "ChatModel",
    "Embed",
    "Grounding",
    "HttpChatModel",
    "LlmEvaluation",
    "PythonChatModel",
    "RagEvaluation",
    "RetrievalScores",
    "build_index",
    "catalogue_for_task",
    "chunk_spans",
    "context_scores",
    "default_embedder",
    "evaluate_llm",
    "evaluate_rag",
    "exact_match",
    "groundedness",
    "load_chat_model",
    "load_embedder",
    "load_index",
    "load_llm_gate",
    "load_metric_gate",
    "load_rag_gate",
    "normalize_label",
    "query_index",
    "read_answers",
    "read_cases",
    "read_corpus",
    "read_rag_cases",
    "render_llm_report",
    "render_rag_report",
    "retrieval_scores",
    "save_llm_report",
    "save_rag_report",
    "split_sentences",
    "token_f1",
]
