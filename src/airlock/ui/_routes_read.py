"""Routes of runs, models, evaluations, decisions, the promotion view and the audit log:
each page and its ``/api`` twin call the same function of ``_data`` or ``_gates``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from airlock.errors import UsageError
from airlock.store import get_store

from . import _data, _endpoints, _gates, _pages, _pages_ops
from ._context import Context
from ._data import json_response

__all__ = ["register"]


def _version(name: str, version: str) -> dict[str, Any]:
    """A version's page: its lineage, and the endpoints whose log shows it serving."""
    d = _data.version_detail(name, version)
    d["endpoints"] = _endpoints.endpoints_serving(d["name"], d["version"])
    return d


def register(app: FastAPI, ctx: Context) -> None:
    _api(app)
    _runs_pages(app, ctx)
    _model_pages(app, ctx)


def _api(app: FastAPI) -> None:
    @app.get("/api/experiments", tags=["runs"])
    def api_experiments() -> JSONResponse:
        """Every experiment's name."""
        return json_response({"experiments": get_store().runs.experiments()})

    @app.get("/api/runs", tags=["runs"])
    def api_runs(experiment: str | None = None, filter: str | None = None,
                 order_by: str | None = None, page: int = 1, per_page: int = 100,
                 step: int | None = None) -> JSONResponse:
        """One page of runs; params and metrics (last, min, max, and with ``step`` the value
        at that step) per run. ``filter`` is the language of `airlock runs list --filter`;
        ``order_by`` e.g. ``metrics.auc DESC``."""
        return json_response(_data.runs_table(experiment=experiment, filter=filter,
                                       order_by=order_by, page=page, per_page=per_page,
                                       step=step))

    @app.get("/api/runs/{run_id}", tags=["runs"])
    def api_run(run_id: str) -> JSONResponse:
        """Everything recorded for one run, every metric's history and its models."""
        return json_response(_data.run_detail(run_id))

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
    def api_compare(ids: list[str] = Query(default_factory=list)) -> JSONResponse:
        """2 to 10 runs side by side (``?ids=a&ids=b``), differing keys marked, histories."""
        return json_response(_data.compare_runs(ids))

    @app.get("/api/models", tags=["models"])
    def api_models() -> JSONResponse:
        """Every registered model with its latest version and aliases."""
        return json_response(_data.model_list())

    @app.get("/api/models/{name}", tags=["models"])
    def api_model(name: str) -> JSONResponse:
        """Versions, aliases, alias history and protected aliases of one model."""
        return json_response(_data.model_detail(name))

    @app.get("/api/models/{name}/versions/{version}", tags=["models"])
    def api_version(name: str, version: str) -> JSONResponse:
        """One version (a number, or an alias): signature, files, lineage (run, datasets,
        evaluations, decisions, the endpoints whose log shows it serving)."""
        return json_response(_version(name, version))

    @app.get("/api/models/{name}/promotion", tags=["gates"])
    def api_promotion(name: str, alias: str = "production",
                      candidate: str | None = None) -> JSONResponse:
        """The candidate (a version or an alias; default: the latest version) next to the
        version ``alias`` points at: the same metrics side by side, paired baseline deltas,
        and what promoting it would do under the alias's gate."""
        return json_response(_gates.promotion_view(name, alias, candidate))

    @app.get("/api/evaluations", tags=["gates"])
    def api_evaluations(model: str | None = None) -> JSONResponse:
        """Every stored evaluation (of ``model``, or of all), newest first."""
        return json_response(_gates.evaluation_list(model))

    @app.get("/api/evaluations/{eval_id}", tags=["gates"])
    def api_evaluation(eval_id: str) -> JSONResponse:
        """A stored evaluation (overall with CIs, slices, fairness, calibration, curves,
        baseline deltas) and every decision recorded on it."""
        return json_response(_gates.evaluation_detail(eval_id))

    @app.get("/api/evaluations/{eval_id}/decisions/{decision_id}", tags=["gates"])
    def api_decision(eval_id: str, decision_id: str) -> JSONResponse:
        """One decision on an evaluation, rule by rule with evidence."""
        return json_response(_gates.decision_detail(eval_id, decision_id))

    @app.get("/api/events", tags=["audit"])
    def api_events(subject: str | None = None, action: str | None = None,
                   actor: str | None = None, limit: int = 200) -> JSONResponse:
        """The newest ``limit`` audit events matching subject, action prefix and actor, and
        the result of verifying the whole hash chain."""
        return json_response(_data.event_list(subject=subject, action=action, actor=actor,
                                       limit=limit))


