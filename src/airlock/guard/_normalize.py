"""Normalisation for detection: a folded view of the text with offsets back to the original.

The folded view is what the rules read: compatibility forms (NFKC/NFKD: fullwidth letters,
mathematical alphanumerics, ligatures, circled letters) become plain letters, diacritics are
stripped, common homoglyphs (Cyrillic, Greek, small capitals) become their Latin look-alikes,
zero-width and bidi-control characters disappear, and Unicode tag characters (U+E0020..E007E,
"ASCII smuggling") become the ASCII they hide. ASCII text is its own folded view (the fast
path: no copy, no offset table).

Encoded blocks (base64, hex, rot13, reversed text) are decoded into extra views; a finding in
a decoded view points at the encoded block's span in the original text. Cheap obfuscation is
undone in views of its own (:mod:`._deobfuscate`): leetspeak (``leet``), words split by a
space (``spacing``, joined where the joined form is a word of the rules' vocabulary; also
letters spelled out one by one, "i g n o r e", read as words) and an
attack cut into quoted pieces (``split``). Past ``MAX_BLOCKS``
blocks in one text, the rest are joined into one view spanning them.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

from ._deobfuscate import joined_view, leet_views, letters_view, quoted_view

__all__ = ["DECODERS", "ROT13", "SAME_LENGTH", "WHOLE_VIEWS", "Decoded", "Folded", "Normalizer",
           "decoded_text", "long_tokens"]

DECODERS = ("base64", "hex", "rot13", "reverse", "leet", "spacing", "split")
# views of the whole text that keep its positions (a finding's span is its folded span)
SAME_LENGTH = frozenset({"rot13", "leet", "spacing"})
WHOLE_VIEWS = SAME_LENGTH | {"reverse"}

# zero-width, joiners, soft hyphen, bidi controls, word joiner, BOM, variation selectors
_INVISIBLE = frozenset([0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E,
                        *range(0x200B, 0x2010), *range(0x202A, 0x202F),
                        *range(0x2060, 0x2070), 0x3164, 0xFEFF, 0xFFA0,
                        *range(0xFE00, 0xFE10)])
# Cyrillic, Greek, Latin small capitals and look-alikes, dashes and quotes -> ASCII
_HOMOGLYPHS = dict(zip(
    "\u0430\u0432\u0435\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0455\u0456"
    "\u0458\u0501\u04bb\u04cf\u051b\u051d\u04af\u0261\u044c\u043f\u0433\u0448\u0410\u0412"
    "\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0423\u0406\u0408\u0405\u0500"
    "\u03b1\u03b2\u03b3\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u03c9"
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7"
    "\u0131\u0237\u0280\u026a\u0262\u0274\u1d0f\u1d07\u1d00\u0299\u1d04\u1d05\ua730\u029c"
    "\u1d0a\u1d0b\u029f\u1d0d\u1d18\ua7af\ua731\u1d1b\u1d1c\u1d20\u1d21\u028f\u1d22\u00f8"
    "\u0111\u0142\u2010\u2011\u2012\u2013\u2014\u2018\u2019\u201c\u201d\u00a0",
    "abekmhopctyxsi"
    "jdhlqwygbnrwAB"
    "EKMHOPCTXYIJSD"
    "abyenikvoptuxw"
    "ABEZHIKMNOPTYX"
    "ijrignoeabcdfh"
    "jklmpqstuvwyzo"
    "dl-----''\"\" ",
    strict=True,
))
_HOMOGLYPHS.update({"\u00df": "ss", "\u00e6": "ae", "\u0153": "oe"})
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
ROT13 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                       "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")
# encoded blocks: single bounded character classes (no nested quantifiers)
# base64 blocks are looked for inside whitespace-separated tokens of 16+ characters only
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,65536}={0,2}")
# hex of text starts with a digit (printable bytes are 0x20-0x7e): the engine skips to digits
_HEX = re.compile(r"\d(?<![0-9A-Za-z]\d)(?:x[0-9A-Fa-f]{16,65536}|[0-9A-Fa-f]{15,65536})"
                  r"(?![0-9A-Za-z])")
_HEX_SPACED = re.compile(r"\d(?<![0-9A-Fa-f]\d)[0-9A-Fa-f][ :,](?:[0-9A-Fa-f]{2}[ :,])"
                         r"{6,16384}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
_HEX_ESCAPED = re.compile(r"(?:\\x[0-9A-Fa-f]{2}){8,16384}")
_HEX_STRIP = re.compile(r"[^0-9A-Fa-f]")
_LETTERS = re.compile(r"[A-Za-z]{3}")
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_B64_NON_ALPHA = re.compile(r"[0-9+/_-]")
_ENCODED = re.compile(r"[0-9A-Fa-f]{16,65536}|[A-Za-z0-9+/_-]{16,65536}={0,2}")
_PRINTABLE_MIN = 0.9
MAX_DEPTH = 2
# encoded blocks decoded into views of their own; the blocks past these are joined into one
# view (one line per block) spanning them all, so nothing goes unscanned and a text with many
# small blocks costs one rule pass more, not one per block
MAX_BLOCKS = 256


class _FoldTable(dict[int, str]):
    """``str.translate`` table that folds each code point on first sight (per Normalizer)."""

    def __missing__(self, cp: int) -> str:
        value = _fold_char(cp)
        self[cp] = value
        return value


def _fold_char(cp: int) -> str:
    if cp in _INVISIBLE:
        return ""
    if 0xE0020 <= cp <= 0xE007E:  # tag characters hide ASCII
        return chr(cp - 0xE0000)
    if 0xE0000 <= cp <= 0xE007F:
        return ""
    char = chr(cp)
    if char in _HOMOGLYPHS:
        return _HOMOGLYPHS[char]
    decomposed = unicodedata.normalize("NFKD", char)
    out = "".join(_HOMOGLYPHS.get(c, c) for c in decomposed if not unicodedata.combining(c))
    category = unicodedata.category(char)
    if category in ("Cc", "Cf") and char not in "\t\n\r":
        return ""
    return out


@dataclass(frozen=True)
class Folded:
    """The folded text and, when it differs in length from the original, the offset map:
    segment ``i`` starts at ``norm[i]`` in the folded text and ``orig[i]`` in the original;
    ``linear[i]`` is False for a segment that is the expansion of one original character."""

    text: str
    original: str
    norm: tuple[int, ...] = ()
    orig: tuple[int, ...] = ()
    linear: tuple[bool, ...] = ()

    @property
    def identity(self) -> bool:
        return not self.norm

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the folded span ``[start, end)``."""
        if self.identity:
            return start, end
        if end <= start:
            o = self._map(start, end=False)
            return o, o
        return self._map(start, end=False), self._map(end - 1, end=True)

    def _map(self, pos: int, *, end: bool) -> int:
        i = max(bisect_right(self.norm, pos) - 1, 0)
        base = self.orig[i]
        offset = pos - self.norm[i] if self.linear[i] else 0
        return min(base + offset + (1 if end else 0), len(self.original))


