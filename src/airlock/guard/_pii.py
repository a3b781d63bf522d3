"""Rule-based PII and secret detectors: a candidate regex, then a validator in Python.

Every regex is linear in the input: bounded repetitions, no nested unbounded quantifiers, and
candidates start only at a word boundary (a negative look-behind), so a long run of one
character is tried once, not at every position. Validators (Luhn, IBAN mod 97, SSN ranges,
octet ranges, ``inet_pton``, entropy, context words) run only on the few candidates.

Each detector returns findings in the coordinates of the text it is given (the guard hands
it the folded text and maps spans back to the original).
"""

from __future__ import annotations

import math
import re
import socket
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any, TypeAlias

from ._normalize import decoded_text, long_tokens
from ._spans import SpanSet
from ._types import CAPPED, MAX_FINDINGS, PII_TYPES, Finding

__all__ = ["PII_DETECTORS", "PiiDetector", "luhn_ok", "mod97_ok", "words_of"]

_I = re.IGNORECASE
_DIGIT = re.compile(r"\d")
# context words a few characters before a candidate
_WORD = re.compile(r"[a-z0-9]+|#")
_PHONE_STRONG = frozenset(["phone", "phones", "tel", "telephone", "call", "calling", "mobile",
                           "cell", "cellphone", "fax", "whatsapp", "sms", "text", "ring",
                           "hotline", "dial", "signal", "telegram"])
_PHONE_WEAK = frozenset(["contact", "number", "reach", "at", "on", "via"])
_NOT_PII = frozenset(["order", "invoice", "ticket", "ref", "reference", "tracking", "sku",
                      "serial", "version", "isbn", "case", "booking", "confirmation", "po",
                      "part", "item", "product", "model", "build", "issue", "pr", "job", "batch",
                      "id", "transaction", "txn", "shipment", "parcel", "account", "acct",
                      "customer", "policy", "claim", "receipt", "bug", "request", "ver",
                      "release", "patch", "catalog", "lot", "route", "#", "v"])
_NUMBER_WORDS = frozenset(["number", "no", "num", "id", "nr"])
_BIRTH_WORDS = frozenset(["born", "birth", "dob", "birthday", "birthdate", "bday", "geboren",
                          "nee", "nacido", "nacida", "b"])
_BIRTH_CONTEXT = re.compile(r"\b(?:born|birth|dob|d\.o\.b|birthday|birthdate|bday|b-day|"
                            r"date of birth|geboren|nee|nacido|nacida)\b", _I)

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}"
                    r"(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
# patterns start with a character class (the regex engine skips to it in C), then check the
# character before it with a two-character look-behind
_PHONE = re.compile(
    r"[+(\d](?<![\w+/.:#=-][+(\d])(?:"
    r"(?<=\+)\d{7,15}"
    r"|(?:(?<=\+)|(?<=0)0(?=[1-9]))\d{1,3}[ .-]?(?:\(0\)[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,8}"
    r"(?:[ .-]\d{1,8}){0,5}"
    r"|(?<=\()\d{2,5}\)[ .-]?\d{2,8}(?:[ .-]\d{1,8}){0,4}"
    r"|(?<=\d)\d{1,4}(?:[ .-]\d{2,8}){1,5}"
    r"|(?<=\d)\d{9,10}"
    r")(?![\w-]|[.:/]\d)")
_SSN = re.compile(r"\d(?<![\w-]\d)\d{2}([- ])\d{2}\1\d{4}(?![\w-])")
_SSN_CONTEXT = re.compile(r"\b(?:ssn|social security(?: number| no\.?)?|ss#)\W{0,5}"
                          r"(\d{9}|\d{3}[- ]\d{2}[- ]\d{4})(?!\d)", _I)
_CARD = re.compile(r"\d(?<![\d.,-]\d)(?:\d{12,18}|\d{3}([ -])\d{4,6}\1\d{4,5}"
                   r"(?:\1\d{1,4}){0,2})(?![\d-]|[.,]\d)")
_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}"
                   r"(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w{1,16})?"
                   r"(?![\w:])")
