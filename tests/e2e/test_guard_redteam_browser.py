"""The red-team report in a real headless Chromium: it renders offline (no request leaves
the file), shows the recall per transform, the chart and the variants that got through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.test_ui_browser import CHROMIUM, browser

from airlock.guard import redteam

__all__ = ["browser"]  # the shared headless Chromium fixture

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing: apt-get install -y chromium")
SEEDS = Path(__file__).resolve().parents[2] / "examples" / "guard-data" / "redteam-seeds.jsonl"


def test_redteam_report_renders_offline(browser: Any, tmp_path: Path) -> None:
    rt = redteam("default", SEEDS, transforms=["leet", "base64"], variants=1)
    path = rt.render_html(tmp_path / "rt.html")
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
    try:
        page.goto(path.as_uri())
        text = page.inner_text("body")
        assert "Guard red team: default" in text and "Recall per transform" in text
        rows = page.locator("table").first.locator("tbody tr")
        assert rows.count() == 2
        first = rows.nth(0).inner_text()
        assert first.startswith("leet") and f"{rt.per_transform[0]['caught']}" in first
        assert page.locator("svg").count() >= 1
        assert f"Variants that got through: {len(rt.missed):,}" in text
        if rt.missed:
            assert rt.missed[0]["text"][:20] in text
        assert errors == [] and outside == []
    finally:
        context.close()
