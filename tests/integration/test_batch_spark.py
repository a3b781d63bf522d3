"""Batch scoring on Spark: a real ``local[2]`` SparkSession (one per module) on Debian's JRE,
``mapInArrow`` over DataFrames read from Parquet; the same output files as the local engine,
rejects and failures, and a job SIGKILLed midway resumed to every row scored exactly once."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from tests.integration.batch_helpers import (
    assert_exactly_once,
    corrupt_a_page,
    frame,
    kill_midway,
    output_files,
    register,
    write_inputs,
)

import airlock.batch


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyspark.sql import SparkSession

        session = (SparkSession.builder.master("local[2]").appName("airlock-tests")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false").getOrCreate())
        session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            session.stop()


@pytest.fixture
def model(spark: Any) -> str:
    return register()


def test_same_output_files_as_the_local_engine(model: str, tmp_path: Path) -> None:
    copies = set(Path(tempfile.gettempdir()).glob("airlock-batch-model-*"))
    write_inputs(tmp_path / "in", files=3, rows=6000, nan_every=900, row_group=2000)
    local = airlock.batch.score(model, tmp_path / "in", tmp_path / "local",
                                keep=["id", "day", "tier"], workers=1, batch_size=4000)
    spark = airlock.batch.score(model, tmp_path / "in", tmp_path / "spark",
                                keep=["id", "day", "tier"], engine="spark", batch_size=1000)
    assert spark.passed and spark.engine_version.startswith("spark ")
    assert (spark.rows, spark.rejected) == (local.rows, local.rejected)
    files = output_files(tmp_path / "spark")
    assert len([f for f in files if f.startswith("part-")]) == 3
    assert files == output_files(tmp_path / "local")  # byte for byte
    # the workers live on, but the model files they loaded from are gone already
    assert set(Path(tempfile.gettempdir()).glob("airlock-batch-model-*")) <= copies


def test_text_inputs_and_a_fragment_of_rejects_only(model: str, tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    frame(300, 1).to_json(inp / "a.jsonl", orient="records", lines=True)
    frame(200, 2, first_id=300).drop(columns=["x"]).to_json(inp / "b.jsonl",
                                                            orient="records", lines=True)
    local = airlock.batch.score(model, inp, tmp_path / "local", keep=["id"], workers=1)
    spark = airlock.batch.score(model, inp, tmp_path / "spark", keep=["id"], engine="spark")
    assert (spark.rows, spark.rejected) == (300, 200) == (local.rows, local.rejected)
    assert output_files(tmp_path / "spark") == output_files(tmp_path / "local")


def test_a_failing_fragment_does_not_stop_the_others(model: str, tmp_path: Path) -> None:
    paths = write_inputs(tmp_path / "in", files=3, rows=20000)
    corrupt_a_page(paths[0])
    result = airlock.batch.score(model, tmp_path / "in", tmp_path / "out", keep=["id"],
                                 engine="spark", retries=1)
    assert (result.done, result.failed) == (2, 1) and not result.passed
    assert list(result.errors) == [str(paths[0])]
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 2


def test_kill_and_resume_scores_every_row_exactly_once(model: str, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in", files=8, rows=40000, row_group=8192)
    out = tmp_path / "out"
    args = ["batch", "score", model, "--input", str(tmp_path / "in"), "--output", str(out),
            "--keep", "id", "--engine", "spark", "--workers", "2", "--json"]
    killed_at = kill_midway(args, out, parts=2)
    assert killed_at < 8
    result = airlock.batch.score(model, tmp_path / "in", out, keep=["id"], engine="spark",
                                 resume=True)
    assert result.passed and result.skipped >= 1 and result.done + result.skipped == 8
    assert_exactly_once(out, 320000)
    assert pq.read_table(out).num_rows == 320000
