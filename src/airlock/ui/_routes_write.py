"""Writes (set or move an alias, protect, approve, promote) and signing in.

Off unless AIRLOCK_TOKENS is configured (403 naming the variable). The API takes JSON and
``Authorization: Bearer TOKEN``; the pages post plain forms (no script needed) with the token
in a field, or signed in by the ``/login`` cookie (then the form must come from this
origin). A bad or missing token is 401; a token whose role does not permit the write is 403
naming the role it needs; a gate that refuses is 409 naming the failed rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from airlock.errors import PayloadTooLarge, Unauthorized, UsageError

from . import _pages, _writes
from ._auth import (
    COOKIE,
    MSG_CROSS_ORIGIN,
    MSG_NO_TOKEN,
    MSG_WRITES_OFF,
    bad_token,
    bearer,
    role_problem,
)
from ._context import Context
from ._data import json_response

__all__ = ["MAX_FORM_BYTES", "register"]

MAX_FORM_BYTES = 128 << 10


class AliasBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="The version the alias points at afterwards.")


class ProtectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(description="The gate policy's YAML text.")


class PromoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    override: bool = Field(default=False, description="Move a protected alias without a passing "
                           "decision; needs a reason, recorded in the audit log.")
    reason: str | None = None


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="The version whose promotion is approved.")
    comment: str | None = Field(default=None, description="Recorded with the approval.")


def _origin_ok(request: Request) -> bool:
    """The request came from this UI's own pages (browsers send Origin on a form post;
    a client that sends neither Origin nor Referer is not a browser on another site)."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    return referer is None or referer.startswith(own + "/")


