"""The optional LLM judge of ``rag eval``: any :class:`~._client.ChatModel` (an
OpenAI-compatible endpoint, ``http(s)://…/v1``, or a Python function) rates how faithful
each answer is to its retrieved context, 1-5, scaled to [0, 1] as ``(score - 1) / 4``.

Answers are cached in the artifact store under ``judge-cache/<prompt sha256>/<input
sha256>.json``: the input hash covers the judge's spec and model name, the query, the
answer, the context and the repeat index, so the same evaluation run again asks nothing,
and ``repeat`` > 1 asks each case that many times (distinct cache entries) to measure the
judge's run-to-run variance: the standard deviation between the repeats' mean scores and
the mean over cases of each case's standard deviation. A reply without a score 1-5 scores
None (the case is left out of ``judge_score``)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._cases import canonical
from ._client import ChatModel

__all__ = ["JUDGE_PROMPT", "JudgeResult", "run_judge"]

JUDGE_PROMPT = (
    "You grade a retrieval-augmented answer. Rate from 1 to 5 how well the ANSWER is "
    "supported by the CONTEXT and answers the QUESTION (5: fully supported and correct, "
    "1: unsupported or wrong). Reply with the number only.\n\n"
    "QUESTION:\n{query}\n\nCONTEXT:\n{context}\n\nANSWER:\n{answer}\n")
_SCORE = re.compile(r"\b([1-5])(?:\.0+)?\b")


@dataclass(frozen=True)
class JudgeResult:
    """Scores ``(repeat, cases)`` in [0, 1] (NaN: no score), how many calls were answered
    from the cache, and the variance figures."""

    scores: np.ndarray[Any, Any]
    cached: int
    calls: int
    prompt_sha256: str

    def per_case(self) -> list[float | None]:
        with np.errstate(all="ignore"):
            valid = ~np.isnan(self.scores)
            mean = np.where(valid.any(axis=0), np.nansum(self.scores, axis=0)
                            / np.maximum(valid.sum(axis=0), 1), np.nan)
        return [float(v) if np.isfinite(v) else None for v in mean]

    def variance(self) -> dict[str, Any]:
        repeats = self.scores.shape[0]
        with np.errstate(all="ignore"):
            means = [float(np.nanmean(r)) if np.isfinite(r).any() else None
                     for r in self.scores]
            valid = [m for m in means if m is not None]
            case_std = np.nanstd(self.scores, axis=0) if repeats > 1 else np.zeros(0)
        return {"repeats": repeats, "mean_per_repeat": means,
                "std_between_repeats": float(np.std(valid)) if len(valid) > 1 else None,
                "mean_case_std": float(np.nanmean(case_std))
                if repeats > 1 and np.isfinite(case_std).any() else None,
                "cached": self.cached, "calls": self.calls,
                "prompt_sha256": self.prompt_sha256}


def _parse(text: str) -> float:
    m = _SCORE.search(text)
    return (int(m.group(1)) - 1) / 4.0 if m else float("nan")


def run_judge(judge: ChatModel, *, model_name: str | None, queries: Sequence[str],
              answers: Sequence[str | None], contexts: Sequence[Sequence[str]],
              repeat: int, artifacts: Any) -> JudgeResult:
    """Judge every answered case ``repeat`` times through the cache in ``artifacts`` (the
    store's artifact store: ``exists``, ``open``, ``put_bytes``)."""
    prompt_sha = hashlib.sha256(JUDGE_PROMPT.encode()).hexdigest()
    scores = np.full((repeat, len(queries)), np.nan)
    cached = calls = 0
    for r in range(repeat):
        for i, (query, answer, context) in enumerate(zip(queries, answers, contexts,
                                                         strict=True)):
            if answer is None:
                continue
            text = "\n---\n".join(context)
            key_input = {"judge": judge.spec, "model": model_name, "query": query,
                         "answer": answer, "context": text, "repeat": r}
            key = (f"judge-cache/{prompt_sha}/"
                   f"{hashlib.sha256(canonical(key_input)).hexdigest()}.json")
            if artifacts.exists(key):
                with artifacts.open(key) as fh:
                    reply = str(json.loads(fh.read())["reply"])
                cached += 1
            else:
                prompt = JUDGE_PROMPT.format(query=query, context=text, answer=answer)
                reply = judge(prompt, [{"role": "user", "content": prompt}]).text
                calls += 1
                artifacts.put_bytes(canonical({"input": key_input, "reply": reply}), key)
            scores[r, i] = _parse(reply)
    return JudgeResult(scores=scores, cached=cached, calls=calls, prompt_sha256=prompt_sha)
