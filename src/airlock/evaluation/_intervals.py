"""Closed-form intervals for a proportion: the Wilson score interval (the one used for a
rate wherever a bootstrap is not needed: rollout rates, red-team recall per transform)."""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["wilson_ci"]


def wilson_ci(successes: float, n: int, *, confidence: float = 0.95,
              z: float | None = None) -> tuple[float, float] | None:
    """The two-sided Wilson score interval of ``successes / n`` at ``confidence`` (or at the
    normal quantile ``z``); None when ``n`` is 0. Bounds are clipped to [0, 1]."""
    if n <= 0:
        return None
    if z is None:
        z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
