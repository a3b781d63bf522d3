"""`airlock ui`'s JSON API and pages, over HTTP against a real `airlock ui` process on a
real store (runs with histories, a gated and an overridden promotion, hostile names)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape
from tests.integration.ui_helpers import (
    EXPERIMENT,
    HOSTILE,
    NAME,
    filled_store,
    start_ui,
    stop,
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI", "AIRLOCK_UI_TOKENS")}
    env.update(AIRLOCK_HOME=str(home), AIRLOCK_ACTOR="tester")
    return env


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("ui-store")
    info = filled_store(root)
    info["home"] = root / "home"
    yield info


@pytest.fixture(scope="module")
def ui(filled: dict[str, Any]) -> Iterator[httpx.Client]:
    proc, url = start_ui(_env(filled["home"]))
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client
    out = stop(proc)
    assert f"serving {url}/" in out


def api(ui: httpx.Client, path: str, status: int = 200, **params: Any) -> Any:
    r = ui.get(path, params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


# -- runs ------------------------------------------------------------------------------
def test_runs_table_has_params_and_metric_last_min_max(ui: httpx.Client,
                                                       filled: dict[str, Any]) -> None:
    d = api(ui, "/api/runs", experiment=EXPERIMENT)
    assert d["total"] == 3 and d["pages"] == 1 and EXPERIMENT in d["experiments"]
    assert d["param_keys"] == ["lr", "max_depth", "seed"]
    assert d["metric_keys"] == ["loss", "val_auc"]
    by_id = {r["id"]: r for r in d["runs"]}
    first = by_id[filled["runs"][0]]
    assert first["params"]["max_depth"] == "3"
    assert first["metrics"]["val_auc"]["last"] == pytest.approx(0.7 + 0.02 * 9)
    assert first["metrics"]["val_auc"]["min"] == pytest.approx(0.7)
    assert first["metrics"]["loss"] == {"last": pytest.approx(0.1), "min": pytest.approx(0.1),
                                        "max": pytest.approx(1.0)}


def test_runs_sort_filter_and_pages_on_the_server(ui: httpx.Client,
                                                  filled: dict[str, Any]) -> None:
    ids = filled["runs"]
    d = api(ui, "/api/runs", order_by="metrics.val_auc DESC", experiment=EXPERIMENT)
    assert [r["id"] for r in d["runs"]] == ids[::-1]
    d = api(ui, "/api/runs", order_by="metrics.val_auc ASC", per_page=2, page=2,
            experiment=EXPERIMENT)
    assert d["total"] == 3 and d["pages"] == 2 and [r["id"] for r in d["runs"]] == [ids[2]]
    d = api(ui, "/api/runs", filter="params.max_depth = 6 and metrics.val_auc > 0.5")
    assert [r["id"] for r in d["runs"]] == [ids[1]] and d["total"] == 1
    assert api(ui, "/api/runs", filter="metrics.val_auc > 5")["runs"] == []


@pytest.mark.parametrize(("params", "message"), [
    ({"filter": "metrics.val_auc >"}, "cannot read filter clause 'metrics.val_auc >'"),
    ({"filter": "colour.red = 1"}, "unknown filter entity 'colour'"),
    ({"filter": "metrics.auc > high"}, "metrics.auc compares with a number, not 'high'"),
    ({"order_by": "sideways"}, "cannot read order-by 'sideways'"),
    ({"per_page": 0}, "per_page must be between 1 and 1000, not 0"),
    ({"page": "two"}, "invalid page"),
])
def test_bad_runs_query_is_400_naming_it(ui: httpx.Client, params: dict[str, Any],
                                         message: str) -> None:
    assert message in api(ui, "/api/runs", 400, **params)["error"]
    page = ui.get("/runs", params=params)
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert str(escape(message)) in page.text


def test_run_detail_history_artifacts_inputs_models(ui: httpx.Client,
                                                    filled: dict[str, Any]) -> None:
    run_id = filled["runs"][0]
    d = api(ui, f"/api/runs/{run_id}")
    assert d["history"]["val_auc"]["steps"] == list(range(10))
    assert d["history"]["loss"]["values"][0] == pytest.approx(1.0)
    assert [a["path"] for a in d["artifacts"]] == ["notes.txt"]
    assert [i["name"] for i in d["inputs"]] == ["train"] and d["inputs"][0]["rows"] == 4
    assert [(m["name"], m["version"]) for m in d["models"]] == [(NAME, 1), (NAME, 2)]
    assert "python" in d["env"] and d["command"]
    r = ui.get(f"/api/runs/{run_id}/artifacts/notes.txt")
    assert r.status_code == 200 and r.content == b"hello from the run\n"
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["content-type"] == "application/octet-stream"
    assert "no such artifact: nope.txt" in api(ui, f"/api/runs/{run_id}/artifacts/nope.txt", 404)[
        "error"]
    page = ui.get(f"/runs/{run_id}")
    assert page.status_code == 200 and page.text.count("<svg") == 2


def test_compare_marks_differing_params(ui: httpx.Client, filled: dict[str, Any]) -> None:
    a, b, c = filled["runs"]
    d = api(ui, "/api/compare", ids=[a, b, c])
    differs = {p["key"]: p["differs"] for p in d["params"]}
    assert differs == {"lr": False, "max_depth": True, "seed": False}
    assert set(d["history"]["val_auc"]) == {a, b, c}
    page = ui.get("/compare", params={"ids": [a, b]})
    assert page.status_code == 200 and 'class="differs" data-key="params.max_depth"' in page.text
    assert page.text.count("<polyline") == 4  # two metrics x two runs, overlaid
    assert "2 to 10 distinct run ids, not 1" in api(ui, "/api/compare", 400, ids=[a])["error"]


# -- models ----------------------------------------------------------------------------
def test_models_list_and_model_page(ui: httpx.Client) -> None:
    m = next(m for m in api(ui, "/api/models")["models"] if m["name"] == NAME)
    assert m["latest_version"] == 2
    assert m["aliases"] == {"production": 2, "staging": 1}
    d = api(ui, f"/api/models/{NAME}")
    assert [v["version"] for v in d["versions"]] == [1, 2]
    moves = [(h["action"], h["alias"], h["from"], h["to"]) for h in d["alias_history"]]
    assert moves == [("alias.protected", "production", None, None),
                     ("alias.set", "production", None, 1),
                     ("alias.moved", "production", 1, 2),
                     ("alias.set", "staging", None, 1)]
    assert d["alias_history"][1]["decision"] and d["alias_history"][1]["actor"] == "tester"
    assert d["alias_history"][2]["override_reason"] == "hotfix approved by the on-call lead"
    assert [(p["alias"], p["policy"]) for p in d["protected"]] == [("production", "release")]
    page = ui.get(f"/models/{NAME}").text
    assert "hotfix approved by the on-call lead" in page and "policy <b>release</b>" in page


def test_version_page_by_number_and_alias(ui: httpx.Client, filled: dict[str, Any]) -> None:
    d = api(ui, f"/api/models/{NAME}/versions/production")
    assert d["version"] == 2 and d["ref"] == f"{NAME}@2"
    assert d["run"]["id"] == filled["runs"][0]
    assert [(x["policy"], x["passed"]) for x in d["decisions"]] == [("release", False)]
    assert [(h["alias"], h["from"], h["override_reason"]) for h in d["alias_history"]] == [
        ("production", 1, "hotfix approved by the on-call lead")]
    assert d["decisions"][0]["rules"][0]["value"] == pytest.approx(0.80)
    assert d["files"] and all(len(h) == 64 for h in d["files"].values())
    assert [c["name"] for c in d["signature"]["inputs"]] == ["x"]
    assert d["flavor"] == "sklearn"
    v1 = api(ui, f"/api/models/{NAME}/versions/1")
    assert [x["rows"] for x in v1["datasets"]] == [4]
    assert v1["decisions"][0]["passed"] is True and v1["aliases"] == ["staging"]
    page = ui.get(f"/models/{NAME}/versions/2").text
    assert d["sha256"] in page and "FAIL" in page
    card = ui.get(f"/models/{NAME}/versions/2/card")
    assert card.status_code == 200 and f"{NAME}@2" in card.text


@pytest.mark.parametrize(("path", "message"), [
    ("/runs/0123456789abcdef", "run not found: 0123456789abcdef"),
    ("/models/nope", "model not found: nope"),
    (f"/models/{NAME}/versions/9", f"model version not found: {NAME}@9"),
    (f"/models/{NAME}/versions/canary", f"alias not found: {NAME}@canary"),
    ("/models/nope/versions/1", "model not found: nope"),
])
def test_unknown_things_are_404_naming_them(ui: httpx.Client, path: str, message: str) -> None:
    assert api(ui, "/api" + path, 404) == {"error": message}
    page = ui.get(path)
    assert page.status_code == 404 and message in page.text and "Not found" in page.text


def test_unknown_page_is_404_json_under_api(ui: httpx.Client) -> None:
    assert api(ui, "/api/nothing", 404) == {"error": "no such page: /api/nothing"}
    assert ui.get("/nothing").status_code == 404


# -- audit log -------------------------------------------------------------------------
def test_events_with_filters_and_chain_verification(ui: httpx.Client) -> None:
    d = api(ui, "/api/events", limit=5000)
    assert d["verify"] == {"ok": True, "checked": len(d["events"]), "first_bad": None,
                           "reason": None}
    alias = api(ui, "/api/events", subject=f"models/{NAME}", action="alias.")
    assert {e["action"] for e in alias["events"]} == {"alias.protected", "alias.set",
                                                      "alias.moved"}
    assert len(api(ui, "/api/events", limit=2)["events"]) == 2
    page = ui.get("/events", params={"action": "alias."}).text
    assert "Hash chain intact" in page and "alias.moved" in page and "run.started" not in page


# -- everything escaped, documented, and safe headers ---------------------------------
def test_hostile_names_render_as_text(ui: httpx.Client, filled: dict[str, Any]) -> None:
    hostile_run = filled["runs"][2]
    for path in ("/runs", f"/runs/{hostile_run}", "/events",
                 f"/compare?ids={filled['runs'][0]}&ids={hostile_run}"):
        page = ui.get(path)
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
    assert api(ui, f"/api/runs/{hostile_run}")["name"] == HOSTILE
    csp = ui.get("/runs").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_openapi_documents_every_api_route(ui: httpx.Client) -> None:
    paths = set(api(ui, "/openapi.json")["paths"])
    assert paths == {
        "/api/experiments", "/api/runs", "/api/runs/{run_id}",
        "/api/runs/{run_id}/artifacts/{path}", "/api/compare", "/api/models",
        "/api/models/{name}", "/api/models/{name}/versions/{version}", "/api/events",
        "/api/models/{name}/promotion", "/api/evaluations", "/api/evaluations/{eval_id}",
        "/api/evaluations/{eval_id}/decisions/{decision_id}", "/api/contracts",
        "/api/contracts/{name}", "/api/endpoints", "/api/endpoints/{name}", "/api/alerts",
        "/api/reports", "/api/runs/{run_id}/reports/{path}", "/api/session",
        "/api/models/{name}/aliases/{alias}", "/api/models/{name}/aliases/{alias}/protect",
        "/api/models/{name}/aliases/{alias}/promote"}
    assert ui.get("/docs").status_code == 404  # no Swagger page: it would load a CDN


def test_store_at_an_older_revision_says_to_upgrade(filled: dict[str, Any],
                                                    tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "old"
    shutil.copytree(filled["home"], home)
    with sqlite3.connect(home / "airlock.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0002'")
    proc, url = start_ui(_env(home))
    try:
        page = httpx.get(f"{url}/runs")
        assert page.status_code == 503 and "airlock store upgrade" in page.text
        body = httpx.get(f"{url}/api/models").json()
        assert "schema revision '0002'; run `airlock store upgrade`" in body["error"]
    finally:
        stop(proc)
