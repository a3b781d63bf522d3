"""`airlock ui` in a real headless Chromium (Playwright with Debian's chromium): click
runs → run → model → version → audit log, check the numbers shown equal the API's, no
console errors, no request leaving 127.0.0.1, and a screenshot of every page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.integration.ui_helpers import (
    EXPERIMENT,
    HOSTILE,
    NAME,
    filled_store,
    start_ui,
    stop,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing: apt-get install -y chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("ui-browser")
    info = filled_store(root)
    env = {k: v for k, v in os.environ.items()
           if k not in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI", "AIRLOCK_UI_TOKENS")}
    env.update(AIRLOCK_HOME=str(root / "home"), AIRLOCK_ACTOR="tester")
    proc, url = start_ui(env, "--store-uri", f"sqlite:///{root / 'home' / 'airlock.db'}")
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


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[tuple[Any, Watch]]:
    watch = Watch()
    context = browser.new_context(viewport={"width": 1400, "height": 900})

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
    assert pg.text_content("#run-count").startswith("3 runs")
    table = api(server, "/api/runs")
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
    pg.goto(server["url"] + "/runs")
    pg.click("th.metric >> text=val_auc")
    ids = [pg.get_attribute(f"#runs-table tbody tr >> nth={i}", "data-run") for i in range(3)]
    assert ids == [r["id"] for r in api(server, "/api/runs",
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
    pg.goto(server["url"] + "/runs")
    assert pg.text_content(f'tr[data-run="{hostile}"] a.run-link') == HOSTILE
    pg.goto(f"{server['url']}/runs/{hostile}")
    assert pg.text_content("#run-name") == HOSTILE
    assert HOSTILE in pg.text_content("#tags")
    shot(pg, tmp_path, "hostile")
    response = pg.goto(f"{server['url']}/models/{NAME}/versions/canary")
    assert response.status == 404
    assert pg.text_content("#error-message") == f"alias not found: {NAME}@canary"
    assert [m for m in watch.console if "status of 404" not in m] == []
