"""The ASGI app: Open Inference Protocol v2, MLflow scoring, feedback, metrics, admin.

Every answer carries ``X-Request-Id`` and, when a model answered, ``X-Airlock-Model-Version``
(``name@version``) and ``X-Airlock-Route``. Every error is JSON ``{"error": …}`` with the status
its :mod:`airlock.errors` class names; nothing a client sends can produce a 5xx.
"""


import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pyarrow as pa

from airlock._config import TokenEntry
from airlock.errors import (
    AirlockError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PredictionLogError,
    RequestTimeout,
    Unauthorized,
    UsageError,
)

from ._auth import Authenticator
from ._config import EndpointConfig
from ._endpoint import Endpoint
from ._json import dumps, loads
from ._oip import decode_infer, encode_infer
from ._openapi import BODIES, ERRORS
from ._payload import Pending, new_request_id
from ._scoring import TABLE_HEADER, check_kinds, decode_scoring, encode_scoring
from ._slots import ModelSlot

__all__ = ["create_app"]

log = logging.getLogger("airlock.serve")
_RID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PREDICTION_LOG_UNAVAILABLE = ("prediction log unavailable: the answer was not given because it "
                              "could not be recorded; try again later")
_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²".isdigit() is True), < 10**18
_MLFLOW_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "RESOURCE_DOES_NOT_EXIST",
                 408: "BAD_REQUEST", 413: "BAD_REQUEST", 422: "BAD_REQUEST",
                 503: "TEMPORARILY_UNAVAILABLE", 504: "TEMPORARILY_UNAVAILABLE"}


