"""What every route of one app shares: its configuration, its tokens and its alert rules,
and who is looking at a page."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from airlock.monitor import AlertRules

from ._auth import COOKIE, AccessTokens, bearer
from ._cache import ReportCache
from ._options import UiConfig
from ._pages import Viewer

__all__ = ["Context"]


@dataclass(frozen=True)
class Context:
    config: UiConfig
    tokens: AccessTokens
    rules: list[tuple[Path, AlertRules]]
    reports: ReportCache = field(default_factory=lambda: ReportCache(ttl=0))

    def actor(self, request: Request) -> str | None:
        """The actor of the request's bearer token or sign-in cookie, if valid."""
        if not self.tokens.enabled:
            return None
        entry = self.tokens.find(bearer(request.headers) or request.cookies.get(COOKIE))
        return entry.actor if entry is not None else None

    def viewer(self, request: Request) -> Viewer:
        return Viewer(writes=self.tokens.enabled, actor=self.actor(request))
