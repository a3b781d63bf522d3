"""`airlock ui`'s JSON API and pages, over HTTP against a real `airlock ui` process on a
real store: runs with histories, a gated and an overridden promotion, hostile names, real
evaluations with decisions, contract validations, guard and LLM reports kept with a run,
and the prediction log of a real `airlock serve` process with alert rules run over it.
Writes go to a second process (on a copy of the store) with AIRLOCK_UI_TOKENS set."""

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
    ALICE,
    BOT,
    CONTRACT_NAME,
    ENDPOINT,
    EXPERIMENT,
    HOSTILE,
    NAME,
    SCORED,
    TOKENS,
    filled_store,
    start_ui,
    stop,
    ui_args,
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
    proc, url = start_ui(_env(filled["home"]), *ui_args(filled))
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
        "/api/models/{name}/aliases/{alias}/promote",
        "/api/models/{name}/aliases/{alias}/approve"}
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


# -- evaluations and decisions ---------------------------------------------------------
def test_evaluation_has_cis_slices_fairness_calibration_curves_baseline(
        ui: httpx.Client, filled: dict[str, Any]) -> None:
    ev1, ev2 = filled["evaluations"]
    listed = api(ui, "/api/evaluations", model=SCORED)["evaluations"]
    assert {e["id"] for e in listed} == {ev1, ev2}
    assert [d["passed"] for e in listed if e["id"] == ev2 for d in e["decisions"]] == [False]
    d = api(ui, f"/api/evaluations/{ev1}")
    ev = d["evaluation"]
    auc = ev["overall"]["roc_auc"]
    assert auc["ci_low"] < auc["value"] < auc["ci_high"]
    assert sum(cell["support"] for cell in ev["slices"]["group"].values()) == ev["support"]
    dpr = ev["fairness"]["sex"]["disparities"]["demographic_parity_ratio"]
    assert dpr["ci_low"] <= dpr["value"] <= dpr["ci_high"]
    assert set(ev["extras"]) >= {"roc", "reliability"}
    assert ev["baseline"]["model"]["version"] == filled["scored_versions"][1]
    (dec,) = d["decisions"]
    assert dec["id"] == filled["decisions"][0] and dec["passed"] is True
    assert [r["index"] for r in dec["rules"]] == [1, 2, 3, 4, 5]
    page = ui.get(f"/evaluations/{ev1}").text
    for anchor in ('id="metrics"', 'id="curves"', 'id="slices"', 'id="fairness"',
                   'id="baseline"', 'id="decision"'):
        assert anchor in page, anchor
    assert f"{auc['value']:.4f}" in page and "Reliability diagram" in page
    assert f"/evaluations/{ev1}/decisions/{dec['id']}" in page


def test_decision_rule_by_rule_with_evidence(ui: httpx.Client, filled: dict[str, Any]) -> None:
    ev2, dec2 = filled["evaluations"][1], filled["decisions"][1]
    d = api(ui, f"/api/evaluations/{ev2}/decisions/{dec2}")
    rules = d["decision"]["rules"]
    assert d["decision"]["passed"] is False and d["evaluation"]["model"]["version"] == 2
    failed = [r["index"] for r in rules if r["passed"] is False and r["severity"] == "fail"]
    assert 1 in failed and 2 in failed  # below the AUC floor; regressed against v1
    assert all("evidence" in r for r in rules)
    page = ui.get(f"/evaluations/{ev2}/decisions/{dec2}").text
    assert "FAILED" in page and str(escape(rules[0]["text"])) in page
    assert api(ui, f"/api/evaluations/{ev2}/decisions/dc-nope", 404) == {
        "error": f"decision not found: dc-nope (on evaluation {ev2})"}
    assert api(ui, "/api/evaluations/ev-nope", 404) == {"error": "evaluation not found: ev-nope"}