def create_app(config: EndpointConfig, *, endpoint: Endpoint | None = None) -> Any:
    """A FastAPI app serving ``config`` (models load when the app starts)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    from airlock import __version__

    ep = endpoint or Endpoint(config)
    auth = Authenticator(config.auth)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        await ep.start()
        try:
            yield
        finally:
            await ep.stop()

    app = FastAPI(title=f"airlock: {config.name}", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    _json_errors(app)
    app.state.endpoint = ep
    h = _Handlers(ep, auth, Response)

    def json(obj: Any, status: int = 200) -> Any:
        return Response(dumps(obj), status_code=status, media_type="application/json")

    @app.get("/v2", responses=ERRORS)
    async def server_metadata() -> Any:
        return json({"name": "airlock", "version": __version__,
                     "extensions": ["binary_tensor_data"]})

    @app.get("/v2/health/live")
    async def live() -> Any:
        return json({"live": True})

    @app.get("/v2/health/ready", responses=ERRORS)
    async def ready() -> Any:
        return json({"ready": ep.ready}, 200 if ep.ready else 503)

    @app.get("/v2/models/{name}", responses=ERRORS)
    async def model_metadata(name: str, request: Request) -> Any:
        return await h.guarded(request, lambda: h.metadata(name, None), metadata=True)

    @app.get("/v2/models/{name}/versions/{version}", responses=ERRORS)
    async def version_metadata(name: str, version: str, request: Request) -> Any:
        return await h.guarded(request, lambda: h.metadata(name, version), metadata=True)

    @app.get("/v2/models/{name}/ready", responses=ERRORS)
    async def model_ready(name: str, request: Request) -> Any:
        return await h.guarded(request, lambda: h.model_ready(name, None))

    @app.get("/v2/models/{name}/versions/{version}/ready", responses=ERRORS)
    async def version_ready(name: str, version: str, request: Request) -> Any:
        return await h.guarded(request, lambda: h.model_ready(name, version))

    @app.post("/v2/models/{name}/infer", openapi_extra=BODIES["infer"], responses=ERRORS)
    async def infer(name: str, request: Request) -> Any:
        return await h.infer(request, name, None)

    @app.post("/v2/models/{name}/versions/{version}/infer", openapi_extra=BODIES["infer"],
              responses=ERRORS)
    async def infer_version(name: str, version: str, request: Request) -> Any:
        return await h.infer(request, name, version)

    @app.post("/invocations", openapi_extra=BODIES["invocations"], responses=ERRORS)
    async def invocations(request: Request) -> Any:
        return await h.invocations(request)

    @app.get("/ping")
    async def ping() -> Any:
        return json({"status": "ok"} if ep.ready else {"status": "loading"},
                    200 if ep.ready else 503)

    @app.get("/health")
    async def health() -> Any:
        return await ping()

    @app.get("/version")
    async def version() -> Any:
        return Response(__version__, media_type="text/plain")

    @app.post("/v1/feedback", openapi_extra=BODIES["feedback"], responses=ERRORS)
    async def feedback(request: Request) -> Any:
        return await h.guarded(request, lambda: h.feedback(request), admin=False)

    @app.get("/metrics", responses=ERRORS)
    async def metrics(request: Request) -> Any:
        def render() -> Any:
            body, ctype = ep.metrics.render()
            return Response(body, media_type=ctype)

        return await h.guarded(request, render, metadata=True)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Any:
        return await h.guarded(request, lambda: json(app.openapi()), metadata=True)

    @app.get("/v1/admin/status", responses=ERRORS)
    async def status(request: Request) -> Any:
        return await h.guarded(request, lambda: h.status(auth.admin(request.headers, "read")))

    @app.post("/v1/admin/reload", responses=ERRORS)
    async def reload(request: Request) -> Any:
        return await h.guarded(request,
                               lambda: h.reload(auth.admin(request.headers, "reload")))

    return _FastPath(app, h, Request)


class _FastPath:
    """The two inference routes straight to their handlers, past FastAPI's routing and
    middleware (a measurable share of a 1-row request); everything else (and the OpenAPI
    document, which still describes these routes) goes through FastAPI."""

    def __init__(self, app: Any, handlers: "_Handlers", request_class: Any) -> None:
        self.app = app
        self.state = app.state
        self._h = handlers
        self._request = request_class

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._route(scope, receive, sending)
        except Exception as exc:  # the last resort: one log line, a JSON 500, no traceback
            rid = _scope_request_id(scope)
            _log_fault(rid, exc)
            if not started:
                await _fault_response(rid)(scope, receive, send)

    async def _route(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["method"] == "POST":
            path: str = scope["path"]
            response = None
            if path == "/invocations":
                response = await self._h.invocations(self._request(scope, receive))
            elif path.startswith("/v2/models/") and path.endswith("/infer"):
                parts = path[len("/v2/models/"):-len("/infer")].split("/")
                request = self._request(scope, receive)
                if len(parts) == 1 and parts[0]:
                    response = await self._h.infer(request, parts[0], None)
                elif len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2]:
                    response = await self._h.infer(request, parts[0], parts[2])
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Handlers:
    def __init__(self, ep: Endpoint, auth: Authenticator, response: Any) -> None:
        self.ep = ep
        self.auth = auth
        self.Response = response
        self.limit = ep.config.max_body_bytes
        self.body_timeout = ep.config.body_timeout_s
        self._series: dict[tuple[Any, ...], Any] = {}

    def series(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: prometheus_client takes ~4 us a call,
        and every request touches three series."""
        key = (id(metric), *labels)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = metric.labels(*labels)
        return child

    # -- plumbing -----------------------------------------------------------------------
    def json(self, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
        return self.Response(dumps(obj), status_code=status, media_type="application/json",
                             headers=headers)

    def error(self, exc: AirlockError, rid: str, *, mlflow: bool = False) -> Any:
        status = exc.http_status if 400 <= exc.http_status < 600 else 500
        message = exc.message
        if isinstance(exc, PredictionLogError):  # its message names server paths: log them
            log.error("request %s: %s", rid, " ".join(message.split()))
            message = PREDICTION_LOG_UNAVAILABLE
        body: dict[str, Any] = {"error": message}
        if mlflow:
            body.update(error_code=_MLFLOW_CODES.get(status, "INTERNAL_ERROR"),
                        message=message)
        headers = {"X-Request-Id": rid}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        elif status == 408:  # the rest of a slow body must not be read as the next request
            headers["Connection"] = "close"
        self.ep.metrics.errors.labels(self.ep.name, type(exc).__name__).inc()
        return self.json(body, status, headers)

    async def body(self, request: Any) -> bytes:
        from starlette.requests import ClientDisconnect

        declared = request.headers.get("content-length")
        if declared is not None and declared.isascii() and declared.isdigit() and (
                len(declared) > 18 or int(declared) > self.limit):  # the server checked it
            raise PayloadTooLarge(f"the body is {declared[:20]} bytes; this endpoint accepts "
                                  f"at most {self.limit}")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.limit:
                        raise PayloadTooLarge(f"the body is over {self.limit} bytes, the most "
                                              "this endpoint accepts")
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestTimeout(f"the body did not arrive within {self.body_timeout:g} s "
                                 f"({size} bytes came)") from None
        except ClientDisconnect:  # the client's doing, not a server fault (nobody listens)
            raise UsageError(f"the client closed the connection after {size} bytes of the "
                             "body") from None
        return b"".join(chunks)

    def check_auth(self, request: Any, *, admin: bool, metadata: bool = False) -> None:
        if not self.auth.allowed(request.headers, admin=admin, metadata=metadata):
            what = "admin endpoints need" if admin else "this endpoint needs"
            raise Unauthorized(f"{what} a valid bearer token (header "
                               f"{self.ep.config.auth.header})")

    def check_name(self, name: str) -> None:
        if name != self.ep.name:
            raise NotFound(f"no model {name!r} here; this server serves {self.ep.name!r}")

    def slot(self, version: str | None) -> ModelSlot | None:
        if version is None:
            return None
        if not _NUMBER.fullmatch(version):
            raise NotFound(f"version must be a number, got {version[:40]!r}")
        return self.ep.slot_for_version(int(version))

    async def guarded(self, request: Any, fn: Callable[[], Awaitable[Any] | Any], *,
                      admin: bool | None = None, metadata: bool = False) -> Any:
        rid = _request_id(request)
        try:
            if admin is not None:
                self.check_auth(request, admin=admin)
            elif metadata:
                self.check_auth(request, admin=False, metadata=True)
            result = fn()
            if hasattr(result, "__await__"):
                result = await result
            return result
        except AirlockError as exc:
            return self.error(exc, rid)
        except Exception as exc:  # a server fault, not the client's: say so, keep details here
            _log_fault(rid, exc)
            return _fault_response(rid)

    # -- inference ----------------------------------------------------------------------
    async def infer(self, request: Any, name: str, version: str | None) -> Any:
        async def decode(rid: str) -> tuple[Pending, Any, ModelSlot | None]:
            self.check_name(name)
            slot = self.slot(version)
            raw = await self.body(request)
            hlen = request.headers.get("inference-header-content-length")
            if hlen is not None and not _NUMBER.fullmatch(hlen):
                raise UsageError("Inference-Header-Content-Length must be a number of bytes")
            columns = (slot or self.ep.routes[0]).current.input_columns
            data, req = decode_infer(raw, int(hlen) if hlen else None, columns)
            return _pending(data, rid), req, slot

        def encode(answer: Any, rid: str, req: Any) -> Any:
            body, head_len = encode_infer(
                answer.outputs, model_name=self.ep.name,
                model_version=str(answer.scored.version), request_id=_oip_id(req, rid),
                request=req)
            headers = {}
            if head_len is not None:
                headers["Inference-Header-Content-Length"] = str(head_len)
            ctype = "application/json" if head_len is None else "application/octet-stream"
            return body, ctype, headers

        return await self.serve(request, decode, encode, mlflow=False)

    async def invocations(self, request: Any) -> Any:
        async def decode(rid: str) -> tuple[Pending, Any, ModelSlot | None]:
            raw = await self.body(request)
            model = self.ep.routes[0].current
            columns = model.input_columns
            ctype = request.headers.get("content-type", "application/json")
            if ctype.split(";", 1)[0].strip().lower() == "text/csv":  # parsing takes a while
                data = await asyncio.get_running_loop().run_in_executor(
                    None, decode_scoring, raw, ctype, columns)
            else:
                data = decode_scoring(raw, ctype, columns)
                check_kinds(data, model.signature.get("inputs") or [])
            return _pending(data, rid), None, None

        table = request.headers.get(TABLE_HEADER.lower(), "").strip().lower() == "table"

        def encode(answer: Any, rid: str, req: Any) -> Any:
            return encode_scoring(answer.outputs, table=table), "application/json", {}

        return await self.serve(request, decode, encode, mlflow=True)

    async def serve(self, request: Any, decode: Callable[[str], Awaitable[Any]],
                    encode: Callable[[Any, str, Any], Any], *, mlflow: bool) -> Any:
        ep, metrics = self.ep, self.ep.metrics
        rid = _request_id(request)
        started = time.perf_counter()
        ep.arriving += 1
        waiting = True
        in_flight = self.series(metrics.in_flight, ep.name)
        in_flight.inc()
        route = "-"
        reached = False  # infer logs what it answers; a request rejected before is logged here
        try:
            self.check_auth(request, admin=False)
            item, req, slot = await decode(rid)
            ep.arriving -= 1
            waiting = False
            reached = True
            answer = await ep.infer(item, headers=request.headers, slot=slot)
            route = answer.route
            body, ctype, headers = encode(answer, rid, req)
            model = answer.scored.model.version
            headers.update({"X-Request-Id": rid, "X-Airlock-Route": route,
                            "X-Airlock-Model-Version": f"{model.name}@{model.version}"})
            self.series(metrics.requests, ep.name, model.name, str(model.version), route,
                        "200").inc()
            return self.Response(body, media_type=ctype, headers=headers)
        except AirlockError as exc:
            self.series(metrics.requests, ep.name, "-", "-", route,
                        str(exc.http_status)).inc()
            if not reached:
                await ep.log_rejected(exc, request_id=rid, started=started)
            return self.error(exc, rid, mlflow=mlflow)
        except Exception as exc:  # a server fault, not the client's: say so, keep details here
            metrics.requests.labels(ep.name, "-", "-", route, "500").inc()
            metrics.errors.labels(ep.name, "internal").inc()
            _log_fault(rid, exc)
            return _fault_response(rid, mlflow=mlflow)
        finally:
            if waiting:
                ep.arriving -= 1
            in_flight.dec()
            self.series(metrics.latency, ep.name, route).observe(time.perf_counter() - started)

    # -- the rest -----------------------------------------------------------------------
    def metadata(self, name: str, version: str | None) -> Any:
        self.check_name(name)
        slot = self.slot(version) or self.ep.routes[0]
        model = slot.current
        served = sorted({str(s.current.version.version) for s in self.ep.slots if s.model})
        return self.json({
            "name": self.ep.name, "versions": served, "platform": f"airlock-{model.version.flavor}",
            "inputs": [_tensor_meta(c) for c in model.signature.get("inputs", [])],
            "outputs": [_tensor_meta(c) for c in model.signature.get("outputs", [])],
        })

    def model_ready(self, name: str, version: str | None) -> Any:
        self.check_name(name)
        self.slot(version)
        return self.json({"name": name, "ready": self.ep.ready}, 200 if self.ep.ready else 503)

    async def feedback(self, request: Any) -> Any:
        doc = loads(await self.body(request), "feedback")
        items = doc.get("items") if isinstance(doc, dict) and "items" in doc else [doc]
        if not isinstance(items, list) or not items:
            raise UsageError("feedback needs {'request_id', 'label'} or {'items': [...]}")
        ids, labels = [], []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("request_id"), str) \
                    or not item["request_id"] or "label" not in item:
                raise UsageError(f"feedback item {i}: needs 'request_id' (a string) and "
                                 "'label'")
            if isinstance(item["label"], dict | list):
                raise UsageError(f"feedback item {i}: 'label' must be a number, string, "
                                 "boolean or null")
            ids.append(item["request_id"])
            labels.append(item["label"])
        n, unknown = await self.ep.feedback(ids, labels)
        return self.json({"accepted": n, "unknown": unknown})

    def status(self, who: TokenEntry) -> Any:
        return self.json({
            "endpoint": self.ep.name, "ready": self.ep.ready, "actor": who.actor,
            "slots": [{"role": s.role, "ref": s.ref,
                       "version": s.current.version.version if s.model else None}
                      for s in self.ep.slots],
            "weights": dict(zip(self.ep.route_names, self.ep.weights, strict=True)),
        })

    async def reload(self, who: TokenEntry) -> Any:
        changed = await self.ep.reload()
        log.info("reload asked by %s: %s", who.actor, ", ".join(changed) or "nothing changed")
        return self.json({"changed": changed, "actor": who.actor})


