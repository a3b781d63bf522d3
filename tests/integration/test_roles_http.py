"""Roles over HTTP, against real servers on 127.0.0.1: an `airlock ui` process and an
`airlock serve` app, both reading the one token configuration (AIRLOCK_TOKENS). Each write
checks the token's role (403 `{"error": …}` naming the role it needs) and is audited as the
token's actor, never as a name the client sends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.serving_helpers import running
from tests.integration.ui_helpers import start_ui, stop

import airlock
from airlock.gates import gate, load_policy, protect
from airlock.serve import EndpointConfig
from airlock.serve._auth import MSG_ADMIN_NO_TOKEN, MSG_ADMIN_ROLE, MSG_ENDPOINT_TOKEN
from airlock.store import close_stores, get_store
from airlock.ui._auth import MSG_ROLE

NAME = "roles-m"
POLICY = """name: release
rules:
  - metric: roc_auc
    min: 0.85
approvals: {count: 1, not_author: true, roles: [approver]}
"""
TOKENS = ("val:viewer=tok-viewer-1,dev:developer=tok-dev-2,rev:approver=tok-rev-3,"
          "boss:admin=tok-admin-4")
VIEWER, DEV, REV, ADMIN = "tok-viewer-1", "tok-dev-2", "tok-rev-3", "tok-admin-4"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _stored_evaluation(version: int) -> str:
    eval_id = f"ev-roles-{version}"
    result = {"id": eval_id, "task": "binary", "target": "y", "support": 100,
              "model": {"ref": f"{NAME}@{version}", "name": NAME, "version": version},
              "overall": {"roc_auc": {"value": 0.9, "ci_low": 0.88, "ci_high": 0.92}},
              "slices": {}, "fairness": {}, "baseline": None}
    get_store().evaluations.save(eval_id=eval_id, name=NAME, version=version,
                                 model_sha256="0" * 64, task="binary", result=result,
                                 dataset=None)
    return eval_id


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two versions registered by `tester`; version 1 has a passing decision under POLICY,
    which protects production."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("roles") / "home"
    saved = {k: os.environ.get(k) for k in ("AIRLOCK_HOME", "AIRLOCK_ACTOR",
                                            "AIRLOCK_STORE_URI")}
    os.environ.update(AIRLOCK_HOME=str(root), AIRLOCK_ACTOR="tester")
    os.environ.pop("AIRLOCK_STORE_URI", None)
    try:
        frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
        model = LogisticRegression().fit(frame, [0, 0, 1, 1])
        for _ in range(2):
            airlock.register_model(NAME, model, input_example=frame)
        policy = load_policy(POLICY)
        protect(NAME, "production", policy)
        gate(_stored_evaluation(1), policy)
        close_stores()
        yield root
    finally:
        close_stores()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def ui(home: Path) -> Iterator[httpx.Client]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI", "AIRLOCK_UI_TOKENS")}
    env.update(AIRLOCK_HOME=str(home), AIRLOCK_ACTOR="os-user", AIRLOCK_TOKENS=TOKENS)
    proc, url = start_ui(env)
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client
    out = stop(proc)
    assert all(t not in out for t in (VIEWER, DEV, REV, ADMIN))  # never logged


def _events(ui: httpx.Client, action: str) -> list[dict[str, Any]]:
    found = ui.get("/api/events", params={"subject": f"models/{NAME}", "limit": 200}).json()
    items = found["events"] if isinstance(found, dict) else found
    return [e for e in items if e["action"].startswith(action)]


def test_ui_writes_check_the_role_and_audit_the_tokens_actor(ui: httpx.Client) -> None:
    alias = f"/api/models/{NAME}/aliases"
    # a viewer reads but cannot write
    viewer = ui.post(f"{alias}/staging", json={"version": 1}, headers=_bearer(VIEWER))
    assert viewer.status_code == 403
    assert viewer.json() == {"error": MSG_ROLE.format(actor="val", action="alias",
                                                      needs="developer or admin",
                                                      has="viewer")}
    # a developer cannot approve, and without an approval cannot promote
    dev_approves = ui.post(f"{alias}/production/approve", json={"version": 1},
                           headers=_bearer(DEV))
    assert dev_approves.status_code == 403
    assert dev_approves.json()["error"] == MSG_ROLE.format(
        actor="dev", action="approve", needs="approver or admin", has="developer")
    early = ui.post(f"{alias}/production/promote", json={"version": 1}, headers=_bearer(DEV))
    assert early.status_code == 409 and "0 of the 1 approval(s)" in early.json()["error"]
    # the client cannot claim an actor: the body has no such field
    claimed = ui.post(f"{alias}/production/approve",
                      json={"version": 1, "actor": "someone-else"}, headers=_bearer(REV))
    assert claimed.status_code == 400 and "actor" in claimed.json()["error"]
    # an override needs admin
    forced = ui.post(f"{alias}/production/promote",
                     json={"version": 1, "override": True, "reason": "now"},
                     headers=_bearer(DEV))
    assert forced.status_code == 403
    assert forced.json()["error"] == MSG_ROLE.format(actor="dev", action="override",
                                                     needs="admin", has="developer")
    # the approver approves, as the token's actor; then the developer promotes
    ok = ui.post(f"{alias}/production/approve", json={"version": 1, "comment": "looks right"},
                 headers=_bearer(REV))
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["actor"] == "rev" and body["comment"] == "looks right"
    assert [e["actor"] for e in body["events"]] == ["rev"]
    moved = ui.post(f"{alias}/production/promote", json={"version": 1}, headers=_bearer(DEV))
    assert moved.status_code == 200, moved.text
    assert moved.json()["approved_by"] == ["rev"] and moved.json()["actor"] == "dev"
    assert [e["actor"] for e in _events(ui, "approval.")] == ["rev"]
    assert _events(ui, "alias.")[-1]["actor"] == "dev"
    # no token: 401; a wrong one: 401
    assert ui.post(f"{alias}/staging", json={"version": 1}).status_code == 401
    assert ui.post(f"{alias}/staging", json={"version": 1},
                   headers=_bearer("nope")).status_code == 401


def test_serve_admin_api_takes_role_tokens(home: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setenv("AIRLOCK_HOME", str(home))
    monkeypatch.delenv("AIRLOCK_STORE_URI", raising=False)
    monkeypatch.setenv("AIRLOCK_TOKENS", TOKENS)
    monkeypatch.setenv("AIRLOCK_SERVE_TOKENS", "endpoint-tok")
    config = EndpointConfig.for_ref(f"{NAME}@1", auth={"protect_inference": False})
    try:
        with running(config) as url:
            status = httpx.get(f"{url}/v1/admin/status", headers=_bearer(VIEWER))
            viewer_reload = httpx.post(f"{url}/v1/admin/reload", headers=_bearer(VIEWER))
            dev_reload = httpx.post(f"{url}/v1/admin/reload", headers=_bearer(DEV))
            endpoint_token = httpx.get(f"{url}/v1/admin/status",
                                       headers=_bearer("endpoint-tok"))
            none = httpx.post(f"{url}/v1/admin/reload")
    finally:
        close_stores()
    assert status.status_code == 200 and status.json()["actor"] == "val"
    assert viewer_reload.status_code == 403
    assert viewer_reload.json() == {"error": MSG_ADMIN_ROLE.format(
        actor="val", action="reload", needs="developer or admin", has="viewer")}
    assert dev_reload.status_code == 200 and dev_reload.json() == {"changed": [],
                                                                   "actor": "dev"}
    assert endpoint_token.status_code == 403
    assert endpoint_token.json() == {"error": MSG_ENDPOINT_TOKEN}
    assert none.status_code == 401
    assert none.json() == {"error": MSG_ADMIN_NO_TOKEN.format(header="Authorization")}
