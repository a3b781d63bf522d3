"""The metrics of ``rag eval``: one :class:`~airlock.evaluation.MetricCatalogue` of task
``rag`` (name, direction, meaning), read by the gate (``load_rag_gate``: the one policy
loader with this catalogue), the report and the CLI, in the order they are shown. Every
metric is a mean over cases (the retrieval metrics over every case; the answer metrics over
the cases where they are defined) with a bootstrap CI over cases."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airlock.evaluation import METRIC_CATALOGUE, MetricCatalogue, MetricInfo

from ._catalogue import LLM_METRICS, LLM_TASK
from ._gate import load_metric_gate

if TYPE_CHECKING:
    from airlock.gates import Policy

__all__ = ["RAG_METRICS", "RAG_TASK", "catalogue_for_task", "load_rag_gate"]

RAG_TASK = "rag"
_K = r"[1-9][0-9]{0,3}"


def _m(name: str, description: str, pattern: str | None = None, higher: bool = True
       ) -> MetricInfo:
    return MetricInfo(name=name, task=RAG_TASK, higher_is_better=higher,
                      description=description, pattern=pattern)


RAG_METRICS = MetricCatalogue([
    _m("ndcg@K", "nDCG of the top k docs: gain = relevance grade, discount 1/log2(rank+1), "
       "over the ideal ranking of the graded docs (trec_eval ndcg_cut)", rf"ndcg@{_K}"),
    _m("recall@K", "share of the relevant docs found in the top k", rf"recall@{_K}"),
    _m("precision@K", "relevant docs in the top k / k", rf"precision@{_K}"),
    _m("hit_rate@K", "share of cases with a relevant doc in the top k", rf"hit_rate@{_K}"),
    _m("map@K", "average precision cut at k (trec_eval map_cut)", rf"map@{_K}"),
    _m("mrr", "mean reciprocal rank of the first relevant doc (0 when none is retrieved)"),
    _m("map", "mean average precision over the whole ranking"),
    _m("context_precision", "share of the retrieved docs (top max k) that are relevant "
       "(ragas IDBasedContextPrecision)"),
    _m("context_recall", "share of the relevant docs that were retrieved (top max k; "
       "ragas IDBasedContextRecall)"),
    _m("groundedness", "share of answer sentences whose best retrieved chunk is at least "
       "the threshold alike (cosine of sentence embeddings)"),
    _m("exact_match", "share of answers equal to the reference answer (SQuAD-normalised)"),
    _m("token_f1", "mean token F1 of the answer against the reference answer"),
    _m("judge_score", "mean LLM-judge score of the answer's faithfulness to the context, "
       "scaled to [0, 1]"),
], group_differences=False)


def catalogue_for_task(task: str) -> MetricCatalogue:
    """The catalogue a gate on a stored evaluation of ``task`` reads (``rag``, ``llm``,
    else the model evaluation's)."""
    return {RAG_TASK: RAG_METRICS, LLM_TASK: LLM_METRICS}.get(task, METRIC_CATALOGUE)


def load_rag_gate(source: str | Path | Policy) -> Policy:
    """``gates.load_policy(source, catalogue=RAG_METRICS)`` of metric rules only, e.g.
    ``{metric: ndcg@10, min: 0.6, use: ci_low}``."""
    return load_metric_gate(source, RAG_METRICS)
