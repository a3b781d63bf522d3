"""Who may write through the UI (and read it, when it listens beyond this machine).

``AIRLOCK_UI_TOKENS`` (read through :mod:`airlock._config`) holds ``ACTOR=TOKEN`` pairs
separated by commas, e.g. ``alice=7f3c…,deploy-bot=91aa…``: the same comma-separated bearer
tokens as ``airlock serve``'s, each mapped to the actor its writes are audited as. Unset:
the UI is read-only. Tokens are compared in constant time against every configured token
(the time does not tell which matched) and never reach a log, a page or an error message.

A request carries its token as ``Authorization: Bearer TOKEN`` (the API), as the ``token``
field of a page's form, or in the ``airlock_ui_token`` cookie set by ``/login`` (HttpOnly,
SameSite=Strict; a write authenticated by the cookie must also come from the UI's own
origin).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from airlock._config import UI_TOKENS_ENV, ui_tokens
from airlock.errors import UsageError

__all__ = ["COOKIE", "MSG_BAD_TOKEN", "MSG_CROSS_ORIGIN", "MSG_NO_TOKEN", "MSG_WRITES_OFF",
           "Tokens", "bearer"]

COOKIE = "airlock_ui_token"
MSG_WRITES_OFF = (f"writes are off: start `airlock ui` with {UI_TOKENS_ENV} set "
                  "(ACTOR=TOKEN pairs, comma-separated) to set aliases, protect and promote")
MSG_NO_TOKEN = "this needs a token: send Authorization: Bearer TOKEN (or sign in at /login)"
MSG_BAD_TOKEN = f"the token is not one of {UI_TOKENS_ENV}"
MSG_CROSS_ORIGIN = ("refused: a write signed in by cookie must come from this UI's own pages "
                    "(Origin or Referer of another site)")
MSG_ENTRY = (f"{UI_TOKENS_ENV} entry {{n}} is not ACTOR=TOKEN: write pairs such as "
             "alice=TOKEN, separated by commas")


@dataclass(frozen=True)
class Tokens:
    """The configured (actor, token) pairs; empty: writes are off."""

    pairs: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def from_settings(cls) -> Tokens:
        """Parse ``AIRLOCK_UI_TOKENS``; a malformed entry is a UsageError naming its
        position (never its text, which may be a secret)."""
        secret = ui_tokens()
        if secret is None:
            return cls()
        pairs: list[tuple[str, bytes]] = []
        for n, entry in enumerate(secret.get_secret_value().split(","), start=1):
            if not entry.strip():
                continue
            actor, sep, token = entry.partition("=")
            if not sep or not actor.strip() or not token.strip():
                raise UsageError(MSG_ENTRY.format(n=n))
            pairs.append((actor.strip(), token.strip().encode()))
        if len({t for _, t in pairs}) != len(pairs):
            raise UsageError(f"{UI_TOKENS_ENV}: two entries share one token; give each "
                             "actor its own")
        return cls(tuple(pairs))

    @property
    def enabled(self) -> bool:
        return bool(self.pairs)

    def actor_for(self, given: str | None) -> str | None:
        """The actor ``given`` maps to, or None (every token is compared)."""
        if not given:
            return None
        raw = given.strip().encode()
        found: str | None = None
        for actor, token in self.pairs:
            if hmac.compare_digest(raw, token):
                found = actor
        return found


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return rest.strip() or None