def test_promotion_view_candidate_next_to_the_alias_and_the_verdict(
        ui: httpx.Client, filled: dict[str, Any]) -> None:
    v1, v2 = filled["scored_versions"]
    d = api(ui, f"/api/models/{SCORED}/promotion", alias="production", candidate=str(v2))
    assert (d["current"], d["candidate"], d["same_data"]) == (v1, v2, True)
    assert d["protected"]["policy"] == "income-release"
    ev1 = api(ui, f"/api/evaluations/{filled['evaluations'][0]}")["evaluation"]
    ev2 = api(ui, f"/api/evaluations/{filled['evaluations'][1]}")["evaluation"]
    auc = next(m for m in d["metrics"] if m["metric"] == "roc_auc")
    assert auc["candidate"]["value"] == ev2["overall"]["roc_auc"]["value"]
    assert auc["current"]["value"] == ev1["overall"]["roc_auc"]["value"]
    assert auc["candidate_better"] is False
    verdict = d["verdict"]
    assert verdict["outcome"] == "refused" and verdict["decision"]["id"] == filled["decisions"][1]
    assert {r["index"] for r in verdict["failing_rules"]} >= {1, 2}
    assert "only an audited override can move it" in verdict["why"]
    paired = {r["metric"]: r for r in d["baseline"]["deltas"]}
    assert paired["roc_auc"]["significant_regression"] is True
    assert api(ui, f"/api/models/{SCORED}/promotion", candidate=str(v1))["verdict"][
        "outcome"] == "already"
    staging = api(ui, f"/api/models/{SCORED}/promotion", alias="staging", candidate=str(v2))
    assert staging["verdict"]["outcome"] == "move" and staging["protected"] is None
    page = ui.get(f"/models/{SCORED}/promote", params={"candidate": v2}).text
    assert "Refused" in page and 'id="side-by-side"' in page
    assert "promote-form" not in page  # writes are off in this UI
    assert api(ui, f"/api/models/{SCORED}/promotion", 404, candidate="7") == {
        "error": f"model version not found: {SCORED}@7"}


# -- contracts -------------------------------------------------------------------------
def test_contract_validations_over_time_with_masked_examples(ui: httpx.Client) -> None:
    (c,) = api(ui, "/api/contracts")["contracts"]
    assert (c["name"], c["validations"], c["failed"], c["last_passed"]) == (
        CONTRACT_NAME, 2, 1, False)
    d = api(ui, f"/api/contracts/{CONTRACT_NAME}")
    newest, oldest = d["validations"]
    assert newest["passed"] is False and oldest["passed"] is True
    failing = {(f["name"], f["column"]): f["examples"] for f in newest["failing"]}
    assert failing == {("range", "age"): [7], ("regex", "email"): ["***"],
                       ("allowed", "plan"): [HOSTILE]}
    assert d["check_keys"][:3] == ["allowed plan", "range age", "regex email"]
    assert newest["outcomes"]["range age"] == {"passed": False, "severity": "error",
                                               "failing_rows": 1}
    page = ui.get(f"/contracts/{CONTRACT_NAME}").text
    assert "secret-person" not in page and "***" in page
    assert HOSTILE not in page and str(escape(HOSTILE)) in page
    assert api(ui, "/api/contracts/nope", 404) == {
        "error": "contract not found: nope (no validation of it is stored)"}


