"""`airlock ui` in a real headless Chromium (Playwright with Debian's chromium): click
runs → run → model → version → evaluation → decision → endpoint (a real `airlock serve`
process wrote its prediction log), check the numbers shown equal the API's, no console
errors, no request leaving 127.0.0.1, the script's enhancements (sorting, live refresh),
pages read without JavaScript, a write through the page forms, and a screenshot of every
page under the test's tmp dir."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.integration.ui_helpers import (
    BOT,
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

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing: apt-get install -y chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("ui-browser")
    info = filled_store(root)
    env = {k: v for k, v in os.environ.items()
           if k not in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI", "AIRLOCK_UI_TOKENS")}
    env.update(AIRLOCK_HOME=str(root / "home"), AIRLOCK_ACTOR="tester",
               AIRLOCK_UI_TOKENS=TOKENS)
    proc, url = start_ui(env, "--store-uri", f"sqlite:///{root / 'home' / 'airlock.db'}",
                         *ui_args(info), "--refresh", "1")
    info["url"] = url
    yield info
    stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Watch:
    """Console errors, page errors, dialogs and every request that was not to 127.0.0.1."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.outside: list[str] = []
        self.dialogs: list[str] = []


@contextlib.contextmanager
def _page(browser: Any, *, scripts: bool = True) -> Iterator[tuple[Any, Watch]]:
    """A fresh context whose every request off 127.0.0.1 is recorded and aborted."""
    watch = Watch()
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  java_script_enabled=scripts)

    def route(r: Any) -> None:
        host = urlsplit(r.request.url).hostname
        if r.request.url.startswith("data:") or host == "127.0.0.1":
            r.continue_()
        else:
            watch.outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.on("console", lambda m: watch.console.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: watch.console.append(str(e)))
    pg.on("dialog", lambda d: (watch.dialogs.append(d.message), d.dismiss()))
    yield pg, watch
    context.close()
    assert watch.outside == []
    assert watch.dialogs == []


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Watch]]:
    with _page(browser) as found:
        yield found


@pytest.fixture
def page_without_js(browser: Any) -> Iterator[tuple[Any, Watch]]:
    with _page(browser, scripts=False) as found:
        yield found


def shot(pg: Any, tmp_path: Path, name: str) -> None:
    pg.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def api(server: dict[str, Any], path: str, **params: Any) -> Any:
    r = httpx.get(server["url"] + path, params=params, timeout=10)
    r.raise_for_status()
    return r.json()


def test_click_runs_run_model_version_events(page: tuple[Any, Watch], server: dict[str, Any],
                                             tmp_path: Path) -> None:
    pg, watch = page
    pg.goto(server["url"] + "/")
    assert pg.url.endswith("/runs")
    pg.select_option('select[name="experiment"]', EXPERIMENT)
    pg.click("button:text('Show')")
    assert pg.text_content("#run-count").startswith("3 runs")
    table = api(server, "/api/runs", experiment=EXPERIMENT)
    first = next(r for r in table["runs"] if r["id"] == server["runs"][0])
    cell = pg.locator(f'tr[data-run="{first["id"]}"] td[data-metric="val_auc"]')
    assert cell.text_content() == f'{first["metrics"]["val_auc"]["last"]:.6g}'
    shot(pg, tmp_path, "1-runs")

    pg.click("text=run-3")
    run = api(server, f"/api/runs/{first['id']}")
    assert pg.text_content("#run-id") == run["id"]
    for key, value in run["metrics"].items():
        assert pg.text_content(f'#metrics tr[data-metric="{key}"] td.last') == f"{value:.6g}"
    assert pg.locator("svg.chart").count() == len(run["history"])
    assert "notes.txt" in pg.text_content("#artifacts")
    shot(pg, tmp_path, "2-run")

    pg.click("#models a.model-link >> nth=0")
    model = api(server, f"/api/models/{NAME}")
    assert pg.text_content("#model-name") == NAME
    assert pg.locator("#versions tr[data-version]").count() == len(model["versions"])
    assert "hotfix approved by the on-call lead" in pg.text_content("#alias-history")
    shot(pg, tmp_path, "3-model")

    pg.click('#versions tr[data-version="2"] a.version-link')
    version = api(server, f"/api/models/{NAME}/versions/2")
    assert pg.text_content("#version-sha256") == version["sha256"]
    assert pg.text_content("#flavor") == "sklearn"
    assert "FAIL" in pg.text_content("h3.decision")
    assert "override: hotfix approved by the on-call lead" in pg.text_content("#version-aliases")
    shot(pg, tmp_path, "4-version")

    pg.click("#events-link")
    events = api(server, "/api/events", subject=f"models/{NAME}")
    assert pg.locator("#events-table tr[data-seq]").count() == len(events["events"])
    assert pg.text_content("#chain").startswith(
        f"Hash chain intact: {events['verify']['checked']} events verified")
    shot(pg, tmp_path, "5-events")
    assert watch.console == []


