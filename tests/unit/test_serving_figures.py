"""A window's serving figures say why a rate is missing, never a bare null."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from airlock.monitor._logscan import LogWindow
from airlock.monitor._metrics import NO_CLIENT_REQUESTS, NO_PAIRS, serving_figures


def test_a_shadow_only_window_says_why_it_has_no_error_rate() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    win = LogWindow(start, start + timedelta(hours=1))
    win.shadow_requests, win.shadow_errors = 3, 1
    win._shadow_latency.append(np.array([1.0, 2.0, 3.0]))
    out = serving_figures(win)
    assert out["requests"] == 0 and out["error_rate"] is None
    assert out["error_rate_reason"] == NO_CLIENT_REQUESTS
    assert out["shadow"]["error_rate"] == 1 / 3
    assert out["shadow"]["agreement"] is None and out["shadow"]["agreement_reason"] == NO_PAIRS


def test_a_window_with_requests_has_no_reason() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    win = LogWindow(start, start + timedelta(hours=1))
    win.requests, win.errors = 4, 1
    out = serving_figures(win)
    assert out["error_rate"] == 0.25 and "error_rate_reason" not in out