# -- endpoints -------------------------------------------------------------------------
def test_endpoint_serving_figures_equal_what_the_clients_saw(
        ui: httpx.Client, filled: dict[str, Any]) -> None:
    (e,) = api(ui, "/api/endpoints")["endpoints"]
    assert e["name"] == ENDPOINT and e["rules"] == 3 and "error-rate" in e["firing"]
    d = api(ui, f"/api/endpoints/{ENDPOINT}")
    t = d["report"]["totals"]
    sent = filled["statuses"]
    assert t["statuses"] == {str(k): v for k, v in sorted(sent.items())}
    assert t["requests"] == sum(sent.values())
    assert t["errors"] == sum(v for k, v in sent.items() if k >= 400)
    assert len(d["report"]["windows"]) >= 3  # 1-second windows over three bursts
    assert sum(w["requests"] for w in d["report"]["windows"]) == t["requests"]
    assert set(t["routes"]) == {"primary", "canary"}
    assert sum(w["performance"]["labelled"] for w in d["report"]["windows"]
               if w["performance"]) == filled["labels"]
    lat = t["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    by_status = d["statuses"]
    assert sum(w["counts"]["200"] for w in by_status["windows"]) == sent[200]
    served = [e for v in filled["scored_versions"]
              for e in api(ui, f"/api/models/{SCORED}/versions/{v}")["endpoints"]]
    assert {e["endpoint"] for e in served} == {ENDPOINT}
    assert sum(e["requests"] for e in served) == t["requests"]  # the canary's included
    assert f'href="/endpoints/{ENDPOINT}"' in ui.get(f"/models/{SCORED}/versions/2").text


def test_endpoint_drift_per_column_per_window_names_its_reference(
        ui: httpx.Client, filled: dict[str, Any]) -> None:
    d = api(ui, f"/api/endpoints/{ENDPOINT}")
    inputs, preds = d["drift"]["inputs"], d["drift"]["predictions"]
    assert inputs["compared_with"] == [filled["reference"]]
    assert d["reference_from"] == "airlock ui --reference"
    assert inputs["columns"] == ["x1", "x2"]
    assert any(w["columns"]["x1"]["drifted"] for w in inputs["windows"] if w["columns"])
    assert preds["compared_with"][0].startswith("predictions of evaluation ")
    assert len(inputs["windows"]) == len(d["report"]["windows"])
    no_drift = api(ui, f"/api/endpoints/{ENDPOINT}", drift="0")
    assert no_drift["drift"]["inputs"]["columns"] == [] and no_drift["drift_on"] is False
    page = ui.get(f"/endpoints/{ENDPOINT}").text
    assert page.count('class="drift-matrix"') == 2 and filled["reference"] in page
    assert 'data-refresh="10"' in page and '<script src="/static/ui.js" defer>' in page


def test_endpoint_alert_rules_show_value_now_and_kept_state(
        ui: httpx.Client, filled: dict[str, Any]) -> None:
    alerts = {a["rule"]: a for a in api(ui, f"/api/endpoints/{ENDPOINT}")["alerts"]}
    assert set(alerts) == {"p95-latency", "error-rate", "input-drift"}
    err = alerts["error-rate"]
    sent = filled["statuses"]
    assert err["value"] == pytest.approx(sum(v for k, v in sent.items() if k >= 400)
                                         / sum(sent.values()))
    assert err["breached"] is True and err["state"]["firing"] is True and err["state"]["since"]
    assert alerts["p95-latency"]["breached"] is False
    assert set(filled["firing"]) == {r for r, a in alerts.items() if a["state"]["firing"]}
    assert api(ui, "/api/alerts")["rule_files"] == [filled["rules"]]


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"window": "soon"}, 400, "window"),
    ({"drift": "maybe"}, 400, "drift must be 1 or 0, not 'maybe'"),
])
def test_endpoint_bad_query_is_400(ui: httpx.Client, params: dict[str, Any], status: int,
                                   message: str) -> None:
    assert message in api(ui, f"/api/endpoints/{ENDPOINT}", status, **params)["error"]


def test_unknown_endpoint_is_404(ui: httpx.Client) -> None:
    assert "endpoint 'nope' has no logged predictions" in api(
        ui, "/api/endpoints/nope", 404)["error"]
    assert ui.get("/endpoints/nope").status_code == 404


# -- reports ---------------------------------------------------------------------------
def test_guard_and_llm_reports_kept_with_a_run(ui: httpx.Client,
                                               filled: dict[str, Any]) -> None:
    run = filled["reports_run"]
    found = {(r["path"], r["kind"], r["format"]) for r in api(ui, "/api/reports")["reports"]
             if r["run_id"] == run}
    assert found == {("guard-report.html", "guard", "html"), ("guard-eval.json", "guard", "json"),
                     ("llm-eval/evaluation.json", "llm", "json")}
    guard = api(ui, f"/api/runs/{run}/reports/guard-eval.json")
    for name in ("precision", "recall", "fpr"):
        assert guard["metrics"][name] == filled["guard_metrics"][name]
    llm = api(ui, f"/api/runs/{run}/reports/llm-eval/evaluation.json")
    assert llm["kind"] == "llm" and llm["facts"]["n_cases"] == 3
    assert llm["metrics"] == filled["llm_metrics"]
    assert [r["kind"] for r in api(ui, "/api/reports", kind="llm")["reports"]] == ["llm"]
    raw = ui.get(f"/runs/{run}/report-file/guard-report.html")
    assert raw.status_code == 200 and raw.text.startswith("<!DOCTYPE html>")
    assert raw.headers["content-security-policy"].startswith("sandbox;")
    viewer = ui.get(f"/runs/{run}/reports/guard-report.html").text
    assert 'sandbox=""' in viewer and "report-file/guard-report.html" in viewer
    assert "no such report: notes.txt" in api(
        ui, f"/api/runs/{filled['runs'][0]}/reports/notes.txt", 404)["error"]


