"""The feedback-label lookup of the log scan: the latest label of each request id, found by
hash and checked against the id itself, agrees with a plain dictionary on any ids."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import airlock.monitor._logscan as scan
from airlock.monitor._logscan import Labels

ids = st.text(alphabet="abc", min_size=0, max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ids, st.floats(allow_nan=False, width=32)), max_size=40),
       st.lists(st.one_of(ids, st.none()), max_size=40))
def test_lookup_finds_the_latest_label_of_each_id(labelled: list[tuple[str, float]],
                                                  wanted: list[str | None]) -> None:
    # the labels arrive latest first (read_labels sorts them so)
    labels = Labels(pa.array([k for k, _ in labelled], pa.string()),
                    np.array([v for _, v in labelled], np.float64))
    latest: dict[str, float] = {}
    for k, v in labelled:
        latest.setdefault(k, v)
    found, values = labels.lookup(pa.array(wanted, pa.large_string()))
    assert found.tolist() == [w is not None and w in latest for w in wanted]
    expect = [latest[w] if w is not None and w in latest else np.nan for w in wanted]
    np.testing.assert_array_equal(values, np.array(expect, np.float64))


def test_a_hash_collision_falls_back_to_the_exact_id(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = Labels(pa.array(["a", "b"]), np.array([1.0, 2.0]))
    # forge a collision: both stored ids share one hash, so the search lands on "a" for "b"
    object.__setattr__(labels, "_hashes", np.array([7, 7], np.uint64))
    object.__setattr__(labels, "_order", np.array([0, 1]))
    monkeypatch.setattr(scan, "_hash_ids", lambda ids: np.full(len(ids), 7, np.uint64))
    found, values = labels.lookup(pa.array(["b", "a", "c"]))
    assert found.tolist() == [True, True, False]
    assert values[:2].tolist() == [2.0, 1.0] and np.isnan(values[2])