def _runs_pages(app: FastAPI, ctx: Context) -> None:
    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(request: Request, experiment: str | None = None, filter: str | None = None,
                  order_by: str | None = None, page: int = 1, per_page: int = 100,
                  agg: str = "last", step: str | None = None) -> str:
        if agg not in _data.AGGREGATES:
            raise UsageError(f"unknown metric aggregate {agg!r}: use last, min, max or step")
        at = None
        if agg == "step":  # the form sends step= empty unless it is filled in
            if not step or not step.strip().lstrip("-").isdigit():
                raise UsageError(f"metrics at a step need a whole step number, not {step!r}")
            at = int(step)
        d = _data.runs_table(experiment=experiment, filter=filter, order_by=order_by,
                             page=page, per_page=per_page, step=at,
                             ranges=agg in ("min", "max"))
        return _pages.render_runs(d, agg, ctx.viewer(request))

    @app.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(request: Request, run_id: str) -> str:
        return _pages.render_run(_data.run_detail(run_id), ctx.viewer(request))

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(request: Request, ids: list[str] = Query(default_factory=list)) -> str:
        return _pages.render_compare(_data.compare_runs(ids), ctx.viewer(request))

    @app.get("/events", response_class=HTMLResponse, include_in_schema=False)
    def events_page(request: Request, subject: str | None = None, action: str | None = None,
                    actor: str | None = None, limit: int = 200) -> str:
        d = _data.event_list(subject=subject, action=action, actor=actor, limit=limit)
        return _pages.render("events.html", ctx.viewer(request), "/events", d=d,
                             api_url=_pages.url("/api/events", subject=subject, action=action,
                                                actor=actor, limit=limit))


def _model_pages(app: FastAPI, ctx: Context) -> None:
    @app.get("/models", response_class=HTMLResponse, include_in_schema=False)
    def models_page(request: Request) -> str:
        return _pages.render("models.html", ctx.viewer(request), "/models",
                             d=_data.model_list())

    @app.get("/models/{name}", response_class=HTMLResponse, include_in_schema=False)
    def model_page(request: Request, name: str) -> str:
        return _pages.render("model.html", ctx.viewer(request), "/models",
                             d=_data.model_detail(name))

    @app.get("/models/{name}/versions/{version}", response_class=HTMLResponse,
             include_in_schema=False)
    def version_page(request: Request, name: str, version: str) -> str:
        return _pages.render("version.html", ctx.viewer(request), "/models",
                             d=_version(name, version))

    @app.get("/models/{name}/versions/{version}/card", response_class=HTMLResponse,
             include_in_schema=False)
    def card_page(name: str, version: str) -> str:
        return _data.model_card_html(name, version)

    @app.get("/models/{name}/promote", response_class=HTMLResponse, include_in_schema=False)
    def promotion_page(request: Request, name: str, alias: str = "production",
                       candidate: str | None = None) -> str:
        return _pages_ops.render_promotion(_gates.promotion_view(name, alias, candidate),
                                           ctx.viewer(request))

    @app.get("/evaluations", response_class=HTMLResponse, include_in_schema=False)
    def evaluations_page(request: Request, model: str | None = None) -> str:
        return _pages.render("evaluations.html", ctx.viewer(request), "/evaluations",
                             d=_gates.evaluation_list(model))

    @app.get("/evaluations/{eval_id}", response_class=HTMLResponse, include_in_schema=False)
    def evaluation_page(request: Request, eval_id: str) -> str:
        return _pages_ops.render_evaluation(_gates.evaluation_detail(eval_id),
                                            ctx.viewer(request))

    @app.get("/evaluations/{eval_id}/decisions/{decision_id}", response_class=HTMLResponse,
             include_in_schema=False)
    def decision_page(request: Request, eval_id: str, decision_id: str) -> str:
        return _pages_ops.render_decision(_gates.decision_detail(eval_id, decision_id),
                                          ctx.viewer(request))