def test_compare_two_ticked_runs(page: tuple[Any, Watch], server: dict[str, Any],
                                 tmp_path: Path) -> None:
    pg, watch = page
    pg.goto(f"{server['url']}/runs?experiment={EXPERIMENT}")
    a, b = server["runs"][:2]
    pg.check(f'input[value="{a}"]')
    pg.check(f'input[value="{b}"]')
    pg.click("text=compare")
    assert pg.text_content("h1") == "Compare 2 runs"
    assert pg.locator('tr.differs[data-key="params.max_depth"]').count() == 1
    assert pg.locator('tr.differs[data-key="params.lr"]').count() == 0
    assert pg.locator("svg.chart polyline").count() == 4
    shot(pg, tmp_path, "compare")
    assert watch.console == []


def test_filter_sort_and_a_malformed_filter(page: tuple[Any, Watch], server: dict[str, Any],
                                            tmp_path: Path) -> None:
    pg, watch = page
    pg.goto(server["url"] + "/runs")
    pg.fill('input[name="filter"]', "params.max_depth = 9")
    pg.click("button:text('Show')")
    assert pg.text_content("#run-count").startswith("1 run matching")
    pg.goto(f"{server['url']}/runs?experiment={EXPERIMENT}")
    pg.click("th.metric >> text=val_auc")
    ids = [pg.get_attribute(f"#runs-table tbody tr >> nth={i}", "data-run") for i in range(3)]
    assert ids == [r["id"] for r in api(server, "/api/runs", experiment=EXPERIMENT,
                                        order_by="metrics.val_auc DESC")["runs"]]
    pg.fill('input[name="filter"]', "metrics.val_auc >")
    pg.click("button:text('Show')")
    assert "cannot read filter clause 'metrics.val_auc >'" in pg.text_content("#error-message")
    shot(pg, tmp_path, "bad-filter")
    assert [m for m in watch.console if "status of 400" not in m] == []


def test_hostile_names_are_text_and_unknown_things_404(page: tuple[Any, Watch],
                                                        server: dict[str, Any],
                                                        tmp_path: Path) -> None:
    pg, watch = page
    hostile = server["runs"][2]
    pg.goto(f"{server['url']}/runs?experiment={EXPERIMENT}")
    assert pg.text_content(f'tr[data-run="{hostile}"] a.run-link') == HOSTILE
    pg.goto(f"{server['url']}/runs/{hostile}")
    assert pg.text_content("#run-name") == HOSTILE
    assert HOSTILE in pg.text_content("#tags")
    shot(pg, tmp_path, "hostile")
    response = pg.goto(f"{server['url']}/models/{NAME}/versions/canary")
    assert response.status == 404
    assert pg.text_content("#error-message") == f"alias not found: {NAME}@canary"
    assert [m for m in watch.console if "status of 404" not in m] == []


def _fmt4(x: float) -> str:
    """report.fmt of a number under 100: four decimals."""
    return f"{x:.4f}"


def test_click_run_model_version_evaluation_decision_endpoint(
        page: tuple[Any, Watch], server: dict[str, Any], tmp_path: Path) -> None:
    pg, watch = page
    pg.goto(f"{server['url']}/runs?experiment=income-exp")
    pg.click("a.run-link >> text=income-train")
    assert pg.text_content("#run-id") == server["scored_run"]
    shot(pg, tmp_path, "1-run")

    pg.click(f'#models a.model-link >> text={SCORED}')
    assert pg.text_content("#model-name") == SCORED
    model = api(server, f"/api/models/{SCORED}")
    assert pg.text_content('#aliases tr[data-alias="production"] td.num') == str(
        model["aliases"]["production"])
    shot(pg, tmp_path, "2-model")

    v2 = server["scored_versions"][1]
    pg.click(f'#versions tr[data-version="{v2}"] a.version-link')
    version = api(server, f"/api/models/{SCORED}/versions/{v2}")
    assert pg.text_content("#version-sha256") == version["sha256"]
    shot(pg, tmp_path, "3-version")

    ev_id = server["evaluations"][1]
    pg.click(f'#evaluations tr[data-evaluation="{ev_id}"] a.evaluation-link')
    ev = api(server, f"/api/evaluations/{ev_id}")
    auc = ev["evaluation"]["overall"]["roc_auc"]
    row = pg.locator("#metrics + div table tr", has_text="roc_auc").first
    assert _fmt4(auc["value"]) in row.text_content()
    assert f"[{_fmt4(auc['ci_low'])}, {_fmt4(auc['ci_high'])}]" in row.text_content()
    assert pg.locator("#evaluation svg.chart").count() >= 4  # ROC, PR, reliability, slices
    shot(pg, tmp_path, "4-evaluation")

    pg.click("#decision-links a.decision-link")
    decision = api(server, f"/api/evaluations/{ev_id}/decisions/{server['decisions'][1]}")
    assert pg.text_content("#decision-id") == decision["decision"]["id"]
    assert pg.text_content("#decision-verdict") == "FAILED"
    rows = pg.locator("#rules tbody tr")
    assert rows.count() == len(decision["decision"]["rules"])
    first = decision["decision"]["rules"][0]
    assert _fmt4(first["value"]) in rows.nth(0).text_content()
    shot(pg, tmp_path, "5-decision")

    pg.click("text=Promotion view of version")
    assert "Refused" in pg.text_content("#verdict")
    shot(pg, tmp_path, "6-promotion")

    pg.click("header.top >> text=Endpoints")
    pg.click(f"a.endpoint-link >> text={ENDPOINT}")
    d = api(server, f"/api/endpoints/{ENDPOINT}")
    t = d["report"]["totals"]
    assert pg.text_content("#total-requests") == f"{t['requests']:,}"
    assert pg.text_content("#total-error-rate") == f"{t['error_rate']:.2%}"
    for p in ("p50", "p95", "p99"):
        assert pg.text_content(f"#total-{p}") == f"{t['latency_ms'][p]:,.1f}"
    assert pg.locator("table.drift-matrix").count() == 2
    assert server["reference"] in pg.text_content("#input-reference")
    firing = pg.locator('#alerts-table tr[data-rule="error-rate"]').text_content()
    assert "FIRING" in firing
    shot(pg, tmp_path, "7-endpoint")
    assert watch.console == []


