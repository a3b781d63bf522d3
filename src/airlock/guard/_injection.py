"""Prompt-injection and jailbreak rules: the cheap layer of the cascade.

The rules (:mod:`._rules`, indexed by :mod:`._triggers`) are regexes over the folded text
(see :mod:`._normalize`): *strong* rules (one match is enough: "ignore all previous
instructions") and *weak* cues ("pretend", "silently", "note to the AI") that only block
together. A text's injection score
is the noisy-or of its matched rules (each rule counted once); every match becomes a finding of
its category with that score when the score reaches the threshold.

Each rule starts at one of its trigger words and is tried only there (``regex.match`` at the
word's position), and only when the words it requires are in the text, so a text costs one
tokenisation plus a few anchored attempts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import NamedTuple

from ._deobfuscate import vocabulary_of
from ._rules import STRONG, WEAK
from ._triggers import REQUIRES, TRIGGERS
from ._types import INJECTION_TYPES

__all__ = ["Match", "RuleSet", "score"]

_WORD = re.compile(r"[a-z0-9]+")


class Match(NamedTuple):
    """One rule's match (a named tuple: 1 MB of text can make 10^5 of them, and a frozen
    dataclass takes about three times as long to build)."""

    rule: str
    category: str
    start: int
    end: int
    weight: float


@dataclass(frozen=True)
class _Rule:
    name: str
    category: str
    weight: float
    regex: re.Pattern[str]
    requires: frozenset[str]


class RuleSet:
    """The compiled rules of the wanted categories, indexed by trigger word and literal.

    ``matches(text)`` finds the words of the text once (a set), and runs a rule only at the
    positions of its trigger words (``regex.match(text, pos)``), so a text with none of the
    trigger words costs one tokenisation. ``scan(text)`` runs every rule over the whole text:
    the reference the trigger index is tested against."""

    def __init__(self, categories: Iterable[str] = INJECTION_TYPES) -> None:
        wanted = set(categories)
        self.rules = [_Rule(name, cat, w, re.compile(p, re.IGNORECASE),
                            frozenset(REQUIRES.get(name, "").split()))
                      for name, cat, w, p in (*STRONG, *WEAK) if cat in wanted]
        self._by_word: dict[str, list[_Rule]] = {}
        self._by_literal: list[tuple[tuple[str, ...], _Rule]] = []
        for rule in self.rules:
            spec = TRIGGERS[rule.name]
            if spec.startswith("lit:"):
                self._by_literal.append((tuple(spec[4:].split("|")), rule))
            else:
                for word in spec.split():
                    self._by_word.setdefault(word, []).append(rule)
        self._words = frozenset(self._by_word)
        # the words a word split by spaces is joined into (see ._deobfuscate)
        self.vocabulary = vocabulary_of(TRIGGERS.values(), REQUIRES.values(),
                                        patterns=[p for _, _, _, p in (*STRONG, *WEAK)])
        # a literal first, so the regex engine jumps to it; the start boundary is checked after
        self._finders = {w: re.compile(rf"{re.escape(w)}(?![a-z0-9])") for w in self._words}

    def matches(self, text: str, words: AbstractSet[str] | None = None, *,
                literals: bool = True) -> list[Match]:
        """The rule matches in ``text`` (``words``: its lower-case words, when known;
        ``literals``: also the rules keyed by punctuation, off for rot13/reversed views)."""
        low = text.lower() if words is None or literals else ""
        if words is None:
            words = set(_WORD.findall(low))
        ok: dict[str, bool] = {}  # rule name -> its required words are present
        viable = []
        for w in self._words.intersection(words):
            rules = []
            for r in self._by_word[w]:
                good = ok.get(r.name)
                if good is None:
                    good = ok[r.name] = not r.requires or not r.requires.isdisjoint(words)
                if good:
                    rules.append(r)
            if rules:
                viable.append((w, rules))
        if not viable and not literals:
            return []
        low = low or text.lower()
        if len(low) != len(text):  # a rare character whose lower case is longer
            return self.scan(text)
        out: list[Match] = []
        for word, rules in viable:
            for hit in self._finders[word].finditer(low):
                pos = hit.start()
                if pos and low[pos - 1].isalnum():
                    continue  # inside a longer word
                for rule in rules:
                    m = rule.regex.match(text, pos)
                    if m is not None:
                        out.append(Match(rule.name, rule.category, m.start(), m.end(),
                                         rule.weight))
        for lits, rule in self._by_literal if literals else ():
            if any(lit in low for lit in lits):
                out += [Match(rule.name, rule.category, m.start(), m.end(), rule.weight)
                        for m in rule.regex.finditer(text)]
        return out

    def scan(self, text: str) -> list[Match]:
        return [Match(rule.name, rule.category, m.start(), m.end(), rule.weight)
                for rule in self.rules for m in rule.regex.finditer(text)]


# weak cues that are evidence of the same thing count once: "pretend you're an innkeeper and
# stay in character" says twice that this is role-play, which alone is no attack
SAME_EVIDENCE = {"stay_in_character": "roleplay"}


def score(matches: Iterable[Match]) -> float:
    """Noisy-or of the matched rules, each rule (or group of rules that are evidence of the
    same thing, :data:`SAME_EVIDENCE`) counted once at its highest weight."""
    best: dict[str, float] = {}
    for m in matches:
        key = SAME_EVIDENCE.get(m.rule, m.rule)
        if m.weight > best.get(key, 0.0):
            best[key] = m.weight
    miss = 1.0
    for w in best.values():
        miss *= 1.0 - w
    return 1.0 - miss
