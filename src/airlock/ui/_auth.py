"""Who may write through the UI (and read it, when it listens beyond this machine).

Tokens come from ``AIRLOCK_TOKENS`` (read through :mod:`airlock._config`, the one token
configuration shared with ``airlock serve``'s admin API): entries ``ACTOR:ROLE[+ROLE]=TOKEN``
separated by commas, e.g. ``alice:developer=7f3c…,bob:approver=91aa…``; the older
``AIRLOCK_UI_TOKENS`` (``ACTOR=TOKEN`` pairs) still works, each pair with role ``admin``.
Unset: the UI is read-only. Each write needs a role that permits it
(:data:`airlock._config.PERMISSIONS`: setting an alias and promoting need ``developer``,
approving ``approver``, protecting and overriding ``admin``), else 403; it is audited as the
token's actor, never as a name the client sends. Tokens are compared in constant time
against every configured token (the time does not tell which matched) and never reach a
log, a page or an error message.

A request carries its token as ``Authorization: Bearer TOKEN`` (the API), as the ``token``
field of a page's form, or in the ``airlock_ui_token`` cookie set by ``/login`` (HttpOnly,
SameSite=Strict; a write authenticated by the cookie must also come from the UI's own
origin).
"""

from __future__ import annotations

from collections.abc import Mapping

from airlock._config import PERMISSIONS, TOKENS_ENV, AccessTokens, TokenEntry, access_tokens

__all__ = ["COOKIE", "MSG_CROSS_ORIGIN", "MSG_NO_TOKEN", "MSG_ROLE", "MSG_WRITES_OFF",
           "AccessTokens", "bad_token", "bearer", "load_tokens", "role_problem"]

COOKIE = "airlock_ui_token"
MSG_WRITES_OFF = (f"writes are off: start `airlock ui` with {TOKENS_ENV} set "
                  "(ACTOR:ROLE=TOKEN entries, comma-separated) to set aliases, protect, "
                  "approve and promote")
MSG_NO_TOKEN = "this needs a token: send Authorization: Bearer TOKEN (or sign in at /login)"
MSG_BAD_TOKEN = "the token is not one of {var}"
MSG_CROSS_ORIGIN = ("refused: a write signed in by cookie must come from this UI's own pages "
                    "(Origin or Referer of another site)")
MSG_ROLE = "{actor} may not {action}: that needs role {needs} (the token has {has})"


def load_tokens() -> AccessTokens:
    """The configured tokens (a malformed entry is a UsageError naming its position)."""
    return access_tokens()


def bad_token(tokens: AccessTokens) -> str:
    return MSG_BAD_TOKEN.format(var=tokens.variable)


def role_problem(entry: TokenEntry, action: str) -> str | None:
    """Why ``entry`` may not do ``action`` (None: it may)."""
    if entry.can(action):
        return None
    needs = " or ".join(r for r in PERMISSIONS if action in PERMISSIONS[r])
    return MSG_ROLE.format(actor=entry.actor, action=action, needs=needs,
                           has=", ".join(sorted(entry.roles)))


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return rest.strip() or None