# -- writes ----------------------------------------------------------------------------
def test_writes_are_off_without_tokens(ui: httpx.Client) -> None:
    r = ui.post(f"/api/models/{NAME}/aliases/staging", json={"version": 2},
                headers={"Authorization": f"Bearer {ALICE}"})
    assert r.status_code == 403 and "writes are off" in r.json()["error"]
    assert api(ui, "/api/session") == {"writes": False, "actor": None}
    assert "alias-form" not in ui.get(f"/models/{NAME}").text


@pytest.fixture(scope="module")
def writer(filled: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[httpx.Client]:
    """A UI with AIRLOCK_UI_TOKENS on a copy of the store (its writes change it)."""
    import shutil

    home = tmp_path_factory.mktemp("ui-writes") / "home"
    shutil.copytree(filled["home"], home)
    proc, url = start_ui({**_env(home), "AIRLOCK_UI_TOKENS": TOKENS})
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client
    out = stop(proc)
    assert ALICE not in out and BOT not in out  # tokens never reach the log


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_write_without_or_with_a_bad_token_is_401(writer: httpx.Client) -> None:
    before = writer.get(f"/api/models/{NAME}").json()["aliases"]
    for headers in ({}, _bearer("tok-wrong"), {"Authorization": f"Basic {ALICE}"}):
        r = writer.post(f"/api/models/{NAME}/aliases/staging", json={"version": 2},
                        headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "tok-" not in r.text
    assert writer.get(f"/api/models/{NAME}").json()["aliases"] == before


def test_set_alias_is_audited_as_the_tokens_actor(writer: httpx.Client) -> None:
    r = writer.post(f"/api/models/{NAME}/aliases/next", json={"version": 1},
                    headers=_bearer(ALICE))
    r = writer.post(f"/api/models/{NAME}/aliases/next", json={"version": 2},
                    headers=_bearer(ALICE))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["from"], out["to"], out["actor"]) == (1, 2, "alice")
    (event,) = out["events"]
    assert (event["action"], event["actor"], event["payload"]["to"]) == ("alias.moved",
                                                                        "alice", 2)
    logged = writer.get("/api/events", params={"subject": f"models/{NAME}",
                                               "actor": "alice"}).json()
    assert event["seq"] in [e["seq"] for e in logged["events"]]
    assert {e["actor"] for e in logged["events"]} == {"alice"}
    assert logged["verify"]["ok"] is True
    assert writer.get(f"/api/models/{NAME}").json()["aliases"]["next"] == 2
    bad = writer.post(f"/api/models/{NAME}/aliases/next", json={"version": "two"},
                      headers=_bearer(ALICE))
    assert bad.status_code == 400 and "version" in bad.json()["error"]


def test_a_protected_alias_moves_only_through_its_gate(writer: httpx.Client,
                                                       filled: dict[str, Any]) -> None:
    v1, v2 = filled["scored_versions"]
    moved = writer.post(f"/api/models/{SCORED}/aliases/production", json={"version": v2},
                        headers=_bearer(ALICE))
    assert moved.status_code == 409
    assert f"{SCORED}@production is protected by a policy" in moved.json()["error"]
    refused = writer.post(f"/api/models/{SCORED}/aliases/production/promote",
                          json={"version": v2}, headers=_bearer(ALICE))
    assert refused.status_code == 409
    assert f"{SCORED}@{v2} failed policy 'income-release'" in refused.json()["error"]
    assert "rule 1 `roc_auc >= 0.75` failed" in refused.json()["error"]
    no_reason = writer.post(f"/api/models/{SCORED}/aliases/production/promote",
                            json={"version": v2, "override": True}, headers=_bearer(BOT))
    assert no_reason.status_code == 400 and "non-empty --reason" in no_reason.json()["error"]
    assert writer.get(f"/api/models/{SCORED}").json()["aliases"]["production"] == v1
    r = writer.post(f"/api/models/{SCORED}/aliases/production/promote",
                    json={"version": v2, "override": True, "reason": "incident 42: rollback"},
                    headers=_bearer(BOT))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["from"], out["to"], out["override"]["reason"]) == (v1, v2,
                                                                  "incident 42: rollback")
    assert {(e["action"], e["actor"]) for e in out["events"]} == {
        ("promotion.override", "deploy-bot"), ("alias.moved", "deploy-bot")}
    history = writer.get(f"/api/models/{SCORED}").json()["alias_history"]
    assert (history[-1]["actor"], history[-1]["override_reason"]) == (
        "deploy-bot", "incident 42: rollback")


