"""A set of disjoint spans with logarithmic overlap queries: the one sweep structure the
detectors use to resolve overlapping findings (so n findings cost O(n log n), not O(n²))."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

__all__ = ["SpanSet"]


class SpanSet:
    """Half-open spans ``[start, end)`` kept as their union: sorted, disjoint intervals.

    ``overlaps(start, end)`` is true when some added span ``[s, e)`` has ``s < end`` and
    ``start < e`` (the same test as comparing with every added span); ``add`` merges."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __len__(self) -> int:
        return len(self._starts)

    def _range(self, start: int, end: int) -> tuple[int, int]:
        # the intervals with e > start and s < end: ends and starts are both sorted
        return bisect_right(self._ends, start), bisect_left(self._starts, end)

    def overlaps(self, start: int, end: int) -> bool:
        lo, hi = self._range(start, end)
        return lo < hi

    def add(self, start: int, end: int) -> None:
        lo, hi = self._range(start, end)
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def add_if_free(self, start: int, end: int) -> bool:
        """Add the span when it overlaps none already added; whether it was added."""
        lo, hi = self._range(start, end)
        if lo < hi:
            return False
        self._starts.insert(lo, start)
        self._ends.insert(lo, end)
        return True
