"""The result of ``rag eval``: the retriever (and prompt) measured, every case's record
(what was retrieved, its metrics, the answer and its unsupported sentences), the metrics
with their CIs; its JSON form (what the store keeps) and its gate. The page is rendered by
:mod:`._rag_page`: a result never renders itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._metrics import CONFIDENCE
from ._rag_catalogue import RAG_TASK

if TYPE_CHECKING:
    from airlock.gates import Decision, Policy

__all__ = ["RagEvaluation"]


@dataclass(frozen=True)
class RagEvaluation:
    """``to_dict()`` is identical for the same cases, retriever version, answers, ks,
    threshold and seed (the judge's replies come from its cache)."""

    id: str
    retriever: dict[str, Any]
    prompt: dict[str, Any] | None
    ks: tuple[int, ...]
    source: str
    cases_sha256: str
    answers: str | None
    results: dict[str, dict[str, Any]]
    records: list[dict[str, Any]]
    seed: int
    n_boot: int
    threshold: float
    judge: dict[str, Any] | None = None
    stored: bool = False

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        return self.results

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": RAG_TASK, "task": RAG_TASK, "model": self.retriever,
                "prompt": self.prompt, "ks": list(self.ks), "source": self.source,
                "cases_sha256": self.cases_sha256, "answers": self.answers,
                "n_cases": len(self.records), "overall": self.results, "seed": self.seed,
                "n_boot": self.n_boot, "confidence": CONFIDENCE,
                "groundedness_threshold": self.threshold, "judge": self.judge,
                "cases": self.records}

    def worst(self, n: int = 10, metric: str | None = None) -> list[dict[str, Any]]:
        """The ``n`` cases lowest on ``metric`` (default ``ndcg@<largest k>``), ties in
        case order."""
        name = metric or f"ndcg@{self.ks[-1]}"
        scored = [r for r in self.records if r["metrics"].get(name) is not None]
        return sorted(scored, key=lambda r: float(r["metrics"][name]))[:n]

    def gate(self, policy: str | Path | Policy) -> Decision:
        """Decide a gate of metric rules on :attr:`metrics` (not recorded; ``airlock gate``
        records a decision on the stored evaluation)."""
        from airlock.gates import decide

        from ._gate import load_metric_gate
        from ._rag_catalogue import RAG_METRICS

        return decide(self.to_dict(), load_metric_gate(policy, RAG_METRICS))
