"""Views that undo cheap obfuscation of attack words, for the rules to read: leetspeak
("1gn0r3 4ll pr3v10u5"), words split by a space ("Ig nore prev ious instruc tions") and an
attack cut into quoted pieces ('a = "Ignore all" b = "previous instructions"').

The leet and spacing views keep the length of the text (a split word is joined and the
space moved behind it), so a finding's span in them is its span in the folded text. Each
view is built only when its cue is present (a letter next to a leet digit; two or three
adjacent fragments that join into a word of the rules' vocabulary; two quoted pieces) and
each costs a few regex passes and C-level maps over the text's words: linear, no
per-character Python loop.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["COMMON_WORDS", "joined_view", "leet_views", "letters_view", "quoted_view",
           "vocabulary_of"]

_LEET_I = str.maketrans("431057986@$", "aeiostgbbas")
_LEET_L = str.maketrans("431057986@$", "aelostgbbas")
# a letter beside a leet sign (a digit, @ or $ inside a word)
_LEET_CUE = re.compile(r"[A-Za-z][013456789@$]|[013456789@$][A-Za-z]")
_FRAGMENT = re.compile(r"[a-z]+")
# common short English words: two of them side by side are two words, not a split one
# ("for get", "any one", "be fore" stay apart; "witho ut", "ign ore" join; "out" is not
# on the list: "with out" is "without")
_COMMON = """
a about above after again all also am an and any are as at away back be been before being
below but by can come could day did do does done down each even ever every few for from
get give go good got had has have he her here him his how i if in into is it its just
keep know last let like long look made make man many may me more most much must my new
no not now of off old on once one only or other our over own part put run said same
say see set she should show so some such take tell than that the their them then there
these they thing think this those time to too two up us use very want was way we well
went were what when where which while who why will with work would year yes yet you
your able end under side
"""
COMMON_WORDS = frozenset(_COMMON.split())
_QUOTED = re.compile(r'"([^"\n]{1,400})"|\u201c([^\u201d\n]{1,400})\u201d|'
                     r"(?<![A-Za-z])'([^'\n]{1,400})'(?![A-Za-z])")
MIN_JOINED = 5
MAX_ONES = 3
# a word of letters and leet signs holding a 1 (bounded: one attempt per word start)
_ONE_WORD = re.compile(r"(?<![A-Za-z0-9@$])(?=[A-Za-z0-9@$]{0,31}1)[A-Za-z0-9@$]{2,32}"
                       r"(?![A-Za-z0-9@$])")
MAX_PIECES = 256


def leet_views(text: str, vocabulary: frozenset[str] = frozenset()) -> list[str]:
    """The text with leet signs read as letters, or nothing when no letter stands beside a
    leet sign. ``1`` is ``i`` or ``l``: a word with a 1 takes the reading that is a
    ``vocabulary`` word ("ru135" -> "rules", "1gn0r3" -> "ignore"), else ``i``."""
    if _LEET_CUE.search(text) is None:
        return []
    view = text.translate(_LEET_I)
    if "1" not in text or not vocabulary:
        return [view]
    pieces: list[str] = []
    pos = 0
    seen: dict[str, str | None] = {}  # a word read once per text
    for m in _ONE_WORD.finditer(text):
        word = m.group()
        if word in seen:
            best = seen[word]
        else:
            best = seen[word] = (None if word.count("1") > MAX_ONES
                                 else _reading(word, vocabulary))
        if best is not None:
            pieces += [view[pos:m.start()], best]
            pos = m.end()
    return ["".join(pieces) + view[pos:]] if pieces else [view]


def _reading(word: str, vocabulary: frozenset[str]) -> str | None:
    """The reading of a leet word with 1s that is a vocabulary word (None: keep ``i``)."""
    base = word.translate(_LEET_I)
    if base.lower() in vocabulary:
        return None
    ones = [i for i, c in enumerate(word) if c == "1"]
    for mask in range(1, 1 << len(ones)):
        chars = list(base)
        for bit, i in enumerate(ones):
            if mask >> bit & 1:
                chars[i] = "l"
        candidate = "".join(chars)
        if candidate.lower() in vocabulary:
            return candidate
    return None


def joined_view(text: str, vocabulary: frozenset[str]) -> str | None:
    """The text with a word split in two by a single space joined where the joined form is
    a vocabulary word ("ign ore" -> "ignore "), or None when no fragments join so. Common
    words side by side stay apart ("for get")."""
    low = text.lower()
    if len(low) != len(text):
        return None
    words = _FRAGMENT.findall(low)
    if len(words) < 2:
        return None
    hits = set(map(operator.add, words, words[1:])).intersection(vocabulary)
    if not hits:
        return None
    # the joined words with an optional space between letters, as one trie
    spaced = {" ?".join(h) for h in hits}
    pattern = re.compile(rf"(?<![a-z]){_trie_pattern(spaced, spaces=True)}(?![a-z])",
                         re.IGNORECASE)

    def join(m: re.Match[str]) -> str:
        piece = m.group()
        parts = piece.split(" ")
        if len(parts) == 1 or all(p.lower() in COMMON_WORDS for p in parts):
            return piece
        joined = "".join(parts)
        return joined + " " * (len(piece) - len(joined))

    view = pattern.sub(join, text)
    return None if view == text else view


def _trie_pattern(words: Iterable[str], *, spaces: bool = False) -> str:
    """One regex matching any of ``words`` built as a trie (one alternative per distinct
    next letter), so a position costs one walk down the trie however many words there are;
    ``spaces``: the words are given as "i ?g ?n ..." (an optional space between letters)."""
    root: dict[str, Any] = {}
    for w in words:
        node = root
        for ch in (w.split(" ?") if spaces else w):
            node = node.setdefault(ch, {})
        node[""] = {}
    return _rest(root, " ?" if spaces else "", top=True)


def _rest(node: dict[str, Any], gap: str, *, top: bool = False) -> str:
    kids = [(ch, child) for ch, child in sorted(node.items()) if ch]
    if not kids:
        return ""
    group = "(?:" + "|".join(re.escape(ch) + _rest(child, gap) for ch, child in kids) + ")"
    if top:
        return group
    group = gap + group
    return f"(?:{group})?" if "" in node else group


def quoted_view(text: str) -> tuple[str, int, int] | None:
    """The quoted pieces of the text joined by spaces, with the span from the first quote
    to the last, when there are at least two (an attack split into string variables)."""
    if text.count('"') + text.count("'") + text.count("\u201c") < 4:
        return None
    pieces: list[str] = []
    start = end = 0
    for m in _QUOTED.finditer(text):
        if not pieces:
            start = m.start()
        pieces.append(next(g for g in m.groups() if g is not None))
        end = m.end()
        if len(pieces) >= MAX_PIECES:
            break
    if len(pieces) < 2:
        return None
    return " ".join(p.strip() for p in pieces), start, end


_PATTERN_WORD = re.compile(r"(?<![\\a-z])[a-z]{4,}")


def vocabulary_of(*specs: Iterable[str], patterns: Iterable[str] = ()) -> frozenset[str]:
    """The words of the rules: their trigger and requirement lists (space-separated
    strings) and the literal words in their regexes (``patterns``), four letters or more."""
    words = {w for spec in specs for s in spec for w in s.split()}
    words.update(w for p in patterns for w in _PATTERN_WORD.findall(p))
    return frozenset(w for w in words if w.isalpha() and len(w) >= 4)


# single letters with a separator between each ("i g n o r e", "i.g.n.o.r.e", "i-g-n"),
# at least four of them; a letter is alone (no letter on either side)
_SPACED_LETTERS = re.compile(
    r"(?<![A-Za-z])[A-Za-z](?:[ ._*/|-]{1,3}[A-Za-z](?![A-Za-z])){3,}")
_GAP = re.compile(r"[ ._*/|-]+")
MAX_SEGMENTED = 400  # letters in one run read by the word segmentation
SEGMENT_BUDGET = 4000  # letters segmented per text (past it, even runs stay joined)


def letters_view(text: str, vocabulary: frozenset[str]) -> str | None:
    """The text with every run of spaced-out single letters read as words ("i g n o r e
    a l l" -> "ignore all"), the same length: each word is written where its first letter
    was and padded with spaces to the next one. None when there is no such run. A run whose
    gaps differ splits into words at its wider gaps; a run with even gaps is segmented into
    the fewest words of ``vocabulary`` and :data:`COMMON_WORDS` (left joined where that
    fails)."""
    runs = list(_SPACED_LETTERS.finditer(text))
    if not runs:
        return None
    words = vocabulary | COMMON_WORDS
    pieces: list[str] = []
    pos = 0
    budget = SEGMENT_BUDGET
    for m in runs:
        run = m.group()
        gaps = [len(g) for g in _GAP.findall(run)]
        letters = _GAP.split(run)
        if min(gaps) < max(gaps):  # wider gaps are word breaks
            cuts = [0] + [i + 1 for i, g in enumerate(gaps) if g > min(gaps)] + [len(letters)]
        elif len(letters) <= min(budget, MAX_SEGMENTED):
            budget -= len(letters)
            cuts = _segment("".join(letters).lower(), words)
        else:
            cuts = [0, len(letters)]
        at = [0]  # where each letter is in the run
        for g in gaps:
            at.append(at[-1] + 1 + g)
        at.append(len(run))
        pieces.append(text[pos:m.start()])
        for i, j in itertools.pairwise(cuts):
            pieces.append("".join(letters[i:j]).ljust(at[j] - at[i]))
        pos = m.end()
    return "".join(pieces) + text[pos:]


def _segment(letters: str, words: frozenset[str]) -> list[int]:
    """Where to cut ``letters`` into the fewest words of ``words`` (dynamic programming; a
    stray letter that is no word is allowed at three times a word's cost): the cut
    positions, first 0 and last the length; ``[0, len]`` (one word) when no word is found."""
    n = len(letters)
    longest = 24
    best: list[tuple[int, int] | None] = [(0, 0)] + [None] * n  # (cost, start of last)
    for end in range(1, n + 1):
        for start in range(max(0, end - longest), end):
            prev = best[start]
            if prev is None:
                continue
            piece = letters[start:end]
            # a word costs 1; a stray letter that is no word 3 (so words are preferred)
            cost = 1 if piece in words else 3 if end - start == 1 else 0
            here = best[end]
            if cost and (here is None or prev[0] + cost < here[0]):
                best[end] = (prev[0] + cost, start)
    if best[n] is None or best[n][0] >= 3 * n:  # type: ignore[index]  # no word at all
        return [0, n]
    cuts = [n]
    while cuts[-1] > 0:
        last = best[cuts[-1]]
        assert last is not None
        cuts.append(last[1])
    return cuts[::-1]
