"""Bearer tokens, compared in constant time; tokens never reach a log or an error message."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ._config import AuthConfig

__all__ = ["Authenticator"]


class Authenticator:
    def __init__(self, config: AuthConfig) -> None:
        self._tokens = [t.encode() for t in config.resolved_tokens()]
        self._header = config.header.lower()
        self._prefix = (config.scheme.strip() + " ").lower() if config.scheme.strip() else ""
        self.protect_inference = config.protect_inference and bool(self._tokens)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def allowed(self, headers: Mapping[str, str], *, admin: bool = False) -> bool:
        """Admin endpoints always need a token (none configured: closed); inference needs one
        when tokens are configured and ``protect_inference`` is on."""
        if not admin and not self.protect_inference:
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