def test_endpoint_page_refreshes_itself(page: tuple[Any, Watch], server: dict[str, Any],
                                        tmp_path: Path) -> None:
    pg, watch = page
    pg.goto(f"{server['url']}/endpoints/{ENDPOINT}")
    first = pg.text_content("#computed")
    pg.wait_for_function("t => document.getElementById('computed').textContent !== t",
                         arg=first, timeout=15000)  # --refresh 1: the script swapped it
    totals = api(server, f"/api/endpoints/{ENDPOINT}")["report"]["totals"]
    assert pg.text_content("#total-requests") == f"{totals['requests']:,}"
    shot(pg, tmp_path, "refreshed")
    assert watch.console == []


def test_pages_read_without_javascript(page_without_js: tuple[Any, Watch],
                                       server: dict[str, Any], tmp_path: Path) -> None:
    pg, watch = page_without_js
    t = api(server, f"/api/endpoints/{ENDPOINT}")["report"]["totals"]
    pg.goto(f"{server['url']}/endpoints/{ENDPOINT}")
    assert pg.text_content("#total-requests") == f"{t['requests']:,}"
    assert pg.locator("svg.chart").count() >= 4
    for path in ("/evaluations", "/contracts/customers", "/reports", f"/models/{SCORED}"):
        response = pg.goto(server["url"] + path)
        assert response.status == 200, path
        assert pg.locator("main h1").count() == 1
    shot(pg, tmp_path, "no-js")
    assert watch.console == []


def test_sortable_table_sorts_on_a_header_click(page: tuple[Any, Watch],
                                                server: dict[str, Any]) -> None:
    pg, watch = page
    pg.goto(f"{server['url']}/runs/{server['reports_run']}/reports/guard-eval.json")
    def names() -> list[str]:
        found: list[str] = pg.eval_on_selector_all(
            "#report-metrics tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
        return found

    before = names()
    pg.click("#report-metrics th >> text=metric")
    assert names() == sorted(before, key=str.lower)
    pg.click("#report-metrics th >> text=metric")
    assert names() == sorted(before, key=str.lower, reverse=True)
    assert watch.console == []


def test_sign_in_and_promote_with_an_override_through_the_forms(
        page: tuple[Any, Watch], server: dict[str, Any], tmp_path: Path) -> None:
    pg, watch = page
    v2 = server["scored_versions"][1]
    pg.goto(f"{server['url']}/models/{SCORED}/promote?candidate={v2}")
    pg.click("header.top >> text=sign in")
    pg.fill('input[name="token"]', BOT)
    pg.click("button:text('Sign in')")
    assert "signed in as deploy-bot" in pg.text_content("header.top")
    pg.goto(f"{server['url']}/models/{SCORED}/promote?candidate={v2}")
    pg.click("#promote-form button")  # no override: the gate refuses
    assert pg.text_content("h1") == "Refused"
    assert f"{SCORED}@{v2} failed policy 'income-release'" in pg.text_content("#error-message")
    shot(pg, tmp_path, "refused")
    pg.goto(f"{server['url']}/models/{SCORED}/promote?candidate={v2}")
    pg.check('#promote-form input[name="override"]')
    pg.fill('#promote-form input[name="reason"]', "browser test override")
    pg.click("#promote-form button")
    assert pg.text_content("#written-actor") == "deploy-bot"
    actions = pg.eval_on_selector_all("#written-events tbody tr",
                                      "rows => rows.map(r => r.cells[3].textContent)")
    assert sorted(actions) == ["alias.moved", "promotion.override"]
    shot(pg, tmp_path, "promoted")
    model = api(server, f"/api/models/{SCORED}")
    assert model["aliases"]["production"] == v2
    assert model["alias_history"][-1]["actor"] == "deploy-bot"
    assert [m for m in watch.console if "status of 409" not in m] == []