@dataclass(frozen=True)
class Decoded:
    """A decoded view: its decoded (and folded) text, how it was encoded, and the span of the
    encoded block in the original text. A whole-text view (``rot13``, ``reverse``) keeps the
    positions of the folded text, so its findings keep their own spans."""

    text: str
    how: str
    start: int
    end: int

    def span_of(self, start: int, end: int, folded: Folded) -> tuple[int, int]:
        """The original span of a match ``[start, end)`` found in this view."""
        if self.how == "spacing":  # a joined word is padded after: the span covers it
            text, limit = folded.text, min(len(self.text), end + 64)
            while end < limit and self.text[end] == " " and text[end] != " ":
                end += 1
        if self.how in SAME_LENGTH:
            return folded.span(start, end)
        if self.how == "reverse":
            n = len(self.text)
            return folded.span(n - end, n - start)
        return self.start, self.end


class Normalizer:
    """Folds text and finds encoded blocks. Holds its own fold table (no global cache)."""

    def __init__(self, decoders: tuple[str, ...] = DECODERS,
                 vocabulary: frozenset[str] = frozenset()) -> None:
        self.decoders = decoders
        self.vocabulary = vocabulary  # the words a split word is joined into ("spacing")
        self._table = _FoldTable()

    def fold(self, text: str) -> Folded:
        if text.isascii():
            return Folded(text, text)
        pieces: list[str] = []
        norm: list[int] = []
        orig: list[int] = []
        linear: list[bool] = []
        pos = npos = 0
        for m in _NON_ASCII_RUN.finditer(text):
            start, end = m.span()
            if start > pos:
                _seg(norm, orig, linear, npos, pos, True)
                pieces.append(text[pos:start])
                npos += start - pos
            run = m.group()
            folded = run.translate(self._table)
            if len(folded) == len(run):
                _seg(norm, orig, linear, npos, start, True)
                pieces.append(folded)
                npos += len(folded)
            else:
                npos = self._fold_run(run, start, npos, pieces, norm, orig, linear)
            pos = end
        if pos < len(text):
            _seg(norm, orig, linear, npos, pos, True)
            pieces.append(text[pos:])
        return Folded("".join(pieces), text, tuple(norm), tuple(orig), tuple(linear))

    def _fold_run(self, run: str, start: int, npos: int, pieces: list[str], norm: list[int],
                  orig: list[int], linear: list[bool]) -> int:
        """Character by character, only for a non-ASCII run whose length changes."""
        table = self._table
        for i, char in enumerate(run):
            out = table[ord(char)]
            if not out:
                continue
            is_linear = len(out) == 1
            if not (is_linear and linear and linear[-1]
                    and npos - norm[-1] == start + i - orig[-1]):
                _seg(norm, orig, linear, npos, start + i, is_linear)
            pieces.append(out)
            npos += len(out)
        return npos

    def fold_plain(self, text: str) -> str:
        """The folded text without an offset map (for decoded blocks)."""
        return text if text.isascii() else text.translate(self._table)

    def decode(self, folded: Folded, depth: int = 1) -> list[Decoded]:
        """Decoded views of the encoded blocks found in ``folded``, spans in the original."""
        text = folded.text
        out: list[Decoded] = []
        if "rot13" in self.decoders and _LETTERS.search(text):
            out.append(Decoded(text.translate(ROT13), "rot13", 0, len(folded.original)))
        if "reverse" in self.decoders and _LETTERS.search(text):
            out.append(Decoded(text[::-1], "reverse", 0, len(folded.original)))
        if "leet" in self.decoders:
            out += [Decoded(v, "leet", 0, len(folded.original))
                    for v in leet_views(text, self.vocabulary)]
        if "spacing" in self.decoders and self.vocabulary and depth == 1:
            joined = joined_view(text, self.vocabulary)
            if joined is not None:
                out.append(Decoded(joined, "spacing", 0, len(folded.original)))
            spelled = letters_view(text, self.vocabulary)
            if spelled is not None:
                out.append(Decoded(spelled, "spacing", 0, len(folded.original)))
        if "split" in self.decoders and depth == 1:
            quoted = quoted_view(text)
            if quoted is not None:
                q_start, q_end = folded.span(quoted[1], quoted[2])
                out.append(Decoded(quoted[0], "split", q_start, q_end))
        blocks: list[tuple[int, int, str, str]] = []
        if "base64" in self.decoders:
            blocks += [(start + m.start(), start + m.end(), "base64", s)
                       for start, token in long_tokens(text) for m in _BASE64.finditer(token)
                       if (s := _b64(m.group())) is not None]
        if "hex" in self.decoders:
            patterns = (_HEX, _HEX_SPACED, _HEX_ESCAPED) if "\\x" in text else (_HEX, _HEX_SPACED)
            for pattern in patterns:
                blocks += [(m.start(), m.end(), "hex", s) for m in pattern.finditer(text)
                           if (s := _hex(m.group())) is not None]
        if len(blocks) > MAX_BLOCKS:  # the rest is decoded as one view, one line per block
            blocks.sort(key=lambda b: b[0])
            rest = blocks[MAX_BLOCKS:]
            del blocks[MAX_BLOCKS:]
            blocks.append((rest[0][0], max(b[1] for b in rest), rest[0][2],
                           "\n".join(b[3] for b in rest)))
        for start, end, how, decoded in blocks:
            o_start, o_end = folded.span(start, end)
            plain = self.fold_plain(decoded)
            out.append(Decoded(plain, how, o_start, o_end))
            if depth < MAX_DEPTH:  # base64 inside hex, hex inside base64, ...
                inner = self.decode(Folded(plain, plain), depth + 1)
                out += [Decoded(d.text, f"{how}+{d.how}", o_start, o_end)
                        for d in inner if d.how not in WHOLE_VIEWS]
        return out


