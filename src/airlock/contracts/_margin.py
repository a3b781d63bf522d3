"""The bounds an inferred contract sets: the observed range, widened by a margin.

Exact training bounds make an untouched held-out split of the same data fail (its extremes
differ by chance), so ``infer`` widens every observed range ``[lo, hi]`` by ``MARGIN`` (10%)
of its width on each side, and rounds outward to a round number at the margin's scale:
whole numbers for ints and string lengths, whole days for dates, whole seconds for datetimes.
A bound does not cross zero where the data did not (a column never negative keeps
``min >= 0``); a column with a single observed value keeps it exactly. The observed values are
recorded next to the bounds (``observed:``), so a reader sees what was seen and what was
allowed.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

__all__ = ["MARGIN", "widen"]

MARGIN = 0.1


def widen(kind: str, lo: Any, hi: Any) -> tuple[Any, Any]:
    """``(lo, hi)`` widened for a column of ``kind`` ('int', 'float', 'length', 'date',
    'datetime'); returned unchanged when it cannot be widened (nulls, one value, not finite)."""
    if lo is None or hi is None or lo == hi:
        return lo, hi
    try:
        if kind in ("int", "length"):
            return _numbers(int(lo), int(hi), integer=True)
        if kind == "float":
            return _numbers(float(lo), float(hi), integer=False)
        if kind == "datetime" and isinstance(lo, datetime) and isinstance(hi, datetime):
            return _datetimes(lo, hi)
        if kind == "date" and isinstance(lo, date) and isinstance(hi, date):
            days = math.ceil((hi - lo).days * MARGIN)
            return lo - timedelta(days=days), hi + timedelta(days=days)
    except (OverflowError, ValueError):  # at the edge of the type's range: keep what was seen
        pass
    return lo, hi


def _numbers(lo: float, hi: float, *, integer: bool) -> tuple[Any, Any]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return lo, hi
    margin = (hi - lo) * MARGIN
    step = 10.0 ** math.floor(math.log10(margin))
    if integer:
        step = max(step, 1.0)
    new_lo = math.floor((lo - margin) / step) * step
    new_hi = math.ceil((hi + margin) / step) * step
    if lo >= 0:
        new_lo = max(new_lo, 0.0)
    if hi <= 0:
        new_hi = min(new_hi, 0.0)
    if integer:
        return int(new_lo), int(new_hi)
    digits = max(0, -math.floor(math.log10(step)))
    # rounding to the step's digits can land inside the observed range where floats are too
    # coarse for the step (a margin of 1e-5 on 3.7e11): never allow less than was seen
    return min(round(new_lo, digits), lo), max(round(new_hi, digits), hi)


def _datetimes(lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
    margin = (hi - lo) * MARGIN
    new_lo = (lo - margin).replace(microsecond=0)
    top = hi + margin
    new_hi = top.replace(microsecond=0) + (timedelta(seconds=1) if top.microsecond else
                                          timedelta(0))
    return new_lo, new_hi
