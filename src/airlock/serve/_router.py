"""Weighted routing with an optional sticky key.

Each request draws a point in [0, 1): at random, or from a hash of its sticky key (a header or
an input field) so one user always lands on one variant. Routes own consecutive shares of the
interval in proportion to their weights.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Sequence

__all__ = ["Router", "sticky_point"]


def sticky_point(key: str) -> float:
    """A stable point in [0, 1) for ``key`` (blake2b, the same in every process and run)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class Router:
    def __init__(self, weights: Sequence[float], *, seed: int | None = None) -> None:
        total = float(sum(weights))
        if total <= 0:
            raise ValueError("routes need a positive total weight")
        acc = 0.0
        self._bounds: list[float] = []
        for w in weights:
            acc += w / total
            self._bounds.append(acc)
        self._bounds[-1] = 1.0
        self._rng = random.Random(seed)

    def pick(self, key: str | None = None) -> int:
        """The index of the route for a request (with ``key``: always the same one)."""
        point = sticky_point(key) if key is not None else self._rng.random()
        # bounds[i-1] <= point < bounds[i]: a zero-weight route owns an empty share
        return min(bisect.bisect_right(self._bounds, point), len(self._bounds) - 1)
