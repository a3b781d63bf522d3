"""Slice and group labels in their natural order (issue 12 item 16): numeric ranges by their
bounds (``<40, 40-55, 55+``), numbers as numbers, text alphabetically with digit runs as
numbers, an ordered categorical as its categories, the null label last; one hash pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from airlock.errors import InvalidInput
from airlock.evaluation._data import NULL_LABEL, group_codes, natural_order


@pytest.mark.parametrize(("labels", "expected"), [
    (["55+", "40-55", "<40"], ["<40", "40-55", "55+"]),
    ([">=65", "18 to 30", "under 18", "30-65"], ["under 18", "18 to 30", "30-65", ">=65"]),
    (["(55.0, 90.0]", "(17.0, 40.0]", "(40.0, 55.0]"],
     ["(17.0, 40.0]", "(40.0, 55.0]", "(55.0, 90.0]"]),
    (["10", "9", "-3", "1.5"], ["-3", "1.5", "9", "10"]),
    (["region-10", "region-9", "region-1"], ["region-1", "region-9", "region-10"]),
    (["Male", "Female"], ["Female", "Male"]),
    ([NULL_LABEL, "b", "40-55", "a"], ["40-55", "a", "b", NULL_LABEL]),
])
def test_natural_order(labels: list[str], expected: list[str]) -> None:
    assert natural_order(labels) == expected


def test_group_codes_follow_the_natural_order() -> None:
    values = ["55+", "<40", None, "40-55", "<40", "55+"]
    codes, labels = group_codes(pa.chunked_array([pa.array(values)]))
    assert labels == ["<40", "40-55", "55+", NULL_LABEL]
    assert [labels[c] for c in codes] == [v or NULL_LABEL for v in values]


def test_numeric_columns_sort_as_numbers() -> None:
    codes, labels = group_codes(pa.chunked_array([pa.array([10, 9, 100, 9]),
                                                  pa.array([None, 10])]))
    assert labels == ["9", "10", "100", NULL_LABEL]
    assert codes.tolist() == [1, 0, 2, 0, 3, 1]


def test_an_ordered_categorical_keeps_its_categories_order() -> None:
    cat = pd.Categorical(["low", "high", "mid", None, "low"],
                         categories=["low", "mid", "high", "unused"], ordered=True)
    column = pa.Table.from_pandas(pd.DataFrame({"x": cat})).column("x")
    codes, labels = group_codes(column)
    assert labels == ["low", "mid", "high", NULL_LABEL]  # unused categories never appear
    assert codes.tolist() == [0, 2, 1, 3, 0]


def test_codes_are_the_same_for_any_chunking_and_dictionary() -> None:
    rng = np.random.default_rng(0)
    values = rng.choice(["b", "a", "c", "10", "9"], 1000).tolist()
    plain = group_codes(pa.chunked_array([pa.array(values)]))
    chunked = group_codes(pa.chunked_array([pa.array(values[:300]), pa.array(values[300:])]))
    encoded = group_codes(pa.chunked_array([pa.array(values[:500]).dictionary_encode(),
                                            pa.array(values[500:]).dictionary_encode()]))
    for codes, labels in (chunked, encoded):
        assert labels == plain[1] == ["9", "10", "a", "b", "c"]
        assert np.array_equal(codes, plain[0])


def test_a_column_that_cannot_be_grouped_is_one_clear_error() -> None:
    with pytest.raises(InvalidInput, match="cannot be sliced or grouped"):
        group_codes(pa.chunked_array([pa.array([[1], [2]])]))