_SCHEME_SEP = re.compile("://")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,20}$")
_CREDS = re.compile(r"([^\s:/@\"'<>]{1,128}:[^\s@/\"'<>]{1,256})@[A-Za-z0-9.\[\]-]{1,253}")
_PLACEHOLDER_PASSWORD = re.compile(r":(?:password|pass|passwd|pwd|secret|x+|\*+|<[^>]*>|"
                                   r"\$\{?[\w.]+\}?|\{\{?[\w. ]+\}?\}|\.\.\.|changeme)$", _I)
_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_DATE = re.compile(
    r"(?<![\w/.-])(?:"
    r"(?P<y1>\d{4})[-/.](?P<m1>\d{1,2})[-/.](?P<d1>\d{1,2})"
    r"|(?P<a2>\d{1,2})[-/.](?P<b2>\d{1,2})[-/.](?P<y2>\d{4}|\d{2})"
    rf"|(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?(?P<m3>{_MONTHS})\.?,?\s(?P<y3>\d{{4}})"
    rf"|(?P<m4>{_MONTHS})\.?\s(?P<d4>\d{{1,2}})(?:st|nd|rd|th)?,?\s(?P<y4>\d{{4}})"
    r")(?![\w/-]|\.\d)", _I)

# secrets: (name, pattern, score); the value is the whole match unless group 1 is set
_SECRET_SHAPES: list[tuple[str, str, float]] = [
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", 0.95),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
     0.95),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,64}", 0.95),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,250}", 0.95),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,120}", 0.95),
    ("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,99}\b", 0.95),
    ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,200}",
     0.9),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", 0.95),
    ("sendgrid_key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b", 0.95),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", 0.95),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{34,40}\b", 0.95),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,4096}",
     0.9),
    ("private_key", r"-----BEGIN (?:[A-Z]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----", 0.99),
]
# a private key's block runs to the first END line within this many characters (found by
# bisect over the END lines, not by a lazy scan from every BEGIN)
_KEY_END = re.compile(r"-----END (?:[A-Z]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_KEY_BODY_MAX = 16384
_SECRET_RES = {name: re.compile(pattern) for name, pattern, _ in _SECRET_SHAPES}
_SECRET_SCORE = {name: score for name, _, score in _SECRET_SHAPES}
# a shape is tried only when one of its literal markers is in the text
_SECRET_MARKERS = {
    "aws_access_key": ("AKIA", "ASIA", "ABIA", "ACCA"), "github_token": ("gh", "github_pat_"),
    "gitlab_token": ("glpat-",), "slack_token": ("xox",), "slack_webhook": ("hooks.slack",),
    "stripe_key": ("_live_", "_test_"), "openai_key": ("sk-",), "google_api_key": ("AIza",),
    "sendgrid_key": ("SG.",), "npm_token": ("npm_",), "huggingface_token": ("hf_",),
    "jwt": ("eyJ",), "private_key": ("PRIVATE KEY",),
}
_SECRET_WORDS = frozenset(["api", "apikey", "secret", "access", "auth", "token", "password",
                           "passwd", "passphrase", "pwd", "pin", "client", "private", "bearer"])
_SECRET_FINDERS = {w: re.compile(re.escape(w)) for w in _SECRET_WORDS}
_ASSIGNMENT = re.compile(
    r"\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?(?:key|token)|auth[_-]?token|"
    r"token|password|passwd|passphrase|pwd|pin|client[_-]?secret|private[_-]?key|bearer)"
    r"\b[\"']?\s{0,3}(?:[:=]|=>|\bis\b)\s{0,3}[\"']?([^\s\"'`,;]{4,200})", _I)
_PLACEHOLDER = re.compile(r"^(?:<[^>]*>|\$\{?[\w.]+\}?|\{\{?[\w. ]+\}?\}|\*+|x+|\.+|your[_-]\S*|"
                          r"null|none|nil|true|false|undefined|changeme|example|redacted|"
                          r"required|optional|incorrect|invalid|wrong|expired|missing|empty|"
                          r"correct|set|unset|hidden|stored|hashed|encrypted|secret|token|"
                          r"password|required\.?)$", _I)
_CODE_LIKE = re.compile(r"[(\[{]|^(?:os\.|process\.|env\.|self\.|this\.|config\.|settings\.|"
                        r"request\.|getenv)|^[a-z_]+\.[a-z_]+$", _I)
_HAS_DIGIT_OR_SYMBOL = re.compile(r"[\d!@#$%^&*?+=~]")
_ENTROPY_CANDIDATE = re.compile(r"(?<![\w+/=.-])[A-Za-z0-9_+/=-]{24,512}(?![\w+/=.-])")
_UPPER, _LOWER = re.compile(r"[A-Z]"), re.compile(r"[a-z]")
_HEX_ONLY = re.compile(r"^[0-9a-fA-F-]+$")
_NON_DIGIT = re.compile(r"\D")
_COLON_PAIR = re.compile(r":[0-9A-Fa-f]{0,4}:")
_VERSION_BEFORE = re.compile(r"\b(?:version|ver|release|v)\.?\s?$", _I)

_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
_CARD_PREFIXES = re.compile(r"^(?:4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6011|65|"
                            r"64[4-9]|35(?:2[89]|[3-8]\d)|30[0-5]|36|38|62|50|5[06-9]|6\d)")

Raw: TypeAlias = tuple[str, int, int, float, str]  # (type, start, end, score, detector)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mod97_ok(iban: str) -> bool:
    """The ISO 13616 check of an IBAN without spaces (upper case)."""
    moved = iban[4:] + iban[:4]
    as_digits = "".join(str(int(c, 36)) for c in moved)
    return int(as_digits) % 97 == 1


def words_of(text: str) -> set[str]:
    """The lower-case words (runs of ASCII letters and digits) of ``text``, and ``#``."""
    return set(_WORD.findall(text.lower()))


def _before(text: str, start: int, width: int = 32) -> str:
    return text[max(0, start - width):start]


# _WORD's tokens by str.translate and split for an ASCII window: the detectors look at the
# words before every candidate, and 1 MB of candidates made findall a third of their time
_WORD_SEPARATORS = str.maketrans({chr(i): " # " if chr(i) == "#" else " " for i in range(128)
                                  if not (chr(i).isdigit() or "a" <= chr(i) <= "z")})


def _words_before(text: str, start: int, width: int = 40) -> list[str]:
    """The lower-case words (``_WORD`` tokens) of the ``width`` characters before ``start``."""
    window = text[max(0, start - width):start].lower()
    if window.isascii():
        return window.translate(_WORD_SEPARATORS).split()
    return _WORD.findall(window)


def _negative_context(text: str, start: int) -> bool:
    """An identifier label right before the number: "order #", "invoice no.", "ref: "."""
    words = _words_before(text, start, 32)[-6:]
    while words and (words[-1] in _NUMBER_WORDS or
                     (words[-1] != "#" and not words[-1].isalpha())):
        words.pop()  # skip "number", "no", and earlier parts of the identifier: "1Z 999 AA1"
    return bool(words) and words[-1] in _NOT_PII


# -- detectors: text -> raw findings --------------------------------------------------------
def find_email(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    if "@" not in text:
        return ()
    return [("EMAIL", m.start(), m.end(), 0.95, "pii.EMAIL") for m in _EMAIL.finditer(text)
            if ".." not in m.group() and not m.group().startswith(".")]


def find_phone(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    out = []
    for m in _PHONE.finditer(text):
        score = _phone_score(m.group(), text, m.start())
        if score > 0:
            out.append(("PHONE", m.start(), m.end(), score, "pii.PHONE"))
    return out


def _phone_score(cand: str, text: str, start: int) -> float:
    digits = _NON_DIGIT.sub("", cand)
    n = len(digits)
    if not 7 <= n <= 15:
        return 0.0
    before = _words_before(text, start)
    strong = not _PHONE_STRONG.isdisjoint(before)
    context = strong or not _PHONE_WEAK.isdisjoint(before)
    if not strong and _negative_context(text, start):
        return 0.0
    kinds = (" " in cand) + ("." in cand) + ("-" in cand)  # how many separator characters
    if cand[0] == "+" or (cand.startswith("00") and cand[2:3] in tuple("123456789")):
        score = 0.85 if n >= 8 else 0.4
    elif cand[0] == "(":
        score = 0.8 if n in (10, 11) else 0.45
    elif not kinds:
        score = 0.75 if (context and digits[0] in "01") or (context and n == 10) else 0.0
    elif kinds > 1 or _looks_like_date(groups := _groups(cand)):
        score = 0.2
    else:
        score = _grouped_score(groups, digits)
    return min(score + (0.25 if strong else 0.15 if context else 0.0), 0.99)


def _groups(cand: str) -> list[str]:
    """``cand`` split at each space, dot and dash (as ``re.split(r"[ .-]")``, faster)."""
    return cand.replace(".", " ").replace("-", " ").split(" ")


def _looks_like_date(groups: list[str]) -> bool:
    return len(groups) == 3 and (len(groups[0]) == 4 or len(groups[2]) in (2, 4)) and all(
        len(g) <= 4 for g in groups) and (len(groups[0]) + len(groups[1]) + len(groups[2]) <= 8)


def _grouped_score(groups: list[str], digits: str) -> float:
    sizes = [len(g) for g in groups]
    n = len(digits)
    if sizes == [3, 3, 4] and digits[0] not in "01" and digits[3] not in "01":
        return 0.75  # North American 555-123-4567
    if digits[0] == "0" and 10 <= n <= 11 and len(sizes) <= 5:
        return 0.7  # national trunk prefix: 020 7946 0958, 07700 900123, 01 23 45 67 89
    if sizes == [3, 4] or sizes == [3, 3, 4]:
        return 0.4  # local or 0/1-led: needs a context word
    return 0.3


def _ssn_ok(value: str) -> bool:
    digits = _NON_DIGIT.sub("", value)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def find_ssn(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    out = [("US_SSN", m.start(), m.end(), 0.85 if not _negative_context(text, m.start())
            else 0.3, "pii.US_SSN") for m in _SSN.finditer(text) if _ssn_ok(m.group())]
    if "ssn" in words or "social" in words:
        seen = {o[1] for o in out}
        out += [("US_SSN", m.start(1), m.end(1), 0.9, "pii.US_SSN")
                for m in _SSN_CONTEXT.finditer(text)
                if m.start(1) not in seen and _ssn_ok(m.group(1))]
    return out


def find_card(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    out = []
    for m in _CARD.finditer(text):
        digits = _NON_DIGIT.sub("", m.group())
        if not 13 <= len(digits) <= 19 or not luhn_ok(digits):
            continue
        if not _CARD_PREFIXES.match(digits) or len(set(digits)) < 2:
            continue
        score = 0.4 if _negative_context(text, m.start()) else 0.9
        out.append(("CREDIT_CARD", m.start(), m.end(), score, "pii.CREDIT_CARD"))
    return out


def find_iban(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    out = []
    for m in _IBAN.finditer(text):
        compact = m.group().replace(" ", "")
        if _IBAN_LENGTHS.get(compact[:2]) == len(compact) and mod97_ok(compact):
            out.append(("IBAN", m.start(), m.end(), 0.95, "pii.IBAN"))
    return out


def find_ip(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    out: list[Raw] = []
    if "." in text:
        for m in _IPV4.finditer(text):
            octets = m.group().split(".")
            if not all(int(o) <= 255 and (o[0] != "0" or o == "0") for o in octets):
                continue  # what ipaddress.IPv4Address refuses, without its cost per candidate
            version = _VERSION_BEFORE.search(_before(text, m.start(), 12))
            score = 0.3 if version or octets[0] == "127" or m.group() in (
                "0.0.0.0", "255.255.255.255") else 0.85
            out.append(("IP_ADDRESS", m.start(), m.end(), score, "pii.IP_ADDRESS"))
    if _COLON_PAIR.search(text):
        for m in _IPV6.finditer(text):
            out += _ipv6(m)
    return out


def _ipv6(m: re.Match[str]) -> list[Raw]:
    cand = m.group()
    if not _DIGIT.search(cand) or cand.count(":") < 2:
        return []
    try:  # inet_pton: the C parser (ipaddress costs ~5 us a candidate)
        packed = socket.inet_pton(socket.AF_INET6, cand.split("%")[0])
    except (OSError, ValueError):
        return []
    if packed[:15] == bytes(15) and packed[15] in (0, 1):
        score = 0.3  # :: and ::1
    else:
        score = 0.6 if packed[0] == 0xFE and packed[1] & 0xC0 == 0x80 else 0.85  # fe80::/10
    return [("IP_ADDRESS", m.start(), m.end(), score, "pii.IP_ADDRESS")]


def find_url_credentials(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    """``scheme://user:password@host``: the span is ``user:password``."""
    out: list[Raw] = []
    for sep in _SCHEME_SEP.finditer(text):
        if _SCHEME.search(text, max(0, sep.start() - 21), sep.start()) is None:
            continue
        m = _CREDS.match(text, sep.end())
        if m is not None:
            score = 0.4 if _PLACEHOLDER_PASSWORD.search(m.group(1)) else 0.95
            out.append(("URL_CREDENTIALS", m.start(1), m.end(1), score, "pii.URL_CREDENTIALS"))
    return out


def find_secret(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    out: list[Raw] = [("SECRET", m.start(), m.end(), _SECRET_SCORE[name], f"pii.SECRET.{name}")
                      for name, markers in _SECRET_MARKERS.items()
                      if name != "private_key" and any(marker in text for marker in markers)
                      for m in _SECRET_RES[name].finditer(text)]
    if "PRIVATE KEY" in text:
        out += _private_keys(text)
    taken = SpanSet()
    for o in out:
        taken.add(o[1], o[2])
    for m in _assignments(text, words):
        value, start = m.group(1), m.start(1)
        if taken.overlaps(start, m.end(1)) or not _secret_value(value, m.group(0)):
            continue
        out.append(("SECRET", start, m.end(1), 0.8, "pii.SECRET.assignment"))
        taken.add(start, m.end(1))
    for offset, token in long_tokens(text, 24):
        for m in _ENTROPY_CANDIDATE.finditer(token):
            start, end = offset + m.start(), offset + m.end()
            if not taken.overlaps(start, end) and _random_token(m.group()):
                out.append(("SECRET", start, end, 0.6, "pii.SECRET.entropy"))
    return out


def _private_keys(text: str) -> list[Raw]:
    """``-----BEGIN … PRIVATE KEY-----`` up to its END line when one follows within
    _KEY_BODY_MAX characters (else the BEGIN line alone)."""
    ends = [(m.start(), m.end()) for m in _KEY_END.finditer(text)]
    starts = [e[0] for e in ends]
    out: list[Raw] = []
    for m in _SECRET_RES["private_key"].finditer(text):
        i = bisect_left(starts, m.end())
        end = ends[i][1] if i < len(ends) and starts[i] - m.end() <= _KEY_BODY_MAX else m.end()
        out.append(("SECRET", m.start(), end, _SECRET_SCORE["private_key"],
                    "pii.SECRET.private_key"))
    return out


def _assignments(text: str, words: AbstractSet[str]) -> list[re.Match[str]]:
    """``key = value`` matches, tried only where a key word starts."""
    present = _SECRET_WORDS.intersection(words)
    if not present:
        return []
    low = text.lower()
    out = []
    for word in present:
        for hit in _SECRET_FINDERS[word].finditer(low):
            pos = hit.start()
            if pos and low[pos - 1].isalnum():
                continue
            m = _ASSIGNMENT.match(text, pos)
            if m is not None:
                out.append(m)
    return out


def _secret_value(value: str, whole: str) -> bool:
    value = value.rstrip(".")
    if len(value) < 4 or _PLACEHOLDER.match(value) or _CODE_LIKE.search(value):
        return False
    linking = re.search(r"\bis\b", whole[: len(whole) - len(value)], _I) is not None
    if linking or len(value) < 8:  # "the token is expired": a word, not a secret
        return _HAS_DIGIT_OR_SYMBOL.search(value) is not None
    return True


def _random_token(token: str) -> bool:
    if _HEX_ONLY.match(token) or not (_UPPER.search(token) and _LOWER.search(token)
                                      and _DIGIT.search(token)):
        return False
    return _entropy(token) >= 4.0 and decoded_text(token) is None


def _entropy(token: str) -> float:
    counts = Counter(token)
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def find_dob(text: str, words: AbstractSet[str]) -> Iterable[Raw]:
    if _BIRTH_WORDS.isdisjoint(words):
        return ()
    out = []
    for m in _DATE.finditer(text):
        if _BIRTH_CONTEXT.search(_before(text, m.start(), 48)) and _plausible_date(m):
            out.append(("DATE_OF_BIRTH", m.start(), m.end(), 0.85, "pii.DATE_OF_BIRTH"))
    return out


def _plausible_date(m: re.Match[str]) -> bool:
    g: dict[str, Any] = m.groupdict()
    year = g["y1"] or g["y2"] or g["y3"] or g["y4"]
    if len(year) == 4 and not 1900 <= int(year) <= 2100:
        return False
    if g["y1"]:
        return 1 <= int(g["m1"]) <= 12 and 1 <= int(g["d1"]) <= 31
    if g["y2"]:
        a, b = int(g["a2"]), int(g["b2"])
        return min(a, b) >= 1 and max(a, b) <= 31 and min(a, b) <= 12
    day = int(g["d3"] or g["d4"])
    return 1 <= day <= 31


PII_DETECTORS: dict[str, Callable[[str, AbstractSet[str]], Iterable[Raw]]] = {
    "EMAIL": find_email, "PHONE": find_phone, "CREDIT_CARD": find_card, "IBAN": find_iban,
    "US_SSN": find_ssn, "IP_ADDRESS": find_ip, "URL_CREDENTIALS": find_url_credentials,
    "SECRET": find_secret, "DATE_OF_BIRTH": find_dob,
}
# digits are needed by these; a text without a digit skips them
_NEEDS_DIGIT = frozenset({"PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS",
                          "DATE_OF_BIRTH"})
# when spans overlap, the more specific type wins (lower rank = more specific)
_RANK = {t: i for i, t in enumerate(("URL_CREDENTIALS", "SECRET", "EMAIL", "IBAN",
                                     "CREDIT_CARD", "US_SSN", "IP_ADDRESS", "DATE_OF_BIRTH",
                                     "PHONE"))}


class PiiDetector:
    """Runs the selected detectors, drops findings under ``threshold`` and resolves overlaps
    (the more specific type wins, then the longer span). A detector that finds more than
    MAX_FINDINGS keeps its first ones by position; the rest become one ``TOO_MANY_FINDINGS``
    finding spanning them (not resolved against others: it is redacted as one block)."""

    def __init__(self, types: Iterable[str] = PII_TYPES, threshold: float = 0.5) -> None:
        self.types = tuple(t for t in PII_TYPES if t in set(types))
        self.threshold = threshold

    def find(self, text: str, words: AbstractSet[str] | None = None) -> list[Finding]:
        """Findings in ``text``; ``words`` is the set of its lower-case words (computed here
        when not given)."""
        if words is None:
            words = words_of(text)
        has_digit = _DIGIT.search(text) is not None
        raw: list[Raw] = []
        capped: list[Raw] = []
        for t in self.types:
            if t in _NEEDS_DIGIT and not has_digit:
                continue
            found = [r for r in PII_DETECTORS[t](text, words) if r[3] >= self.threshold]
            if len(found) > MAX_FINDINGS:  # the first ones by position, the rest as one span
                found.sort(key=lambda r: r[1])
                rest = found[MAX_FINDINGS:]
                capped.append((CAPPED, rest[0][1], max(r[2] for r in rest), 1.0,
                               f"max_findings.{len(rest)}"))
                del found[MAX_FINDINGS:]
            raw.extend(found)
        return [Finding(t, s, e, sc, d) for t, s, e, sc, d in [*_resolve(raw), *capped]]


def _resolve(raw: list[Raw]) -> list[Raw]:
    if len(raw) < 2:
        return raw
    # one sort by priority, then one sweep: a span is kept when it overlaps none kept before
    ordered = sorted(raw, key=lambda r: (_RANK.get(r[0], 99), -(r[2] - r[1]), r[1]))
    kept = SpanSet()
    out = [r for r in ordered if kept.add_if_free(r[1], r[2])]
    return sorted(out, key=lambda r: r[1])
