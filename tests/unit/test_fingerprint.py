"""Dataset fingerprints: sha256 of files, folders and in-memory tables."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airlock
from airlock.data import fingerprint
from airlock.errors import NotFound

NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


@pytest.fixture(scope="module")
def adult(adult_sample: Any) -> Any:
    """The Adult sample with its numeric columns as integers (the CSV pads them with spaces)."""
    import polars as pl

    return adult_sample.with_columns(pl.col(NUMERIC).cast(pl.Int64))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- files and folders --------------------------------------------------------------------
def test_file_digest_is_sha256_of_its_bytes(tmp_path: Path, adult: Any) -> None:
    path = tmp_path / "adult.csv"
    adult.write_csv(path)
    info = fingerprint(path)
    assert info.digest == _sha(path.read_bytes())
    assert fingerprint(str(path)).digest == info.digest  # str and Path alike
    assert info.name == "adult"
    assert info.uri == str(path.absolute())
    assert airlock.fingerprint is fingerprint

    big = tmp_path / "big.bin"  # larger than one read chunk, and not a table format
    payload = bytes(range(256)) * 9000
    big.write_bytes(payload)
    info = fingerprint(big, name="blob")
    assert (info.digest, info.name, info.rows, info.schema) == (_sha(payload), "blob", -1, {})


def _tree(root: Path) -> list[Path]:
    (root / "part").mkdir(parents=True)
    files = [root / "a.csv", root / "b.csv", root / "part" / "c.csv"]
    for i, f in enumerate(files):
        f.write_text(f"x,y\n{i},{i * 2}\n{i + 1},{i * 3}\n")
    return files


def test_folder_digest_is_stable_and_tracks_every_file(tmp_path: Path) -> None:
    files = _tree(tmp_path / "data")
    first = fingerprint(tmp_path / "data")
    assert fingerprint(tmp_path / "data").digest == first.digest  # stable
    # the same content elsewhere gives the same digest: it depends on content, not location
    copy = _tree(tmp_path / "copy")
    assert fingerprint(tmp_path / "copy").digest == first.digest
    assert first.rows == 6
    assert set(first.schema) == {"x", "y"}

    seen = {first.digest}
    for f in copy:  # change each file in turn (one character), then restore it
        original = f.read_bytes()
        f.write_bytes(original[:-2] + b"7\n")  # the last digit: same size, new content
        assert f.read_bytes() != original
        changed = fingerprint(tmp_path / "copy").digest
        assert changed not in seen, f
        seen.add(changed)
        f.write_bytes(original)
        assert fingerprint(tmp_path / "copy").digest == first.digest

    (copy[0]).rename(copy[0].with_name("renamed.csv"))  # same bytes, another name
    assert fingerprint(tmp_path / "copy").digest != first.digest
    (tmp_path / "data" / "new.csv").write_text("x,y\n1,2\n")
    assert fingerprint(tmp_path / "data").digest != first.digest
    assert files  # the original tree was left alone until the last step


def test_csv_and_parquet_schema_and_rows(tmp_path: Path, adult: Any) -> None:
    import polars as pl
    import pyarrow.parquet as pq

    csv, parquet = tmp_path / "adult.csv", tmp_path / "adult.parquet"
    adult.write_csv(csv)
    adult.write_parquet(parquet)
    for path in (csv, parquet):
        info = fingerprint(path)
        assert info.rows == adult.height == 2000
        assert list(info.schema) == adult.columns
        assert info.digest == _sha(path.read_bytes())
    csv_info, pq_info = fingerprint(csv), fingerprint(parquet)
    assert csv_info.schema == {k: str(v) for k, v in pl.read_csv(csv).schema.items()}
    assert pq_info.schema == {k: str(v) for k, v in pl.read_parquet(parquet).schema.items()}
    assert pq.read_metadata(parquet).num_rows == pq_info.rows
    # a folder of parquet parts: rows of all parts together
    parts = tmp_path / "parts"
    parts.mkdir()
    adult.head(700).write_parquet(parts / "p0.parquet")
    adult.slice(700).write_parquet(parts / "p1.parquet")
    folder = fingerprint(parts)
    assert folder.rows == 2000
    assert list(folder.schema) == adult.columns


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "train.parquet"
    with pytest.raises(NotFound, match=r"train\.parquet"):
        fingerprint(missing)
    with pytest.raises(NotFound):
        fingerprint(str(tmp_path / "nothing-here"))


# -- in-memory tables ---------------------------------------------------------------------
def test_same_content_same_digest_across_libraries(adult: Any) -> None:
    import pandas as pd
    import polars as pl

    frames = {
        "polars": adult,
        "pandas": adult.to_pandas(),
        "arrow": adult.to_arrow(),
        "arrow-batch": adult.to_arrow().to_batches()[0],
    }
    digests = {k: fingerprint(v).digest for k, v in frames.items()}
    assert len(set(digests.values())) == 1, digests
    info = fingerprint(adult, name="adult")
    assert (info.name, info.rows) == ("adult", 2000)
    assert info.schema["age"] == "int64"

    numeric = {"a": [1, 2, 3, 4], "b": [0.5, -1.0, 2.25, 3.0]}
    same = [pd.DataFrame(numeric), pl.DataFrame(numeric), pa.table(numeric)]
    assert len({fingerprint(t).digest for t in same}) == 1
    # different content or different types are different data
    assert fingerprint(pa.table({"a": [1, 2, 3, 5], "b": numeric["b"]})).digest != \
        fingerprint(pa.table(numeric)).digest
    assert fingerprint(pa.table({"a": [1, 2, 3, None], "b": numeric["b"]})).digest != \
        fingerprint(pa.table(numeric)).digest
    assert fingerprint(pa.table({"a": pa.array([1, 2, 3, 4], pa.int32()),
                                 "b": numeric["b"]})).digest != \
        fingerprint(pa.table(numeric)).digest
    assert fingerprint(adult.head(1999)).digest != digests["polars"]


def test_text_digest_does_not_depend_on_string_width() -> None:
    import polars as pl

    text = {"city": ["Oslo", "Lima", None], "n": [1, 2, 3]}
    assert fingerprint(pa.table(text)).digest == fingerprint(pl.DataFrame(text)).digest


def test_nulls_give_the_same_digest_across_libraries() -> None:
    import pandas as pd
    import polars as pl

    values = {"a": [1, 2, 3, None], "b": [0.5, -1.0, 2.25, 3.0]}
    tables = {"arrow": pa.table(values), "polars": pl.DataFrame(values),
              "pandas": pd.DataFrame({"a": pd.array(values["a"], dtype="Int64"),
                                      "b": values["b"]})}
    assert all(airlock.data.to_arrow(t).equals(tables["arrow"]) for t in tables.values())
    digests = {k: fingerprint(t).digest for k, t in tables.items()}
    assert len(set(digests.values())) == 1, digests


def test_digest_of_polars_data_with_nulls_ignores_chunking() -> None:
    import polars as pl

    df = pl.DataFrame({"a": [1, None, 3, 4, None, 6, 7], "b": list("abcdefg")})
    parts = pl.concat([df.head(3), df.slice(3)], rechunk=False)
    assert parts.n_chunks() == 2
    assert parts.equals(df)
    assert fingerprint(parts).digest == fingerprint(df).digest


# -- properties ---------------------------------------------------------------------------
@st.composite
def tables_and_splits(draw: st.DrawFn) -> tuple[dict[str, list[Any]], list[int]]:
    n = draw(st.integers(min_value=1, max_value=60))
    ints = draw(st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)),
                         min_size=n, max_size=n))
    floats = draw(st.lists(st.floats(allow_nan=False, width=64), min_size=n, max_size=n))
    texts = draw(st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=n, max_size=n))
    cuts = draw(st.lists(st.integers(min_value=1, max_value=max(n - 1, 1)), max_size=6))
    splits = sorted({c for c in cuts if 0 < c < n})
    return {"i": ints, "f": floats, "s": texts}, splits


SCHEMA = pa.schema([("i", pa.int64()), ("f", pa.float64()), ("s", pa.large_string())])


def _chunked(columns: dict[str, list[Any]], splits: list[int]) -> pa.Table:
    """The same rows as independent record batches (separate buffers) cut at ``splits``."""
    n = len(columns["i"])
    bounds = [0, *splits, n]
    batches = [pa.RecordBatch.from_pydict({k: v[a:b] for k, v in columns.items()},
                                          schema=SCHEMA)
               for a, b in itertools.pairwise(bounds)]
    return pa.Table.from_batches(batches, schema=SCHEMA)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=tables_and_splits(), data=st.data())
def test_digest_ignores_chunking_and_sees_every_value(
        case: tuple[dict[str, list[Any]], list[int]], data: st.DataObject) -> None:
    columns, splits = case
    whole = pa.Table.from_pydict(columns, schema=SCHEMA)
    chunked = _chunked(columns, splits)
    assert chunked.column("i").num_chunks == len(splits) + 1
    assert chunked.equals(whole)
    digest = fingerprint(whole).digest
    assert fingerprint(chunked).digest == digest

    # change one value of one column
    name = data.draw(st.sampled_from(["i", "f", "s"]), label="column")
    row = data.draw(st.integers(0, len(columns[name]) - 1), label="row")
    old = columns[name][row]
    new_value = data.draw({
        "i": st.one_of(st.none(), st.integers(-(2**40), 2**40)),
        "f": st.floats(allow_nan=False, width=64),
        "s": st.one_of(st.none(), st.text(max_size=8)),
    }[name].filter(lambda v: v != old), label="new value")
    changed = {k: list(v) for k, v in columns.items()}
    changed[name][row] = new_value
    assert fingerprint(_chunked(changed, splits)).digest != digest


def test_digest_ignores_chunking_across_slices() -> None:
    """Tables longer than one hashing slice (64k rows), chunked at different places."""
    import numpy as np

    rng = np.random.default_rng(7)
    n = 150_000
    values = rng.integers(0, 1_000_000, n)
    weights = rng.random(n)
    whole = pa.table({"v": values.copy(), "w": weights.copy()})  # not a view of values
    chunked = pa.Table.from_batches([
        pa.RecordBatch.from_pydict({"v": values[a:b], "w": weights[a:b]})
        for a, b in [(0, 1), (1, 65_537), (65_537, 100_003), (100_003, n)]])
    assert fingerprint(chunked).digest == fingerprint(whole).digest
    values[123_456] += 1
    assert fingerprint(pa.table({"v": values, "w": weights})).digest != \
        fingerprint(whole).digest
