"""A toy retriever, answerer and embedder for the RAG tests, importable by code reference
(``tests.integration.rag_toy:retrieve``) so that a registered pyfunc version loads in any
process. The retriever ranks the chunks of a fixed corpus by word overlap with the query
(ties: doc id, then chunk), as a registered retriever flavor would: one row per chunk,
``(query, rank, doc_id, chunk_id, score, text)``."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import numpy as np

CORPUS: dict[str, list[str]] = {
    "paris.md": ["Paris is the capital of France.", "The Eiffel Tower stands in Paris."],
    "berlin.md": ["Berlin is the capital of Germany.", "The Brandenburg Gate is in Berlin."],
    "rome.md": ["Rome is the capital of Italy.", "The Colosseum is an amphitheatre in Rome."],
    "tokyo.md": ["Tokyo is the capital of Japan."],
    "fruit.md": ["Bananas are yellow and grow in bunches."],
}
TOP = 4


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower())) - {"the", "is", "of", "in", "a", "an"}


def retrieve(df: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {c: [] for c in ("query", "rank", "doc_id", "chunk_id",
                                                 "score", "text")}
    chunks = [(doc, i, text) for doc, texts in CORPUS.items() for i, text in enumerate(texts)]
    for query in df["query"]:
        words = _words(str(query))
        scored = sorted(((len(words & _words(t)) / (len(words) or 1), doc, i, t)
                         for doc, i, t in chunks), key=lambda x: (-x[0], x[1], x[2]))
        for rank, (score, doc, i, text) in enumerate(scored[:TOP], start=1):
            for col, val in zip(out, (query, rank, doc, f"{doc}#{i}", score, text),
                                strict=True):
                out[col].append(val)
    return out


def answer(prompt: str) -> str:
    """The first context chunk, plus an invented sentence for questions about the moon."""
    context = prompt.split("Context:\n", 1)[1].split("\n\nQuestion:", 1)[0]
    first = context.split("\n\n")[0]
    return first + (" The moon is made of green cheese." if "moon" in prompt.lower() else "")


@cache
def _encoder() -> Any:
    from tests.minilm_numpy import MiniLmEncoder

    return MiniLmEncoder()


def embed(texts: list[str]) -> np.ndarray[Any, Any]:
    """all-MiniLM-L6-v2 sentence embeddings (the guard's numpy encoder, shipped weights)."""
    out: np.ndarray[Any, Any] = _encoder().encode(texts)
    return out


def lengths(df: Any) -> Any:
    """Not a retriever: one score per query."""
    return df["query"].str.len()
