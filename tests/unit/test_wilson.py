"""The one Wilson interval (airlock.evaluation.wilson_ci) against known values."""

from __future__ import annotations

import pytest

from airlock.evaluation import wilson_ci


def test_wilson_matches_known_values() -> None:
    low, high = wilson_ci(8, 10) or (0.0, 0.0)  # p = 0.8, n = 10, 95 %
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    low, high = wilson_ci(10, 10) or (0.0, 0.0)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)
    low, high = wilson_ci(0, 30, confidence=0.9) or (1.0, 1.0)
    assert low == 0.0 and high == pytest.approx(0.0827, abs=1e-3)
    assert wilson_ci(0, 0) is None
    assert wilson_ci(8, 10, z=1.959963984540054) == wilson_ci(8, 10)
