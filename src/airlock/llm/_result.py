"""The result of ``llm eval``: what was measured, every case's record, the metrics with
their CIs, and the timings; its JSON form and its artifacts (the page is rendered by
:mod:`._page`: a result never renders itself)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock._files import write_atomic

from ._cases import canonical
from ._catalogue import TIMED_METRICS
from ._metrics import CONFIDENCE

if TYPE_CHECKING:
    from airlock.gates import Decision, Policy

__all__ = ["LlmEvaluation"]


@dataclass(frozen=True)
class LlmEvaluation:
    """The measured model + policy. ``to_dict()`` minus ``timings`` is identical for the
    same cases, model answers, policy and seed; ``metrics`` also has the latency metrics
    (no CI) that a gate can bound."""

    id: str
    model: str
    model_name: str | None
    policy: str
    policy_sha256: str
    cases_sha256: str
    source: str
    cases: list[dict[str, Any]]
    records: list[dict[str, Any]]
    results: dict[str, dict[str, Any]]
    counts: dict[str, int]
    seed: int
    n_boot: int
    prices: dict[str, float | None]
    timings: dict[str, Any] = field(default_factory=dict)
    #: the registered prompt version evaluated ({name, version, ref, sha256, kind,
    #: model_config}), None for cases that carry their own prompts
    prompt: dict[str, Any] | None = None

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        timed = {k: {"value": self.timings.get(k), "ci_low": None, "ci_high": None}
                 for k in TIMED_METRICS}
        return {**self.results, **timed}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": "llm", "model": self.model,
                "model_name": self.model_name, "policy": self.policy,
                "policy_sha256": self.policy_sha256, "cases_sha256": self.cases_sha256,
                "source": self.source, "n_cases": len(self.cases), "counts": self.counts,
                "metrics": self.results, "seed": self.seed, "n_boot": self.n_boot,
                "confidence": CONFIDENCE, "prices_per_1m_tokens": self.prices,
                "cases": self.records, "timings": self.timings,
                **({"prompt": self.prompt} if self.prompt is not None else {})}

    def stored_dict(self) -> dict[str, Any]:
        """What the store keeps: :meth:`to_dict` plus the task and every metric (latencies
        too) as ``overall``, the shape the gates decide on."""
        return {**self.to_dict(), "task": "llm", "overall": self.metrics}

    def gate(self, policy: str | Path | Policy) -> Decision:
        """Decide a gate (a YAML path or text, or a Policy of metric rules) on
        :attr:`metrics`; see :func:`airlock.llm.load_llm_gate`."""
        from ._gate import decide_llm

        return decide_llm(self, policy)

    def save(self, directory: str | Path, decision: Decision | None = None) -> Path:
        """Write the artifacts: cases.jsonl, responses.jsonl, metrics.json, evaluation.json
        (and decision.json), all reproducible bit for bit, manifest.json with their sha256,
        and timings.json (latencies: the one file that differs between runs)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        body = {k: v for k, v in self.to_dict().items() if k not in ("timings", "cases")}
        files: dict[str, bytes] = {
            "cases.jsonl": b"".join(canonical(c) + b"\n" for c in self.cases),
            "responses.jsonl": b"".join(canonical(r) + b"\n" for r in self.records),
            "metrics.json": _pretty(self.results),
            "evaluation.json": _pretty(body),
        }
        if decision is not None:
            files["decision.json"] = _pretty(decision.to_dict())
        for name, data in files.items():
            write_atomic(out / name, data)
        write_atomic(out / "timings.json", _pretty(self.timings))
        manifest = {"id": self.id, "cases_sha256": self.cases_sha256,
                    "files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())},
                    "not_reproducible": ["timings.json"]}
        write_atomic(out / "manifest.json", _pretty(manifest))
        return out


def _pretty(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
