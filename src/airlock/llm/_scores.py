"""Scoring a served answer against the case's reference, SQuAD style: lower case, no
punctuation, no articles, then exact match and token F1."""

from __future__ import annotations

import re
import string
from collections import Counter

__all__ = ["exact_match", "token_f1"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def _norm_tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return text.split()


def token_f1(answer: str, reference: str) -> float:
    """SQuAD token F1 of ``answer`` against ``reference`` (lower case, no punctuation or
    articles); 1.0 when both are empty."""
    a, r = _norm_tokens(answer), _norm_tokens(reference)
    if not a or not r:
        return float(a == r)
    common = sum((Counter(a) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


def exact_match(answer: str, reference: str) -> float:
    return float(_norm_tokens(answer) == _norm_tokens(reference))
