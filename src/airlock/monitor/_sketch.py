"""The numeric sketch of a profile: an adaptive-resolution histogram on the float64 bit
pattern, exactly mergeable.

Every finite value ``x`` maps to an ordered integer ``o(x)`` (its IEEE-754 bits, with the
payload of negative numbers flipped so that integer order is float order). A bucket at
resolution ``shift`` holds the values whose ``o(x) >> shift`` is equal: at ``shift = 0`` a
bucket is one exact float value; every extra bit of shift halves the number of mantissa bits
that tell values apart (``shift = 52 - m`` keeps ``m`` mantissa bits: a relative bucket
width of ``2**-m``). Bucket boundaries are exact floats and do not depend on the data.

The sketch keeps the non-empty buckets (sorted keys and counts) at the *smallest* shift at
which at most ``max_buckets`` are non-empty. Building from data and merging apply that one
rule, so ``merge(sketch(a), sketch(b)) == sketch(a ++ b)`` exactly, for any split and order:
merging is associative, commutative and deterministic (integer counts only). A column with at
most ``max_buckets`` distinct values is stored exactly (``shift == 0``).

Rank error: a value's rank is known to within the count of its bucket, so quantiles and the
CDF are exact at bucket boundaries and off by at most :meth:`Sketch.rank_error` (the largest
bucket's share of the values) anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_BUCKETS", "MAX_SHIFT", "Sketch", "from_ordered", "ordered"]

DEFAULT_BUCKETS = 4096
#: at shift 52 a bucket is one binade (power of two); coarser buckets would overflow int64
MAX_SHIFT = 52
_PAYLOAD = np.int64(0x7FFFFFFFFFFFFFFF)

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


def ordered(values: F64) -> I64:
    """Finite float64 values → int64 with the same order (-0.0 is folded onto +0.0)."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.int64)
    out: I64 = bits ^ ((bits >> 63) & _PAYLOAD)
    return out


def from_ordered(keys: I64) -> F64:
    """The inverse of :func:`ordered` (it is an involution on the bit pattern)."""
    keys = np.asarray(keys, dtype=np.int64)
    bits = keys ^ ((keys >> 63) & _PAYLOAD)
    out: F64 = bits.view(np.float64)
    return out


def _runs(keys: I64, counts: I64) -> tuple[I64, I64]:
    """Sum the counts of equal adjacent keys (``keys`` sorted)."""
    if keys.size == 0:
        return keys, counts
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts], np.add.reduceat(counts, starts)


def _extra_shift(keys: I64, shift: int, max_buckets: int) -> int:
    """How many more bits of shift bring the sorted ``keys`` (possibly repeated) to at most
    ``max_buckets`` distinct values (0 when they already fit; capped at MAX_SHIFT).

    Two neighbouring keys share a bucket after ``d`` more bits of shift exactly when their
    XOR is below ``2**d``, so the bucket count at ``d`` is 1 + the XORs >= ``2**d``: one pass
    for the XORs, then a binary search over ``d`` with one comparison pass per probe.
    """
    if keys.size <= max_buckets or shift >= MAX_SHIFT:
        return 0
    xor = (keys[1:] ^ keys[:-1]).view(np.uint64)

    def buckets(extra: int) -> int:
        return 1 + int(np.count_nonzero(xor >= np.uint64(1 << extra)))

    if buckets(0) <= max_buckets:
        return 0
    lo, hi = 1, MAX_SHIFT - shift  # the count falls as the shift grows: binary search
    if buckets(hi) > max_buckets:
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if buckets(mid) <= max_buckets:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _coarsen(keys: I64, counts: I64, shift: int, max_buckets: int) -> tuple[I64, I64, int]:
    """The smallest shift >= ``shift`` with at most ``max_buckets`` non-empty buckets."""
    extra = _extra_shift(keys, shift, max_buckets)
    if extra == 0:
        return keys, counts, shift
    new_keys, new_counts = _runs(keys >> extra, counts)
    return new_keys, new_counts, shift + extra


