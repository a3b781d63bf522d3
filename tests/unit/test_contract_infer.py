"""Contract inference on real data: Adult (census) and COMPAS (with real names and dates of
birth)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from airlock.contracts._infer import infer_contract
from airlock.contracts._model import ColumnSpec
from airlock.contracts._yaml import dump_contract_spec, load_contract_spec
from airlock.errors import InvalidInput, NotFound

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
ADULT = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
         "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
         "hours-per-week", "native-country", "income"]
NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


@pytest.fixture(scope="module")
def adult() -> pl.DataFrame:
    raw = pl.read_csv(DATA / "adult.data.gz", has_header=False, new_columns=ADULT,
                      infer_schema=False)
    df = raw.with_columns(pl.all().str.strip_chars()).filter(pl.col("age").is_not_null())
    df = df.with_columns(pl.when(pl.col(pl.String) == "?").then(None)
                         .otherwise(pl.col(pl.String)).name.keep())
    return df.with_columns(pl.col(NUMERIC).cast(pl.Int64))


@pytest.fixture(scope="module")
def compas() -> pl.DataFrame:
    return pl.read_csv(DATA / "compas-scores-two-years.csv.gz")


def test_adult_types_ranges_and_categories(adult: pl.DataFrame) -> None:
    spec = infer_contract(adult, name="adult")
    assert spec.name == "adult"
    assert list(spec.columns) == ADULT
    assert spec.description == "inferred from 32561 rows"
    assert spec.columns["age"] == ColumnSpec(type="int", nullable=False, min=17, max=90)
    assert spec.columns["hours-per-week"].min == 1
    assert spec.columns["hours-per-week"].max == 99
    assert spec.columns["capital-gain"].max == 99999
    sex = spec.columns["sex"]
    assert sex.type == "category"
    assert sex.allowed == ["Female", "Male"]
    assert spec.columns["income"].allowed == ["<=50K", ">50K"]
    assert len(spec.columns["education"].allowed or []) == 16
    assert len(spec.columns["native-country"].allowed or []) == 41
    # '?' was missing: those columns are nullable, the others are not
    assert {c for c, s in spec.columns.items() if s.nullable} == {
        "workclass", "occupation", "native-country"}
    assert "?" not in (spec.columns["workclass"].allowed or [])
    # nothing here is unique or personal
    assert not any(s.unique for s in spec.columns.values())
    assert all(s.pii == "none" for s in spec.columns.values())


def test_adult_from_parquet_path_equals_in_memory(adult: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "adult.parquet"
    adult.write_parquet(path)
    from_path = infer_contract(path)
    assert from_path.name == "adult"
    assert from_path == infer_contract(adult, name="adult")
    # a directory of Parquet files and a glob give the same contract
    parts = tmp_path / "parts"
    parts.mkdir()
    adult.head(20_000).write_parquet(parts / "a.parquet")
    adult.tail(adult.height - 20_000).write_parquet(parts / "b.parquet")
    assert infer_contract(parts, name="adult") == from_path
    assert infer_contract(str(parts / "*.parquet"), name="adult") == from_path


def test_arrow_pandas_and_csv_inputs_agree(adult: pl.DataFrame, tmp_path: Path) -> None:
    expected = infer_contract(adult, name="a")
    assert infer_contract(adult.to_arrow(), name="a") == expected
    assert infer_contract(adult.to_pandas(), name="a") == expected
    csv = tmp_path / "adult.csv"
    adult.write_csv(csv)
    assert infer_contract(csv, name="a") == expected
    jsonl = tmp_path / "adult.jsonl"
    adult.write_ndjson(jsonl)
    assert infer_contract(jsonl, name="a") == expected


def test_inferred_contract_round_trips_through_yaml(adult: pl.DataFrame) -> None:
    spec = infer_contract(adult, name="adult")
    assert load_contract_spec(dump_contract_spec(spec)) == spec


def test_max_categories(adult: pl.DataFrame) -> None:
    spec = infer_contract(adult, name="adult", max_categories=10)
    assert spec.columns["sex"].type == "category"
    assert spec.columns["native-country"].type == "string"
    assert spec.columns["native-country"].min_length == 4  # Cuba, Iran, Laos, Peru…
    assert spec.columns["native-country"].allowed is None


def test_compas_pii_guesses_and_dates(compas: pl.DataFrame) -> None:
    spec = infer_contract(compas, name="compas")
    for column in ("name", "first", "last"):
        assert spec.columns[column].pii == "name", column
        assert spec.columns[column].description == (
            f"PII guessed from the column name {column!r}: name")
    assert spec.columns["dob"].pii == "date_of_birth"
    assert spec.columns["id"].unique is True
    assert spec.columns["id"].nullable is False
    # read without date parsing, dates are text — and not mistaken for phone numbers
    assert spec.columns["dob"].type == "string"
    assert {c for c, s in spec.columns.items() if s.pii != "none"} == {
        "name", "first", "last", "dob"}


def test_compas_csv_path_parses_dates() -> None:
    spec = infer_contract(DATA / "compas-scores-two-years.csv.gz")
    assert spec.name == "compas-scores-two-years"
    dob = spec.columns["dob"]
    assert (dob.type, dob.min, dob.max, dob.pii) == ("date", "1919-10-14", "1998-01-20",
                                                     "date_of_birth")
    assert spec.columns["c_jail_in"].type == "datetime"
    assert spec.columns["c_jail_in"].min == "2013-01-01T01:31:55"


def test_pii_guessed_from_values() -> None:
    n = 200
    table = pa.table({
        "contact": [f"user{i}@example.org" for i in range(n)],
        "reach": [f"+1 (555) 010-{i:04d}" for i in range(n)],
        "host": [f"10.0.{i % 250}.{i % 200}" for i in range(n)],
        "day": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
        "code": [f"{1_000_000 + i}" for i in range(n)],
        "userName": ["x"] * n,
        "last_login": ["y"] * n,
    })
    spec = infer_contract(table, name="t")
    assert spec.columns["contact"].pii == "email"
    assert spec.columns["contact"].description == (
        "PII guessed from values: 100% of 200 sampled values look like email addresses")
    assert spec.columns["reach"].pii == "phone"
    assert spec.columns["host"].pii == "ip_address"
    assert spec.columns["day"].pii == "none"  # dates are not phone numbers
    assert spec.columns["code"].pii == "none"  # plain digit ids are not phone numbers
    assert spec.columns["userName"].pii == "name"  # camelCase split
    assert spec.columns["last_login"].pii == "none"
    assert spec.columns["contact"].unique is True
    # the sample is what is looked at
    assert infer_contract(table, name="t", sample_rows=0).columns["contact"].pii == "none"


def test_nulls_floats_bools_and_unsupported_columns() -> None:
    df = pl.DataFrame({"x": [1.5, None, -2.0], "flag": [True, False, True],
                       "tags": [[1], [2], []]})
    spec = infer_contract(df, name="t")
    assert spec.columns["x"] == ColumnSpec(type="float", min=-2.0, max=1.5)
    assert spec.columns["flag"] == ColumnSpec(type="bool", nullable=False)
    assert "tags" not in spec.columns
    assert spec.description is not None and "tags (List(Int64))" in spec.description


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        infer_contract(tmp_path / "missing.parquet")
    other = tmp_path / "data.xlsx"
    other.write_text("x")
    with pytest.raises(InvalidInput, match="expected CSV, Parquet"):
        infer_contract(other)
    with pytest.raises(InvalidInput, match="no columns"):
        infer_contract(pl.DataFrame())
