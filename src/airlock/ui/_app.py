"""The UI's ASGI app: HTML pages and a JSON API (``/api/...``) over the same functions."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from airlock.errors import AirlockError, StoreVersionError
from airlock.store import get_store

from . import _data, _pages

__all__ = ["create_app"]

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
UPGRADE_HINT = ("Run `airlock store upgrade` (with the same --store-uri / AIRLOCK_STORE_URI) "
                "to migrate the store, then reload this page.")


def clean(obj: Any) -> Any:
    """Non-finite floats become null, so every answer is valid JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    return obj


def clean_dict(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = clean(obj)
    return out


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _error(request: Request, status: int, message: str, hint: str | None = None) -> Response:
    if _is_api(request):
        body: dict[str, Any] = {"error": message}
        if hint:
            body["hint"] = hint
        return JSONResponse(body, status_code=status)
    heading = {400: "Bad request", 404: "Not found", 422: "Bad request",
               503: "Store needs an upgrade"}.get(status, "Error")
    return HTMLResponse(_pages.render_error(heading, message, hint), status_code=status)


def create_app() -> FastAPI:
    """The app on the store the settings name (AIRLOCK_STORE_URI, AIRLOCK_HOME…)."""
    app = FastAPI(title="airlock UI", version="1", docs_url=None, redoc_url=None,
                  description="Read-only JSON API behind every page of `airlock ui`.")

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
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
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return _error(request, 400, f"invalid {where or 'request'}: {first.get('msg', '')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(request, 404, f"no such page: {request.url.path}")
        return _error(request, exc.status_code, str(exc.detail))

    _api_routes(app)
    _page_routes(app)
    return app


def _api_routes(app: FastAPI) -> None:
    @app.get("/api/experiments", tags=["runs"])
    def api_experiments() -> dict[str, Any]:
        """Every experiment's name."""
        return {"experiments": get_store().runs.experiments()}

    @app.get("/api/runs", tags=["runs"])
    def api_runs(experiment: str | None = None, filter: str | None = None,
                 order_by: str | None = None, page: int = 1, per_page: int = 100
                 ) -> dict[str, Any]:
        """One page of runs; params and metrics (last, min, max) per run. ``filter`` is the
        language of `airlock runs list --filter`; ``order_by`` e.g. ``metrics.auc DESC``."""
        return clean_dict(_data.runs_table(experiment=experiment, filter=filter,
                                      order_by=order_by, page=page, per_page=per_page))

    @app.get("/api/runs/{run_id}", tags=["runs"])
    def api_run(run_id: str) -> dict[str, Any]:
        """Everything recorded for one run, every metric's history and its models."""
        return clean_dict(_data.run_detail(run_id))

    @app.get("/api/runs/{run_id}/artifacts/{path:path}", tags=["runs"],
             response_class=StreamingResponse)
    def api_artifact(run_id: str, path: str) -> StreamingResponse:
        """Download one of the run's artifacts (always as an attachment)."""
        key, size = _data.artifact_key(run_id, path)
        fh = get_store().artifacts.open(key)

        def chunks() -> Iterator[bytes]:
            with fh:
                while block := fh.read(1 << 16):
                    yield block

        name = path.rsplit("/", 1)[-1]
        return StreamingResponse(chunks(), media_type="application/octet-stream", headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "Content-Length": str(size)})

    @app.get("/api/compare", tags=["runs"])
    def api_compare(ids: list[str] = Query(default_factory=list)) -> dict[str, Any]:
        """2 to 10 runs side by side (``?ids=a&ids=b``), differing keys marked, histories."""
        return clean_dict(_data.compare_runs(ids))

    @app.get("/api/models", tags=["models"])
    def api_models() -> dict[str, Any]:
        """Every registered model with its latest version and aliases."""
        return clean_dict(_data.model_list())

    @app.get("/api/models/{name}", tags=["models"])
    def api_model(name: str) -> dict[str, Any]:
        """Versions, aliases, alias history and protected aliases of one model."""
        return clean_dict(_data.model_detail(name))

    @app.get("/api/models/{name}/versions/{version}", tags=["models"])
    def api_version(name: str, version: str) -> dict[str, Any]:
        """One version (a number, or an alias): signature, files, lineage, decisions."""
        return clean_dict(_data.version_detail(name, version))

    @app.get("/api/events", tags=["audit"])
    def api_events(subject: str | None = None, action: str | None = None,
                   limit: int = 200) -> dict[str, Any]:
        """The newest ``limit`` audit events matching subject / action prefix, and the
        result of verifying the whole hash chain."""
        return clean_dict(_data.event_list(subject=subject, action=action, limit=limit))


def _page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return RedirectResponse("/runs", status_code=303)

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(experiment: str | None = None, filter: str | None = None,
                  order_by: str | None = None, page: int = 1, per_page: int = 100,
                  agg: str = "last") -> str:
        if agg not in _data.AGGREGATES:
            from airlock.errors import UsageError

            raise UsageError(f"unknown metric aggregate {agg!r}: use last, min or max")
        d = _data.runs_table(experiment=experiment, filter=filter, order_by=order_by,
                             page=page, per_page=per_page)
        return _pages.render_runs(d, agg)

    @app.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(run_id: str) -> str:
        return _pages.render_run(_data.run_detail(run_id))

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(ids: list[str] = Query(default_factory=list)) -> str:
        return _pages.render_compare(_data.compare_runs(ids))

    @app.get("/models", response_class=HTMLResponse, include_in_schema=False)
    def models_page() -> str:
        return _pages.render("models.html", d=_data.model_list())

    @app.get("/models/{name}", response_class=HTMLResponse, include_in_schema=False)
    def model_page(name: str) -> str:
        return _pages.render("model.html", d=_data.model_detail(name))

    @app.get("/models/{name}/versions/{version}", response_class=HTMLResponse,
             include_in_schema=False)
    def version_page(name: str, version: str) -> str:
        return _pages.render("version.html", d=_data.version_detail(name, version))

    @app.get("/models/{name}/versions/{version}/card", response_class=HTMLResponse,
             include_in_schema=False)
    def card_page(name: str, version: str) -> str:
        return _data.model_card_html(name, version)

    @app.get("/events", response_class=HTMLResponse, include_in_schema=False)
    def events_page(subject: str | None = None, action: str | None = None,
                    limit: int = 200) -> str:
        d = _data.event_list(subject=subject, action=action, limit=limit)
        q = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in
                     (("subject", subject), ("action", action), ("limit", limit)) if v)
        return _pages.render("events.html", d=d, api_url=f"/api/events?{q}")
