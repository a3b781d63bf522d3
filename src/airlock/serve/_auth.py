"""Bearer tokens, compared in constant time; tokens never reach a log or an error message.

Inference (and feedback, the signature, metrics) take the endpoint's tokens (``auth.tokens``
and ``$AIRLOCK_SERVE_TOKENS``). The admin API takes the tokens of ``AIRLOCK_TOKENS`` (the one
token configuration shared with ``airlock ui``, :mod:`airlock._config`), each mapped to an
actor and roles: ``GET /v1/admin/status`` needs any role, ``POST /v1/admin/reload`` role
developer or admin; the actor that acts is the token's. An endpoint token sent to the admin
API is refused (403) with a message saying so (before roles, it opened the admin API).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from airlock._config import PERMISSIONS, TOKENS_ENV, TokenEntry, access_tokens
from airlock.errors import Forbidden, Unauthorized, UsageError

from ._config import AuthConfig

__all__ = ["MSG_ADMIN_NO_TOKEN", "MSG_ADMIN_ROLE", "MSG_ENDPOINT_TOKEN", "Authenticator"]

MSG_ADMIN_NO_TOKEN = (f"admin endpoints need a bearer token of {TOKENS_ENV} "
                      "(ACTOR:ROLE=TOKEN entries) in the header {header}")
MSG_ENDPOINT_TOKEN = (f"that is one of the endpoint's inference tokens; admin endpoints take a "
                      f"token of {TOKENS_ENV} (ACTOR:ROLE=TOKEN, e.g. ops:developer=…), which "
                      "says who acts")
MSG_ADMIN_ROLE = "{actor} may not {action}: that needs role {needs} (the token has {has})"


class Authenticator:
    """Raises UsageError when the config asks for protection that no token can give (the
    server must not start open when the operator said closed)."""

    def __init__(self, config: AuthConfig) -> None:
        self._tokens = [t.encode() for t in config.resolved_tokens()]
        self._header = config.header.lower()
        self._prefix = (config.scheme.strip() + " ").lower() if config.scheme.strip() else ""
        asked = [k for k in ("protect_inference", "protect_metadata")
                 if getattr(config, k) is True]
        if asked and not self._tokens:
            where = f"${config.tokens_env}" if config.tokens_env else "auth.tokens"
            raise UsageError(f"auth.{asked[0]} is true but no token is configured: set "
                             f"{where} (comma-separated tokens) or auth.tokens")
        self.protect_inference = config.protect_inference is not False and bool(self._tokens)
        metadata = config.protect_metadata
        self.protect_metadata = (self.protect_inference if metadata is None else metadata) \
            and bool(self._tokens)
        self._admin = access_tokens()
        self._header_name = config.header

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def _given(self, headers: Mapping[str, str]) -> bytes | None:
        value = headers.get(self._header, "")
        if self._prefix:
            if value[: len(self._prefix)].lower() != self._prefix:
                return None
            value = value[len(self._prefix):]
        return value.strip().encode() or None

    def admin(self, headers: Mapping[str, str], action: str) -> TokenEntry:
        """The entry of ``AIRLOCK_TOKENS`` the request's token is, when its roles permit
        ``action``; Unauthorized (401) without a known token, Forbidden (403) for an
        endpoint token or a role that does not permit ``action``."""
        given = self._given(headers)
        entry = self._admin.find(given.decode("utf-8", "replace")) if given else None
        if entry is None:
            if given is not None and self._matches(given):
                raise Forbidden(MSG_ENDPOINT_TOKEN)
            raise Unauthorized(MSG_ADMIN_NO_TOKEN.format(header=self._header_name))
        if not entry.can(action):
            needs = " or ".join(r for r in PERMISSIONS if action in PERMISSIONS[r])
            raise Forbidden(MSG_ADMIN_ROLE.format(actor=entry.actor, action=action, needs=needs,
                                                  has=", ".join(sorted(entry.roles))))
        return entry

    def _matches(self, given: bytes) -> bool:
        ok = False
        for token in self._tokens:  # check every token: the time does not tell which matched
            ok |= hmac.compare_digest(given, token)
        return ok

    def allowed(self, headers: Mapping[str, str], *, admin: bool = False,
                metadata: bool = False) -> bool:
        """Inference needs a token when tokens are configured and ``protect_inference`` is
        not false; the signature, metrics and OpenAPI document when ``protect_metadata``
        (default: as inference). ``admin``: see :meth:`admin` (this says only whether one
        of ``AIRLOCK_TOKENS`` with role read was sent)."""
        if admin:
            try:
                self.admin(headers, "read")
            except (Forbidden, Unauthorized):
                return False
            return True
        if not (self.protect_metadata if metadata else self.protect_inference):
            return True
        if not self._tokens:
            return False
        given = self._given(headers)
        return given is not None and self._matches(given)
