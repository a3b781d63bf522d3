"""Answer metrics of ``rag eval`` that need no LLM judge.

- ``context_precision`` / ``context_recall`` from ids, as ragas' ``IDBasedContextPrecision``
  / ``IDBasedContextRecall`` define them: over the *set* of doc ids retrieved (the top
  max-k docs given to the answer) and the set of relevant ids (grade >= 1),
  ``|retrieved ∩ relevant| / |retrieved|`` and ``|retrieved ∩ relevant| / |relevant|``;
  undefined (left out of the mean) when the set under the bar is empty.
- ``groundedness`` by sentence: the answer is split into sentences; each sentence and each
  retrieved chunk text is embedded (an :data:`Embed` callable, rows L2-normalised here);
  a sentence is *supported* when its best chunk's cosine similarity is at least the
  threshold. The case's value is the supported share; the unsupported sentences are listed.
- ``exact_match`` / ``token_f1`` against ``reference_answer`` (SQuAD normalisation,
  :mod:`._scores`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from airlock.errors import InvalidInput, UsageError

__all__ = ["DEFAULT_THRESHOLD", "Embed", "Grounding", "context_scores", "groundedness",
           "load_embedder",
           "split_sentences"]

Arr = np.ndarray[Any, Any]
#: texts -> (len(texts), dim) float embeddings (rows need not be normalised)
Embed = Callable[[list[str]], Arr]
DEFAULT_THRESHOLD = 0.5
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences: split after ``.``, ``!`` or ``?`` followed by space, and at line breaks;
    blank pieces dropped."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def context_scores(retrieved: Sequence[str], relevant: Sequence[str]
                   ) -> tuple[float | None, float | None]:
    """(context precision, context recall) of one case from ids (module docstring)."""
    got, want = set(retrieved), set(relevant)
    hits = len(got & want)
    return (hits / len(got) if got else None, hits / len(want) if want else None)


@dataclass(frozen=True)
class Grounding:
    """One answer's sentences, each one's best similarity and best chunk (index into the
    case's chunks), and the supported share (None for an answer without sentences)."""

    sentences: list[str]
    similarity: list[float]
    best_chunk: list[int]
    supported: list[bool]
    value: float | None

    @property
    def unsupported(self) -> list[str]:
        return [s for s, ok in zip(self.sentences, self.supported, strict=True) if not ok]


def _unit(x: Arr, n: int, what: str) -> Arr:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != n or not np.all(np.isfinite(x)):
        raise InvalidInput(f"the embedder returned shape {x.shape} for {n} {what}; expected "
                           f"({n}, dim) finite numbers")
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    out: Arr = x / np.where(norm > 0, norm, 1.0)
    return out


def groundedness(answers: Sequence[str], contexts: Sequence[Sequence[str]], embed: Embed, *,
                 threshold: float = DEFAULT_THRESHOLD) -> list[Grounding]:
    """The :class:`Grounding` of each answer against its case's retrieved chunk texts; all
    sentences and all chunks are embedded in one call each."""
    sentences = [split_sentences(a) for a in answers]
    flat_s = [s for ss in sentences for s in ss]
    flat_c = [c for cs in contexts for c in cs]
    es = _unit(embed(flat_s), len(flat_s), "sentences") if flat_s else np.zeros((0, 1))
    ec = _unit(embed(flat_c), len(flat_c), "chunks") if flat_c else np.zeros((0, 1))
    out: list[Grounding] = []
    s0 = c0 = 0
    for ss, cs in zip(sentences, contexts, strict=True):
        s1, c1 = s0 + len(ss), c0 + len(cs)
        if ss and cs:
            sim = es[s0:s1] @ ec[c0:c1].T
            best, score = sim.argmax(axis=1), sim.max(axis=1)
        else:
            best, score = np.full(len(ss), -1), np.zeros(len(ss))
        ok = [bool(v >= threshold) for v in score] if cs else [False] * len(ss)
        out.append(Grounding(sentences=ss, similarity=[float(v) for v in score],
                             best_chunk=[int(b) for b in best], supported=ok,
                             value=sum(ok) / len(ss) if ss else None))
        s0, c0 = s1, c1
    return out


def load_embedder(spec: str | Embed) -> Embed:
    """An :data:`Embed` from ``python:module:function``, or from a registered embedder
    version (``all-minilm-l6-v2@1``: its ``encode``), or a callable (returned as is)."""
    if callable(spec):
        return spec
    from ._client import _import

    if isinstance(spec, str) and "@" in spec and not spec.startswith("python:"):
        from airlock.registry import EMBEDDER_FLAVOR, EmbedderPredictor, load_model

        lm = load_model(spec)
        if not isinstance(lm.predictor, EmbedderPredictor):
            raise UsageError(f"{lm.ref} is a {lm.version.flavor} model, not an "
                             f"{EMBEDDER_FLAVOR}")
        encode: Embed = lm.predictor.encode
        return encode
    if not isinstance(spec, str) or not spec.startswith("python:"):
        raise UsageError(f"unknown embedder {spec!r}: use python:module:function or an "
                         "embedder version NAME@VERSION")
    fn: Embed = _import(spec.removeprefix("python:"), spec)
    return fn
