"""Bearer tokens, compared in constant time; tokens never reach a log or an error message."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from airlock.errors import UsageError

from ._config import AuthConfig

__all__ = ["Authenticator"]


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

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def allowed(self, headers: Mapping[str, str], *, admin: bool = False,
                metadata: bool = False) -> bool:
        """Admin endpoints always need a token (none configured: closed); inference needs one
        when tokens are configured and ``protect_inference`` is not false; the signature,
        metrics and OpenAPI document when ``protect_metadata`` (default: as inference)."""
        if not admin and not (self.protect_metadata if metadata else self.protect_inference):
            return True
        if not self._tokens:
            return False
        value = headers.get(self._header, "")
        if self._prefix:
            if value[: len(self._prefix)].lower() != self._prefix:
                return False
            value = value[len(self._prefix):]
        given = value.strip().encode()
        ok = False
        for token in self._tokens:  # check every token: the time does not tell which matched
            ok |= hmac.compare_digest(given, token)
        return ok