def long_tokens(text: str, minimum: int = 16) -> list[tuple[int, str]]:
    """(offset, token) of the whitespace-separated tokens of at least ``minimum`` chars."""
    out = []
    pos = 0
    for token in text.split():
        if len(token) >= minimum:
            pos = text.find(token, pos)
            out.append((pos, token))
            pos += len(token)
    return out


def _seg(norm: list[int], orig: list[int], linear: list[bool], npos: int, opos: int,
         is_linear: bool) -> None:
    norm.append(npos)
    orig.append(opos)
    linear.append(is_linear)


def _text_of(raw: bytes) -> str | None:
    """Decoded bytes as text when they are mostly printable UTF-8 with some words."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or not (_LETTERS.search(text) or _ENCODED.fullmatch(text)):
        return None  # no words, and not itself an encoded block (hex inside base64)
    unprintable = len(_UNPRINTABLE.findall(text))
    return text if 1 - unprintable / len(text) >= _PRINTABLE_MIN else None


def decoded_text(block: str) -> str | None:
    """The text a base64 or hex block encodes, or None when it is not encoded text."""
    return _b64(block) or _hex(block)


def _b64(block: str) -> str | None:
    body = block.rstrip("=")
    if len(body) < 16 or (body.isalpha() and (body.islower() or body.isupper())):
        return None  # one long lowercase or uppercase word is not base64
    if len(body) < 24 and not _B64_NON_ALPHA.search(body):
        return None  # a short run of letters only is a word, not a block
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = (base64.urlsafe_b64decode(padded) if ("-" in body or "_" in body)
               else base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError):
        return None
    return _text_of(raw)


def _hex(block: str) -> str | None:
    digits = _HEX_STRIP.sub("", block[2:] if block[:2].lower() == "0x" else block)
    if len(digits) % 2 or len(digits) < 16 or digits.isdigit():
        return None
    try:
        return _text_of(bytes.fromhex(digits))
    except ValueError:
        return None
