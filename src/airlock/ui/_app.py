"""The UI's ASGI app: HTML pages and a JSON API (``/api/...``) over the same functions.

Security headers on every answer: a Content-Security-Policy that allows only this origin's
own script (one small file), no inline script, no external resource; no framing except of
the UI's own sandboxed report viewer. With ``reads_need_token`` every page and API route
but ``/login`` needs a token (bearer header or sign-in cookie).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airlock.errors import AirlockError, StoreVersionError

from . import _pages, _routes_ops, _routes_read, _routes_write
from ._auth import MSG_NO_TOKEN, load_tokens
from ._cache import ReportCache
from ._context import Context
from ._endpoints import load_rule_files
from ._options import UiConfig

__all__ = ["CSP", "create_app"]

CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
       "img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
UPGRADE_HINT = ("Run `airlock store upgrade` (with the same --store-uri / AIRLOCK_STORE_URI) "
                "to migrate the store, then reload this page.")
STATIC = Path(__file__).with_name("static")
OPEN_PATHS = frozenset({"/login", "/static/ui.js"})


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


HEADINGS = {400: "Bad request", 401: "Sign-in needed", 403: "Not allowed", 404: "Not found",
            409: "Refused", 413: "Too large", 422: "Bad request",
            503: "Store needs an upgrade"}


def _error(request: Request, status: int, message: str, hint: str | None = None) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="airlock ui"'} if status == 401 else None
    if _is_api(request):
        body: dict[str, Any] = {"error": message}
        if hint:
            body["hint"] = hint
        return JSONResponse(body, status_code=status, headers=headers)
    ctx: Context | None = getattr(request.app.state, "ctx", None)
    viewer = ctx.viewer(request) if ctx is not None else None
    return HTMLResponse(_pages.render_error(HEADINGS.get(status, "Error"), message, hint,
                                            viewer), status_code=status, headers=headers)


def create_app(config: UiConfig | None = None) -> FastAPI:
    """The app on the store the settings name (AIRLOCK_STORE_URI, AIRLOCK_HOME…); tokens
    from AIRLOCK_TOKENS (none: read-only), alert rules from ``config.rules``."""
    cfg = config or UiConfig()
    ctx = Context(cfg, load_tokens(), load_rule_files(cfg.rules),
                  ReportCache(ttl=cfg.refresh_seconds))
    app = FastAPI(title="airlock UI", version="1", docs_url=None, redoc_url=None,
                  description="The JSON API behind every page of `airlock ui`. Reads need no "
                  "token on loopback; writes need `Authorization: Bearer TOKEN` with a token "
                  "of AIRLOCK_TOKENS (ACTOR:ROLE=TOKEN entries) whose role permits them, and "
                  "are audited as its actor.")
    app.state.ctx = ctx

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if cfg.reads_need_token and request.url.path not in OPEN_PATHS \
                and ctx.actor(request) is None:
            if _is_api(request) or request.method != "GET":
                return _error(request, 401, MSG_NO_TOKEN)
            return RedirectResponse(f"/login?next={quote(request.url.path, safe='/')}",
                                    status_code=303)
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(AirlockError)
    async def _airlock_error(request: Request, exc: AirlockError) -> Response:
        if isinstance(exc, StoreVersionError):
            hint = UPGRADE_HINT if "airlock store upgrade" in exc.message else None
            return _error(request, 503, exc.message, hint)
        return _error(request, exc.http_status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path",
                                                                         "body"))
        return _error(request, 400, f"invalid {where or 'request'}: {first.get('msg', '')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and exc.detail in ("Not Found", None):
            return _error(request, 404, f"no such page: {request.url.path}")
        if exc.status_code == 405:
            return _error(request, 405, f"{request.method} is not allowed on "
                                        f"{request.url.path}")
        return _error(request, exc.status_code, str(exc.detail))

    @app.get("/static/ui.js", include_in_schema=False)
    def script() -> FileResponse:
        return FileResponse(STATIC / "ui.js", media_type="text/javascript",
                            headers={"Cache-Control": "max-age=300"})

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return RedirectResponse("/runs", status_code=303)

    _routes_read.register(app, ctx)
    _routes_ops.register(app, ctx)
    _routes_write.register(app, ctx)
    return app