@dataclass(frozen=True, slots=True, eq=False)
class Sketch:
    """Non-empty buckets (``keys`` sorted, ``counts`` > 0) at resolution ``shift``."""

    keys: I64
    counts: I64
    shift: int = 0
    max_buckets: int = DEFAULT_BUCKETS

    @classmethod
    def empty(cls, max_buckets: int = DEFAULT_BUCKETS) -> Sketch:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), 0, max_buckets)

    @classmethod
    def from_values(cls, values: F64, max_buckets: int = DEFAULT_BUCKETS, *,
                    presorted: bool = False) -> Sketch:
        """The sketch of finite ``values`` (NaN and infinities must be removed first)."""
        keys = ordered(values)
        if not presorted:
            keys = np.sort(keys)
        shift = _extra_shift(keys, 0, max_buckets)  # repeated keys are fine here
        if shift:
            keys = keys >> shift
        if keys.size == 0:
            return cls(keys, np.empty(0, np.int64), shift, max_buckets)
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        counts = np.diff(np.append(starts, keys.size)).astype(np.int64)
        return cls(keys[starts], counts, shift, max_buckets)

    def merge(self, other: Sketch) -> Sketch:
        """The sketch of both inputs' values together (exact; see the module docstring)."""
        if self.max_buckets != other.max_buckets:
            raise ValueError("cannot merge sketches with different bucket budgets "
                             f"({self.max_buckets} and {other.max_buckets})")
        shift = max(self.shift, other.shift)
        keys = np.concatenate([self.keys >> (shift - self.shift),
                               other.keys >> (shift - other.shift)])
        counts = np.concatenate([self.counts, other.counts])
        order = np.argsort(keys, kind="stable")
        k, c = _runs(keys[order], counts[order])
        k, c, shift = _coarsen(k, c, shift, self.max_buckets)
        return Sketch(k, c, shift, self.max_buckets)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def exact(self) -> bool:
        """True when every bucket is one value (no two distinct values share a bucket)."""
        return self.shift == 0

    def lower(self) -> F64:
        """Each bucket's smallest possible value."""
        return from_ordered(self.keys << self.shift)

    def upper(self) -> F64:
        """Each bucket's exclusive upper bound: every value in it is below this float."""
        if self.shift == 0:
            return np.nextafter(from_ordered(self.keys), np.inf)
        return from_ordered((self.keys + 1) << self.shift)

    def values(self) -> F64:
        """The exact values of an exact sketch (``shift == 0``)."""
        return from_ordered(self.keys)

    def rank_error(self) -> float:
        """Largest share of the values in one bucket (0 when exact): the CDF error bound."""
        n = self.n
        if self.exact or n == 0:
            return 0.0
        return float(self.counts.max()) / n

    def quantile_edges(self, bins: int) -> tuple[F64, I64]:
        """Reference-quantile bin edges and the count of values below each edge.

        Edge ``j`` (``j = 1 .. bins-1``) is the exclusive upper bound of the bucket holding
        the ``j/bins`` quantile (the smallest value whose rank reaches ``j*n/bins``, numpy's
        'inverted_cdf'), so a bin is ``edge[j-1] <= x < edge[j]``; duplicate edges collapse.
        For an exact sketch this is ``x <= quantile`` with the quantile itself.
        """
        n = self.n
        if n == 0:
            return np.empty(0, np.float64), np.empty(0, np.int64)
        cum = np.cumsum(self.counts)
        targets = np.arange(1, bins, dtype=np.int64) * n
        idx = np.unique(np.searchsorted(cum * bins, targets, side="left"))
        return self.upper()[idx], cum[idx]

    def quantile(self, q: float) -> float:
        """The q-quantile ('inverted_cdf'), to within the width of one bucket."""
        n = self.n
        if n == 0:
            return float("nan")
        cum = np.cumsum(self.counts)
        i = int(np.searchsorted(cum, max(1.0, np.ceil(q * n)), side="left"))
        i = min(i, cum.size - 1)
        return float(self.values()[i] if self.exact else self.lower()[i])

    def to_arrays(self) -> dict[str, Any]:
        return {"shift": self.shift, "max_buckets": self.max_buckets, "keys": self.keys,
                "counts": self.counts}
