"""Routes of contracts, endpoints (and their alert rules) and reports: each page and its
``/api`` twin call the same function of ``_contracts``, ``_endpoints`` or ``_reports``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from airlock.errors import NotFound, UsageError
from airlock.store import get_store

from . import _contracts, _endpoints, _pages, _pages_ops, _reports
from ._context import Context
from ._data import artifact_key, clean_dict, json_response

__all__ = ["REPORT_CSP", "register"]

#: a stored HTML report is shown in a sandbox: no script, no request, framed only by the UI
REPORT_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'self'")


def _drift_flag(drift: str | None) -> bool:
    if drift in (None, "", "1", "true", "yes", "on"):
        return True
    if drift in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"drift must be 1 or 0, not {drift!r}")


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _view(ctx: Context, name: str, window: str | None, since: str | None,
          until: str | None, drift: str | None) -> tuple[Any, float]:
    """The endpoint's report for these parameters: computed, or kept from a request less
    than the refresh interval ago (pages refreshing themselves share one computation)."""
    on = _drift_flag(drift)
    return ctx.reports.get(("endpoint", name, window or ctx.config.window, since or "",
                            until or "", on),
                           lambda: _endpoints.endpoint_view(name, ctx.config, ctx.rules,
                                                            window=window, since=since,
                                                            until=until, drift=on))


def register(app: FastAPI, ctx: Context) -> None:
    _contract_routes(app, ctx)
    _endpoint_routes(app, ctx)
    _report_routes(app, ctx)


def _contract_routes(app: FastAPI, ctx: Context) -> None:
    @app.get("/api/contracts", tags=["contracts"])
    def api_contracts() -> JSONResponse:
        """Every contract validated into the store, with its newest verdict."""
        return json_response(_contracts.contract_list())

    @app.get("/api/contracts/{name}", tags=["contracts"])
    def api_contract(name: str, limit: int = 50) -> JSONResponse:
        """The newest ``limit`` validations of a contract, their failing checks with
        (masked) examples, and each check's outcome over time."""
        return json_response(_contracts.contract_detail(name, limit))

    @app.get("/contracts", response_class=HTMLResponse, include_in_schema=False)
    def contracts_page(request: Request) -> str:
        return _pages.render("contracts.html", ctx.viewer(request), "/contracts",
                             d=_contracts.contract_list())

    @app.get("/contracts/{name}", response_class=HTMLResponse, include_in_schema=False)
    def contract_page(request: Request, name: str, limit: int = 50) -> str:
        return _pages_ops.render_contract(_contracts.contract_detail(name, limit),
                                          ctx.viewer(request))


def _endpoint_routes(app: FastAPI, ctx: Context) -> None:
    @app.get("/api/endpoints", tags=["endpoints"])
    def api_endpoints() -> JSONResponse:
        """Every endpoint with a prediction log, and its alert rules' state."""
        return json_response(_endpoints.endpoint_list(ctx.config, ctx.rules))

    @app.get("/api/endpoints/{name}", tags=["endpoints"])
    def api_endpoint(name: str, window: str | None = None, since: str | None = None,
                     until: str | None = None, drift: str | None = None) -> JSONResponse:
        """Serving, performance and drift of an endpoint per ``window`` (30m, 1h, 1d; default
        the UI's) of its prediction log between ``since`` and ``until`` (ISO times or
        durations back from now, e.g. 6h), and its alert rules. ``drift=0`` skips drift."""
        (d, _), at = _view(ctx, name, window, since, until, drift)
        return json_response({**d, "computed_at": _stamp(at)})

    @app.get("/api/alerts", tags=["endpoints"])
    def api_alerts() -> JSONResponse:
        """Every alert rule given to `airlock ui --rules`: its value now and its kept state."""
        return json_response({"rule_files": [str(p) for p, _ in ctx.rules],
                       "rules": _endpoints.alerts_for(None, ctx.rules)})

    @app.get("/endpoints", response_class=HTMLResponse, include_in_schema=False)
    def endpoints_page(request: Request) -> str:
        return _pages.render("endpoints.html", ctx.viewer(request), "/endpoints",
                             d=_endpoints.endpoint_list(ctx.config, ctx.rules))

    @app.get("/endpoints/{name}", response_class=HTMLResponse, include_in_schema=False)
    def endpoint_page(request: Request, name: str, window: str | None = None,
                      since: str | None = None, until: str | None = None,
                      drift: str | None = None) -> str:
        (d, report), at = _view(ctx, name, window, since, until, drift)
        return _pages_ops.render_endpoint(clean_dict(d), report, ctx.viewer(request),
                                          ctx.config.refresh_seconds, _stamp(at))


def _report_routes(app: FastAPI, ctx: Context) -> None:
    @app.get("/api/reports", tags=["reports"])
    def api_reports(kind: str | None = None) -> JSONResponse:
        """Reports kept as run artifacts: HTML reports, guard and LLM evaluation JSON."""
        return json_response(_reports.report_list(kind or None))

    @app.get("/api/runs/{run_id}/reports/{path:path}", tags=["reports"])
    def api_report(run_id: str, path: str) -> JSONResponse:
        """A guard or LLM evaluation's JSON kept with a run: its facts and metrics."""
        return json_response(_reports.report_detail(run_id, path))

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page(request: Request, kind: str | None = None) -> str:
        return _pages.render("reports.html", ctx.viewer(request), "/reports",
                             d=_reports.report_list(kind or None))

    @app.get("/runs/{run_id}/reports/{path:path}", response_class=HTMLResponse,
             include_in_schema=False)
    def report_page(request: Request, run_id: str, path: str) -> str:
        if path.endswith(".html"):
            artifact_key(run_id, path)  # NotFound unless the run recorded it
            return _pages.render("html_report.html", ctx.viewer(request), "/reports",
                                 run_id=run_id, path=path, title=path.rsplit("/", 1)[-1],
                                 raw=f"/runs/{quote(run_id, safe='')}/report-file/"
                                     f"{quote(path, safe='/')}")
        return _pages.render("report.html", ctx.viewer(request), "/reports",
                             d=_reports.report_detail(run_id, path))

    @app.get("/runs/{run_id}/report-file/{path:path}", include_in_schema=False)
    def report_file(run_id: str, path: str) -> Response:
        if not path.endswith(".html"):
            raise NotFound(f"no such report: {path} (run {run_id})")
        key, size = artifact_key(run_id, path)
        fh = get_store().artifacts.open(key)

        def chunks() -> Iterator[bytes]:
            with fh:
                while block := fh.read(1 << 16):
                    yield block

        return StreamingResponse(chunks(), media_type="text/html; charset=utf-8", headers={
            "Content-Security-Policy": REPORT_CSP, "Content-Length": str(size),
            "X-Frame-Options": "SAMEORIGIN"})
