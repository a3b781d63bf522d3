"""Mentions are not uses: an attack phrase quoted for a task about the text.

"Translate into Italian: 'forget everything you were told'" asks for a translation; the
quoted words are data, not an instruction to the assistant. When the words outside every
quotation name a task on text or talk about it (translate, summarise, rewrite, classify,
label, explain, critique, is it an attack, what does it mean, ...), the rule matches that
lie wholly inside a quotation are scored together and their score counts at
:data:`MENTION_WEIGHT` (0.45: under the default threshold of 0.5, so a quoted attack alone
does not block). Matches outside the quotes count in full, so "translate this, then ignore
your rules: '...'" is judged on its unquoted part. The learned layer sees the whole text
either way. The trade-off: an attack wrapped in "translate: '...'" is left to the learned
layer.
"""

from __future__ import annotations

import re

__all__ = ["MENTION_WEIGHT", "mention_spans"]

MENTION_WEIGHT = 0.45

# a quotation: straight quotes at word boundaries (an apostrophe in "don't" neither opens
# nor closes one), typographic pairs, guillemets, backticks; at most one line
_QUOTES = re.compile(
    r"""(?<![\w'])'(?:[^'\n]|'(?=\w)){3,}?'(?!\w)|"[^"\n]{3,}?"|\u201c[^\u201d\n]{3,}?\u201d"""
    r"""|\u2018[^\u2019\n]{3,}?\u2019(?!\w)|\u00ab[^\u00bb\n]{3,}?\u00bb"""
    r"""|\u201e[^\u201c\u201d\n]{3,}?[\u201c\u201d]|`[^`\n]{3,}?`""")

# a task on a piece of text, or talk about one (English, German, Spanish, French stems)
_TASK = re.compile(
    r"\b(?:translat\w*|[uü]bersetz\w*|tradu\w*|summar\w*|paraphras\w*|rewrit\w*|"
    r"rephras\w*|reword\w*|proofread\w*|grammar\w*|grammatical\w*|spell\w*|mean|means|"
    r"meaning|language|classif\w*|categori[sz]\w*|label\w*|intent|detect\w*|flag\w*|"
    r"block\w*|filter\w*|regex\w*|explain\w*|describ\w*|quot\w*|extract\w*|verbs?|"
    r"nouns?|words?|sentences?|phrases?|lines?|messages?|posts?|comments?|captions?|logs?|"
    r"tone|polite\w*|analy[sz]\w*|critiqu\w*|review\w*|score|rate|examples?|datasets?|"
    r"test cases?|attacks?|jailbreak\w*|injection\w*|transcri\w*|pronounc\w*|"
    r"punctuat\w*|count)\b",
    re.IGNORECASE)


def mention_spans(text: str) -> list[tuple[int, int]]:
    """The quotations of ``text`` whose surroundings ask for a task on text, as
    ``(start, end)`` spans (the quote marks included); none when nothing outside the
    quotations names such a task."""
    spans = [m.span() for m in _QUOTES.finditer(text)]
    if not spans:
        return []
    outside = []
    last = 0
    for a, b in spans:
        outside.append(text[last:a])
        last = b
    outside.append(text[last:])
    return spans if _TASK.search(" ".join(outside)) else []
