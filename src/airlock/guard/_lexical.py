"""The word n-gram part of the fast head: TF-IDF of words and word pairs, scored linearly.

The features are those of scikit-learn's ``TfidfVectorizer(ngram_range=(1, 2),
sublinear_tf=True)`` with its default word pattern and lowercasing (a test checks the two
agree): a term's weight is ``(1 + ln count) * idf``, and the weights of a window's terms that
are in the vocabulary are divided by their Euclidean norm. The head keeps, per term, its idf
and its coefficient, so a window's score is one pass over its words: no matrix is built.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

__all__ = ["LexicalHead"]

_WORD = re.compile(r"(?u)\b\w\w+\b")


class LexicalHead:
    """``terms``: term -> (idf, coefficient); :meth:`scores` -> one linear score per text
    (terms outside ``terms`` do not count, as in scikit-learn)."""

    def __init__(self, terms: Mapping[str, Sequence[float]]) -> None:
        self.terms = {t: (float(v[0]), float(v[1])) for t, v in terms.items()}

    def score(self, text: str) -> float:
        words = _WORD.findall(text.lower())
        counts = Counter(words)
        counts.update(f"{a} {b}" for a, b in itertools.pairwise(words))
        dot = norm = 0.0
        terms = self.terms
        for term, n in counts.items():
            got = terms.get(term)
            if got is None:
                continue
            w = (1.0 + math.log(n)) * got[0]
            dot += w * got[1]
            norm += w * w
        return dot / math.sqrt(norm) if norm > 0.0 else 0.0

    def scores(self, texts: Sequence[str]) -> list[float]:
        return [self.score(t) for t in texts]