def _log_fault(rid: str, exc: BaseException) -> None:
    """One line per server fault, with the request id the client was given (once: Starlette
    re-raises what its handler already answered)."""
    if getattr(exc, "_airlock_logged", False):
        return
    with contextlib.suppress(Exception):
        exc._airlock_logged = True  # type: ignore[attr-defined]
    text = " ".join(str(exc).split())[:300]
    log.error("request %s: internal error %s%s", rid, type(exc).__name__,
              f": {text}" if text else "")


def _fault_response(rid: str, *, mlflow: bool = False) -> Any:
    from starlette.responses import Response

    message = f"internal server error (request id {rid}); the server log has the details"
    body: dict[str, Any] = {"error": message}
    if mlflow:
        body.update(error_code="INTERNAL_ERROR", message=message)
    return Response(dumps(body), status_code=500, media_type="application/json",
                    headers={"X-Request-Id": rid})


def _scope_request_id(scope: Any) -> str:
    for key, value in scope.get("headers") or []:
        if key == b"x-request-id":
            given = value.decode("latin-1")
            return given if _RID.match(given) else new_request_id()
    return new_request_id()


def _json_errors(app: Any) -> None:
    """FastAPI's own answers (unknown path, wrong method, a bad path parameter) as the
    documented ``{"error": …}``, not ``{"detail": …}``."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException
    from starlette.responses import Response

    async def http_error(request: Any, exc: Any) -> Any:
        rid = _request_id(request)
        path = request.url.path[:200]
        if exc.status_code == 404:
            message = f"no such path {path!r} here"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {path!r}"
        else:
            message = str(exc.detail)
        headers = {**(getattr(exc, "headers", None) or {}), "X-Request-Id": rid}
        return Response(dumps({"error": message}), status_code=exc.status_code,
                        media_type="application/json", headers=headers)

    async def invalid(request: Any, exc: Any) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return Response(dumps({"error": message}), status_code=400,
                        media_type="application/json",
                        headers={"X-Request-Id": _request_id(request)})

    async def fault(request: Any, exc: Exception) -> Any:
        rid = _request_id(request)
        _log_fault(rid, exc)
        return _fault_response(rid)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, fault)


def _request_id(request: Any) -> str:
    given = request.headers.get("x-request-id")
    return given if given and _RID.match(given) else new_request_id()


def _pending(data: Any, rid: str) -> Pending:
    if isinstance(data, pa.Table):
        rows = data.num_rows
    else:
        rows = len(next(iter(data.values()))) if data else 0
    if rows == 0:
        raise InvalidInput("the request has no rows to score")
    return Pending(data, rows, rid)


def _oip_id(req: Any, rid: str) -> str:
    given = req.get("id") if isinstance(req, dict) else None
    return given if isinstance(given, str) else rid


def _tensor_meta(col: dict[str, Any]) -> dict[str, Any]:
    import pyarrow as pa

    from ._oip import arrow_datatype

    try:
        t = pa.type_for_alias(str(col.get("type")))
    except (ValueError, TypeError):
        t = pa.string()
    return {"name": col["name"], "datatype": arrow_datatype(t), "shape": [-1]}
