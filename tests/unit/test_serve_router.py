"""Weighted routing: the observed split follows the weights, a zero-weight route is never
picked, and a sticky key always lands on one route, in any Router and any process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from scipy import stats

from airlock.serve._router import Router, sticky_point


def shares(counts: Counter[int], n: int, routes: int) -> list[float]:
    return [counts[i] / n for i in range(routes)]


def test_90_10_split_over_100k_random_picks() -> None:
    router = Router([90, 10], seed=7)
    n = 100_000
    counts = Counter(router.pick() for _ in range(n))
    got = shares(counts, n, 2)
    assert abs(got[0] - 0.9) < 0.01 and abs(got[1] - 0.1) < 0.01
    # and not suspiciously exact either: a chi-square test of the counts against the weights
    assert stats.chisquare([counts[0], counts[1]], [0.9 * n, 0.1 * n]).pvalue > 1e-4


def test_three_routes_relative_weights() -> None:
    router = Router([2.0, 1.0, 1.0], seed=1)
    n = 40_000
    got = shares(Counter(router.pick() for _ in range(n)), n, 3)
    assert [abs(g - w) < 0.01 for g, w in zip(got, [0.5, 0.25, 0.25], strict=True)] == [True] * 3


def test_unseeded_routers_differ_but_each_follows_the_weights() -> None:
    a = [Router([50, 50]).pick() for _ in range(2_000)]
    b = [Router([50, 50]).pick() for _ in range(2_000)]
    assert a != b
    assert abs(sum(a) / 2_000 - 0.5) < 0.05


def test_seed_makes_picks_reproducible() -> None:
    first, second = Router([3, 1], seed=5), Router([3, 1], seed=5)
    assert [first.pick() for _ in range(500)] == [second.pick() for _ in range(500)]


@pytest.mark.parametrize(("weights", "never"), [
    ([100, 0], {1}), ([0, 100], {0}), ([50, 0, 50], {1}), ([0, 0, 1], {0, 1}),
    ([0, 30, 0, 70, 0], {0, 2, 4}),
])
def test_zero_weight_route_is_never_picked(weights: list[float], never: set[int]) -> None:
    router = Router(weights, seed=3)
    picked = {router.pick() for _ in range(20_000)}
    picked |= {router.pick(f"user-{i}") for i in range(20_000)}
    assert picked.isdisjoint(never)
    assert picked == set(range(len(weights))) - never


def test_zero_weight_route_at_the_exact_boundary_points() -> None:
    """A draw of exactly 0.0 or exactly a boundary must go to the next non-empty route."""

    class Fixed:
        def __init__(self, value: float) -> None:
            self.value = value

        def random(self) -> float:
            return self.value

    router = Router([0, 50, 0, 50], seed=0)
    for point, want in [(0.0, 1), (0.4999, 1), (0.5, 3), (0.9999999, 3)]:
        router._rng = Fixed(point)  # type: ignore[assignment]
        assert router.pick() == want, point


def test_sticky_key_always_same_route_across_instances() -> None:
    routers = [Router([90, 10], seed=s) for s in (None, 1, 2)]
    for i in range(2_000):
        key = f"user-{i}"
        picks = {r.pick(key) for r in routers for _ in range(3)}
        assert len(picks) == 1, key


def test_sticky_point_is_stable_across_processes() -> None:
    keys = ["user-1", "é-ü-名前", "", "x" * 500]
    code = ("from airlock.serve._router import sticky_point\n"
            f"print(repr([sticky_point(k) for k in {keys!r}]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == repr([sticky_point(k) for k in keys])
    assert all(0.0 <= p < 1.0 for p in map(sticky_point, keys))


def test_sticky_point_pinned_value() -> None:
    """blake2b(key, 8 bytes) big-endian / 2**64: a change of hash would move every user."""
    import hashlib

    digest = hashlib.blake2b(b"user-42", digest_size=8).digest()
    assert sticky_point("user-42") == int.from_bytes(digest, "big") / 2.0**64
    assert sticky_point("user-42") != sticky_point("user-43")


def test_lone_surrogate_keys_do_not_crash() -> None:
    assert 0.0 <= sticky_point("\udcff") < 1.0


def test_sticky_split_over_20k_keys_follows_weights() -> None:
    router = Router([90, 10])
    n = 20_000
    got = shares(Counter(router.pick(f"customer-{i:06d}") for i in range(n)), n, 2)
    assert abs(got[0] - 0.9) < 0.02 and abs(got[1] - 0.1) < 0.02


def test_sticky_split_three_ways() -> None:
    router = Router([70, 20, 10])
    n = 20_000
    got = shares(Counter(router.pick(str(i)) for i in range(n)), n, 3)
    assert all(abs(g - w) < 0.02 for g, w in zip(got, [0.7, 0.2, 0.1], strict=True))


def test_changing_weights_moves_only_the_keys_it_must() -> None:
    """Routes own consecutive shares: going 90/10 → 80/20 moves only keys into the canary."""
    before, after = Router([90, 10]), Router([80, 20])
    moved = [(before.pick(k), after.pick(k)) for k in (f"u{i}" for i in range(10_000))]
    assert (1, 0) not in moved  # nobody leaves the canary
    changed = sum(1 for b, a in moved if b != a) / len(moved)
    assert abs(changed - 0.1) < 0.02


@pytest.mark.parametrize("weights", [[], [0], [0, 0]])
def test_no_positive_weight_is_refused(weights: list[float]) -> None:
    with pytest.raises(ValueError, match="positive total weight"):
        Router(weights)


def test_single_route_always_zero() -> None:
    router = Router([5])
    assert {router.pick() for _ in range(100)} | {router.pick(str(i)) for i in range(100)} == {0}
