"""The experiment report in a real headless Chromium: it renders offline (no request leaves
the file), shows the SRM verdict, the comparisons and the charts over time, and a mismatch
says the lifts are withheld."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from tests.e2e.test_ui_browser import CHROMIUM, browser

from airlock.experiments import analyze, save_experiment_report

__all__ = ["browser"]  # the shared headless Chromium fixture

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing: apt-get install -y chromium")


def _table(share: float) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    n = 6000
    route = np.where(rng.random(n) < share, "primary", "canary")
    ts = np.sort(rng.integers(0, 6 * 3600_000, n)) + 1_760_000_000_000
    ok = (rng.random(n) < np.where(route == "canary", 0.83, 0.80)).astype(np.int64)
    return pl.DataFrame({"route": route, "ok": ok, "ts": ts,
                         "latency_ms": rng.lognormal(2.5, 0.4, n)})


def _open(browser: Any, path: Path) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    return context, page, errors + outside


def test_report_renders_verdict_comparisons_and_charts(browser: Any, tmp_path: Path) -> None:
    result = analyze(_table(0.5), metrics=["mean(ok)", "latency_p95"], time_column="ts",
                     sequential=True)
    path = save_experiment_report(result, tmp_path / "ab.html")
    context, page, problems = _open(browser, path)
    try:
        text = page.inner_text("body")
        assert "no mismatch" in text and "Comparisons with primary" in text
        assert "mean(ok)" in text and "latency_p95" in text and "confidence sequence" in text
        charts = page.locator("svg")
        assert charts.count() >= 2  # exposures over time + the cumulative lift of mean(ok)
        box = charts.first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 150
        page.screenshot(path=str(tmp_path / "ab.png"), full_page=True)
        assert (tmp_path / "ab.png").stat().st_size > 10_000
        assert problems == []
    finally:
        context.close()


def test_a_mismatch_withholds_the_lifts_in_the_report(browser: Any, tmp_path: Path) -> None:
    result = analyze(_table(0.56), metrics=["mean(ok)"], time_column="ts",
                     expected_split={"primary": 0.5, "canary": 0.5})
    path = save_experiment_report(result, tmp_path / "srm.html")
    context, page, problems = _open(browser, path)
    try:
        text = page.inner_text("body")
        assert "SAMPLE RATIO MISMATCH" in text and "lifts are withheld" in text
        assert "withheld: sample ratio mismatch" in text
        assert problems == []
    finally:
        context.close()
