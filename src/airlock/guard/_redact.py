"""Redaction: mask, typed placeholder, salted hash, or reversible tokenisation.

``tokenize`` is deterministic authenticated encryption built from HMAC-SHA256 only (an SIV
construction): the synthetic IV is ``HMAC(k_mac, type || value)[:16]``, the value is XORed
with an HMAC-SHA256 keystream keyed by ``k_enc`` and that IV, and the token is
``<TYPE:tk.BASE64URL(iv || ciphertext)>``. The same value gives the same token under one key
(joins across logs still work), a token cannot be read without the key, and ``detokenize``
checks the IV, so a forged or altered token is rejected. The key comes from
``Tokenizer(key=...)`` or the environment variable ``AIRLOCK_GUARD_KEY``; it is never part of
a verdict or a policy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Literal

from airlock._config import GUARD_KEY_ENV, GUARD_SALT_ENV, settings
from airlock.errors import InvalidInput, UsageError

from ._types import Finding, underlying_type

__all__ = ["KEY_ENV", "MODES", "SALT_ENV", "Mode", "Tokenizer", "redact"]

Mode = Literal["mask", "placeholder", "hash", "tokenize"]
MODES: tuple[Mode, ...] = ("mask", "placeholder", "hash", "tokenize")
KEY_ENV = GUARD_KEY_ENV
SALT_ENV = GUARD_SALT_ENV
MSG_NO_KEY = (f"redaction mode 'tokenize' needs a key: set {KEY_ENV} or pass "
              "Guard(policy, tokenizer=Tokenizer(key=...))")
MSG_BAD_TOKEN = "not a valid airlock token (altered, or made with another key): {token!r}"
_TOKEN = re.compile(r"<([A-Z][A-Z0-9_]{0,40}):tk\.([A-Za-z0-9_-]{24,4096})>")
_IV = 16


class Tokenizer:
    """Reversible, deterministic tokens for values; the key stays in this object."""

    def __init__(self, *, key: str | bytes | None = None) -> None:
        env_key = settings().guard_key
        raw = key if key is not None else env_key.get_secret_value() if env_key else None
        if not raw:
            raise UsageError(MSG_NO_KEY)
        secret = raw.encode() if isinstance(raw, str) else bytes(raw)
        self._mac = hmac.new(secret, b"airlock-guard/siv-mac", hashlib.sha256).digest()
        self._enc = hmac.new(secret, b"airlock-guard/siv-enc", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "Tokenizer(key=<hidden>)"

    def _stream(self, iv: bytes, n: int) -> bytes:
        blocks = [hmac.new(self._enc, iv + i.to_bytes(4, "big"), hashlib.sha256).digest()
                  for i in range((n + 31) // 32)]
        return b"".join(blocks)[:n]

    def _iv(self, kind: str, data: bytes) -> bytes:
        return hmac.new(self._mac, kind.encode() + b"\x00" + data, hashlib.sha256).digest()[:_IV]

    def token(self, kind: str, value: str) -> str:
        data = value.encode("utf-8")
        iv = self._iv(kind, data)
        body = _xor(data, self._stream(iv, len(data)))
        return f"<{kind}:tk.{base64.urlsafe_b64encode(iv + body).decode().rstrip('=')}>"

    def value(self, token: str) -> str:
        """The value of one token; InvalidInput when it was altered or made with another key."""
        m = _TOKEN.fullmatch(token)
        if m is None:
            raise InvalidInput(MSG_BAD_TOKEN.format(token=token[:80]))
        return self._open(m.group(1), m.group(2), token)

    def _open(self, kind: str, body64: str, token: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(body64 + "=" * (-len(body64) % 4))
        except ValueError:
            raise InvalidInput(MSG_BAD_TOKEN.format(token=token[:80])) from None
        iv, body = raw[:_IV], raw[_IV:]
        data = _xor(body, self._stream(iv, len(body)))
        if len(iv) != _IV or not hmac.compare_digest(iv, self._iv(kind, data)):
            raise InvalidInput(MSG_BAD_TOKEN.format(token=token[:80]))
        return data.decode("utf-8")

    def detokenize(self, text: str) -> str:
        """``text`` with every token made by this key replaced by its value."""
        return _TOKEN.sub(lambda m: self._open(m.group(1), m.group(2), m.group(0)), text)


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _hash(kind: str, value: str, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}\x00{kind}\x00{value}".encode()).hexdigest()
    return f"<{kind}:{digest[:12]}>"


def redact(text: str, findings: Sequence[Finding], modes: dict[str, Mode], *,
           default: Mode = "placeholder", salt: str = "", mask_char: str = "*",
           tokenizer: Tokenizer | None = None) -> str:
    """``text`` with the spans of ``findings`` replaced. Overlapping spans are merged into
    their union, replaced as the first (earliest, then longest) finding's type. Placeholders
    are numbered per type and distinct value within this text: the same email twice is
    ``<EMAIL_1>`` twice."""
    spans = sorted((f for f in findings if f.end > f.start),
                   key=lambda f: (f.start, -(f.end - f.start)))
    if not spans:
        return text
    groups: list[tuple[Finding, int]] = []  # (first finding, end of the union)
    for f in spans:
        if groups and f.start < groups[-1][1]:
            groups[-1] = (groups[-1][0], max(groups[-1][1], f.end))
        else:
            groups.append((f, f.end))
    pieces: list[str] = []
    numbers: dict[tuple[str, str], int] = {}
    per_type: dict[str, int] = {}
    pos = 0
    for first, end in groups:
        kind = underlying_type(first)
        value = text[first.start:end]
        mode = modes.get(kind, default)
        pieces.append(text[pos:first.start])
        if mode == "mask":
            pieces.append(mask_char * len(value))
        elif mode == "hash":
            pieces.append(_hash(kind, value, salt))
        elif mode == "tokenize":
            if tokenizer is None:
                raise UsageError(MSG_NO_KEY)
            pieces.append(tokenizer.token(kind, value))
        else:
            if (kind, value) not in numbers:
                per_type[kind] = per_type.get(kind, 0) + 1
                numbers[(kind, value)] = per_type[kind]
            pieces.append(f"<{kind}_{numbers[(kind, value)]}>")
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)