def test_protect_through_the_api(writer: httpx.Client) -> None:
    policy = "name: canary-gate\nrules:\n  - metric: roc_auc\n    min: 0.5\n"
    r = writer.post(f"/api/models/{NAME}/aliases/canary/protect", json={"policy": policy},
                    headers=_bearer(ALICE))
    assert r.status_code == 200, r.text
    assert r.json()["policy"] == "canary-gate"
    assert [(e["action"], e["actor"]) for e in r.json()["events"]] == [
        ("alias.protected", "alice")]
    bad = writer.post(f"/api/models/{NAME}/aliases/canary/protect",
                      json={"policy": "rules: [}"}, headers=_bearer(ALICE))
    assert bad.status_code in (400, 422) and "policy" in bad.json()["error"]
    model = writer.get(f"/api/models/{NAME}").json()
    assert ("canary", "canary-gate") in {(p["alias"], p["policy"]) for p in model["protected"]}


def test_page_forms_with_a_token_field_or_a_signed_in_cookie(writer: httpx.Client) -> None:
    url = str(writer.base_url)
    form = {"alias": "review", "version": "1", "token": ALICE}
    page = writer.post(f"/models/{NAME}/aliases", data=form)
    assert page.status_code == 200 and 'id="written-actor">alice<' in page.text
    assert writer.post(f"/models/{NAME}/aliases", data={**form, "token": "x"}).status_code == 401
    login = writer.post("/login", data={"token": "nope", "next": "/models"})
    assert login.status_code == 401 and "not one of AIRLOCK_UI_TOKENS" in login.text
    with httpx.Client(base_url=url, timeout=30) as browser:
        signed = browser.post("/login", data={"token": BOT, "next": f"/models/{NAME}"})
        assert signed.status_code == 303 and signed.headers["location"] == f"/models/{NAME}"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/api/session").json() == {"writes": True, "actor": "deploy-bot"}
        assert 'id="alias-form"' in browser.get(f"/models/{NAME}").text
        same = browser.post(f"/models/{NAME}/aliases", data={"alias": "review", "version": "2"},
                            headers={"Origin": url.rstrip("/")})
        assert same.status_code == 200 and 'id="written-actor">deploy-bot<' in same.text
        other = browser.post(f"/models/{NAME}/aliases", data={"alias": "review", "version": "1"},
                             headers={"Origin": "http://evil.example"})
        assert other.status_code == 403 and "another site" in other.text
    assert writer.post("/login", data={"token": ALICE, "next": "//evil.example"}).headers[
        "location"] == "/"
    foreign = writer.post("/login", data={"token": ALICE},
                          headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers


def test_reads_need_a_token_beyond_loopback_and_no_tokens_warns(
        filled: dict[str, Any]) -> None:
    proc, url = start_ui({**_env(filled["home"]), "AIRLOCK_UI_TOKENS": TOKENS},
                         host="0.0.0.0")
    try:
        assert httpx.get(f"{url}/api/models").status_code == 401
        assert httpx.get(f"{url}/api/models", headers=_bearer(ALICE)).status_code == 200
        page = httpx.get(f"{url}/models")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/models"
        assert httpx.get(f"{url}/login").status_code == 200
    finally:
        out = stop(proc)
    assert "sign-in needed to read" in out
    proc, url = start_ui(_env(filled["home"]), host="0.0.0.0")
    try:
        assert httpx.get(f"{url}/api/models").status_code == 200
    finally:
        out = stop(proc)
    assert "warning: binding 0.0.0.0 without AIRLOCK_TOKENS: anyone who can reach" in out


def test_a_malformed_token_list_stops_the_ui_naming_the_entry(filled: dict[str, Any]) -> None:
    import subprocess
    import sys

    secret = "s3cret-token"
    env = {**_env(filled["home"]), "AIRLOCK_UI_TOKENS": f"alice=tok-a,{secret}"}
    done = subprocess.run([sys.executable, "-m", "airlock", "ui", "--port", "0"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(
        "AIRLOCK_UI_TOKENS entry 2 is not ACTOR=TOKEN: write pairs such as alice=TOKEN, "
        "separated by commas")
    assert secret not in done.stderr + done.stdout and "Traceback" not in done.stderr


def test_runs_metric_value_at_a_step(ui: httpx.Client, filled: dict[str, Any]) -> None:
    d = api(ui, "/api/runs", experiment=EXPERIMENT, step=3)
    first = next(r for r in d["runs"] if r["id"] == filled["runs"][0])
    assert first["metrics"]["val_auc"]["step"] == pytest.approx(0.7 + 0.02 * 3)
    assert first["metrics"]["loss"]["step"] == pytest.approx(1.0 / 4)
    assert api(ui, "/api/runs", experiment=EXPERIMENT, step=99)["runs"][0]["metrics"][
        "val_auc"]["step"] is None  # no point at step 99
    page = ui.get("/runs", params={"experiment": EXPERIMENT, "agg": "step", "step": "3"})
    assert page.status_code == 200 and "at step 3" in page.text
    cell = f'<td class="num" data-metric="val_auc">{0.7 + 0.02 * 3:.6g}</td>'
    assert cell in page.text
    for agg, value in (("min", 0.7), ("max", 0.7 + 0.02 * 9)):  # val_auc of the first run
        shown = ui.get("/runs", params={"experiment": EXPERIMENT, "agg": agg}).text
        row = shown[shown.index(f'data-run="{first["id"]}"'):]
        assert row.split('data-metric="val_auc">', 1)[1].startswith(f"{value:.6g}<"), agg
    bad = ui.get("/runs", params={"agg": "step", "step": ""})
    assert bad.status_code == 400 and "need a whole step number" in bad.text


def test_views_within_the_refresh_interval_share_one_computation(ui: httpx.Client) -> None:
    first = api(ui, f"/api/endpoints/{ENDPOINT}", window="2s")
    again = api(ui, f"/api/endpoints/{ENDPOINT}", window="2s")
    assert again["computed_at"] == first["computed_at"]  # --refresh 10: kept for 10 s
    assert again["report"] == first["report"]
    page = ui.get(f"/endpoints/{ENDPOINT}", params={"window": "2s"}).text
    assert f"Computed {first['computed_at']} UTC" in page


def test_a_prediction_reference_is_what_prediction_drift_compares_with(
        filled: dict[str, Any]) -> None:
    proc, url = start_ui(_env(filled["home"]), "--window", "1s", "--prediction-reference",
                         f"{ENDPOINT}={filled['reference']}")
    try:
        d = httpx.get(f"{url}/api/endpoints/{ENDPOINT}", timeout=60).json()
    finally:
        stop(proc)
    # the inputs' profile holds none of the outputs: said, not silently replaced
    assert d["drift"]["predictions"]["columns"] == []
    why = d["report"]["prediction_reference_missing"]
    assert f"{filled['reference']} holds none of the logged outputs" in why