def _writer(ctx: Context, request: Request, action: str,
            form_token: str | None = None) -> str:
    """The actor the request writes as (its token's, never a name it sends); 403 when
    writes are off, 401 without a valid token, 403 when the token's role does not permit
    ``action`` or for a cookie-signed write from another origin."""
    if not ctx.tokens.enabled:
        raise HTTPException(403, MSG_WRITES_OFF)
    given = bearer(request.headers) or form_token or None
    if given:
        entry = ctx.tokens.find(given)
        if entry is None:
            raise Unauthorized(bad_token(ctx.tokens))
    else:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            raise Unauthorized(MSG_NO_TOKEN)
        entry = ctx.tokens.find(cookie)
        if entry is None:
            raise Unauthorized(bad_token(ctx.tokens))
        if not _origin_ok(request):
            raise HTTPException(403, MSG_CROSS_ORIGIN)
    problem = role_problem(entry, action)
    if problem:
        raise HTTPException(403, problem)
    return entry.actor


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the last value of each)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise UsageError("post the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PayloadTooLarge(f"the form is over {MAX_FORM_BYTES // 1024} KiB")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in fields.items()}


def _version(text: str | None) -> int:
    if text is None or not text.strip().isdigit() or int(text) < 1:
        raise UsageError(f"version must be a version number, not {text!r}")
    return int(text)


def register(app: FastAPI, ctx: Context) -> None:
    _api(app, ctx)
    _forms(app, ctx)
    _login(app, ctx)


def _api(app: FastAPI, ctx: Context) -> None:
    def writer(action: str) -> Callable[[Request], str]:
        def check(request: Request) -> str:
            return _writer(ctx, request, action)

        return check

    @app.post("/api/models/{name}/aliases/{alias}", tags=["writes"])
    def api_set_alias(name: str, alias: str, body: AliasBody,
                      actor: str = Depends(writer("alias"))) -> JSONResponse:
        """Point an alias at a version, audited as the token's actor. A protected alias is
        refused (409): it moves only through ``…/promote``."""
        return json_response(_writes.set_alias(name, alias, body.version, actor=actor))

    @app.post("/api/models/{name}/aliases/{alias}/protect", tags=["writes"])
    def api_protect(name: str, alias: str, body: ProtectBody,
                    actor: str = Depends(writer("protect"))) -> JSONResponse:
        """Protect an alias with a gate policy (YAML text), audited as the token's actor."""
        return json_response(_writes.protect_alias(name, alias, body.policy, actor=actor))

    @app.post("/api/models/{name}/aliases/{alias}/promote", tags=["writes"])
    def api_promote(name: str, alias: str, body: PromoteBody, request: Request,
                    actor: str = Depends(writer("promote"))) -> JSONResponse:
        """Promote a version to an alias through its gate; a protected alias needs a passing
        decision under its policy (and the approvals it requires; else 409 naming what is
        missing), or ``override`` with a ``reason`` (role admin), recorded as a
        ``promotion.override`` audit event."""
        if body.override:
            _writer(ctx, request, "override")
        return json_response(_writes.promote_version(name, alias, body.version,
                                                  override=body.override, reason=body.reason,
                                                  actor=actor))

    @app.post("/api/models/{name}/aliases/{alias}/approve", tags=["writes"])
    def api_approve(name: str, alias: str, body: ApproveBody,
                    actor: str = Depends(writer("approve"))) -> JSONResponse:
        """Approve the promotion of a version to a protected alias whose policy requires
        approvals (role approver), audited as the token's actor: 400 when there is no
        passing decision to approve, when the actor authored the version, or when the
        policy does not count the actor's role."""
        return json_response(_writes.approve_version(name, alias, body.version,
                                                  comment=body.comment, actor=actor))

    @app.get("/api/session", tags=["writes"])
    def api_session(request: Request) -> JSONResponse:
        """Whether writes are on, and the actor the request's token maps to (if any)."""
        return json_response({"writes": ctx.tokens.enabled, "actor": ctx.actor(request)})


def _forms(app: FastAPI, ctx: Context) -> None:
    async def run(request: Request, name: str,
                  write: Callable[[dict[str, str], str], dict[str, Any]],
                  action: str | Callable[[dict[str, str]], str]) -> str:
        form = await _form(request)
        actor = _writer(ctx, request, action if isinstance(action, str) else action(form),
                        form.get("token"))
        done = await run_in_threadpool(write, form, actor)
        return _pages.render("written.html", ctx.viewer(request), "/models", w=done, name=name)

    @app.post("/models/{name}/aliases/{alias}", response_class=HTMLResponse,
              include_in_schema=False)
    async def form_set_alias(request: Request, name: str, alias: str) -> str:
        return await run(request, name, lambda f, actor: _writes.set_alias(
            name, alias, _version(f.get("version")), actor=actor), "alias")

    @app.post("/models/{name}/aliases", response_class=HTMLResponse, include_in_schema=False)
    async def form_new_alias(request: Request, name: str) -> str:
        return await run(request, name, lambda f, actor: _writes.set_alias(
            name, (f.get("alias") or "").strip(), _version(f.get("version")), actor=actor),
            "alias")

    @app.post("/models/{name}/aliases/{alias}/protect", response_class=HTMLResponse,
              include_in_schema=False)
    async def form_protect(request: Request, name: str, alias: str) -> str:
        return await run(request, name, lambda f, actor: _writes.protect_alias(
            name, alias, f.get("policy") or "", actor=actor), "protect")

    @app.post("/models/{name}/protect", response_class=HTMLResponse, include_in_schema=False)
    async def form_protect_named(request: Request, name: str) -> str:
        return await run(request, name, lambda f, actor: _writes.protect_alias(
            name, (f.get("alias") or "").strip(), f.get("policy") or "", actor=actor),
            "protect")

    @app.post("/models/{name}/aliases/{alias}/promote", response_class=HTMLResponse,
              include_in_schema=False)
    async def form_promote(request: Request, name: str, alias: str) -> str:
        return await run(request, name, lambda f, actor: _writes.promote_version(
            name, alias, _version(f.get("version")), override=f.get("override") == "1",
            reason=f.get("reason") or None, actor=actor),
            lambda f: "override" if f.get("override") == "1" else "promote")


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never ``//host`` or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login(app: FastAPI, ctx: Context) -> None:
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str | None = None) -> str:
        return _pages.render("login.html", ctx.viewer(request), next=_safe_next(next),
                             enabled=ctx.tokens.enabled, failed=False,
                             var=ctx.tokens.variable)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if not ctx.tokens.enabled:
            raise HTTPException(403, MSG_WRITES_OFF)
        if not _origin_ok(request):  # no signing a browser in from another site
            raise HTTPException(403, MSG_CROSS_ORIGIN)
        form = await _form(request)
        target = _safe_next(form.get("next"))
        if ctx.tokens.find(form.get("token")) is None:
            page = _pages.render("login.html", ctx.viewer(request), next=target, enabled=True,
                                 failed=True, var=ctx.tokens.variable)
            return HTMLResponse(page, status_code=401)
        out = RedirectResponse(target, status_code=303)
        out.set_cookie(COOKIE, (form.get("token") or "").strip(), httponly=True,
                       samesite="strict", secure=request.url.scheme == "https", path="/")
        return out

    @app.get("/logout", include_in_schema=False)
    def logout() -> Response:
        out = RedirectResponse("/", status_code=303)
        out.delete_cookie(COOKIE, path="/")
        return out
