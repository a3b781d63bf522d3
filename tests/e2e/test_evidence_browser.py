"""A pack's index.html in headless Chromium: it renders offline (no request leaves the
page), shows the completeness, the missing items with how to produce them and both
framework mappings; the screenshot is kept under the test's tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.integration.evidence_helpers import build_release

from airlock.evidence import export

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing: apt-get install -y chromium")


def test_index_html_renders_offline(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    release = build_release(tmp_path)
    pack = tmp_path / "pack"
    result = export(release["production"], pack)
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page: Any = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((pack / "index.html").as_uri())
        assert page.locator("h1").inner_text() == f"Evidence pack: {release['v1']}"
        headings = page.locator("h2").all_inner_texts()
        assert headings == ["Missing items and how to produce them", "Items",
                            "EU AI Act, Annex IV", "NIST AI RMF 1.0"]
        text = page.locator("body").inner_text()
        assert f"{result.completeness.score:.1%}" in text
        assert "--importance" in text and "MEASURE 2.11" in text and "2(g)" in text
        assert page.locator("tr.bad").count() == len(result.completeness.missing)
        page.screenshot(path=str(tmp_path / "evidence-index.png"), full_page=True)
        browser.close()
    assert requests == [(pack / "index.html").as_uri()]
    assert errors == []
