"""Batch scoring on Ray: a real local cluster (``ray.init(num_cpus=2)``, one per module),
Ray Data on an actor pool; the same output files as the local engine, rejects and failures,
and a job whose driver is SIGKILLed midway resumed to every row scored exactly once."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

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
def ray_address() -> Iterator[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ray

        ctx = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                       logging_level="ERROR")
    try:
        yield str(ctx.address_info["gcs_address"])
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ray.shutdown()


@pytest.fixture
def model(ray_address: str) -> str:
    return register()


def test_same_output_files_as_the_local_engine(model: str, tmp_path: Path) -> None:
    copies = set(Path(tempfile.gettempdir()).glob("airlock-batch-model-*"))
    write_inputs(tmp_path / "in", files=3, rows=6000, nan_every=900, row_group=2000)
    local = airlock.batch.score(model, tmp_path / "in", tmp_path / "local",
                                keep=["id", "day", "tier"], workers=1, batch_size=4000)
    ray = airlock.batch.score(model, tmp_path / "in", tmp_path / "ray",
                              keep=["id", "day", "tier"], engine="ray", workers=1,
                              batch_size=1500)
    assert ray.passed and ray.engine == "ray" and ray.engine_version.startswith("ray ")
    assert (ray.rows, ray.rejected) == (local.rows, local.rejected)
    files = output_files(tmp_path / "ray")
    assert len([f for f in files if f.startswith("part-")]) == 3
    assert len([f for f in files if f.startswith("_rejects/")]) == 3
    assert files == output_files(tmp_path / "local")  # byte for byte
    # the workers live on, but the model files they loaded from are gone already
    assert set(Path(tempfile.gettempdir()).glob("airlock-batch-model-*")) <= copies
    assert ray.manifest_sha256 != local.manifest_sha256 or ray.job_id != local.job_id


def test_text_inputs_and_a_fragment_of_rejects_only(model: str, tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    frame(300, 1).to_csv(inp / "a.csv", index=False)
    frame(200, 2, first_id=300).drop(columns=["x"]).to_csv(inp / "b.csv", index=False)
    local = airlock.batch.score(model, inp, tmp_path / "local", keep=["id"], workers=1)
    ray = airlock.batch.score(model, inp, tmp_path / "ray", keep=["id"], engine="ray",
                              workers=1)
    assert (ray.rows, ray.rejected) == (300, 200) == (local.rows, local.rejected)
    assert output_files(tmp_path / "ray") == output_files(tmp_path / "local")


def test_a_failing_fragment_does_not_stop_the_others(model: str, tmp_path: Path) -> None:
    paths = write_inputs(tmp_path / "in", files=3, rows=20000)
    corrupt_a_page(paths[2])
    result = airlock.batch.score(model, tmp_path / "in", tmp_path / "out", keep=["id"],
                                 engine="ray", workers=1, retries=0)
    assert (result.done, result.failed) == (2, 1) and not result.passed
    assert list(result.errors) == [str(paths[2])]
    assert "Ray" not in result.errors[str(paths[2])].split(":")[0]
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 2


def test_kill_and_resume_scores_every_row_exactly_once(model: str, tmp_path: Path,
                                                       ray_address: str) -> None:
    write_inputs(tmp_path / "in", files=8, rows=40000, row_group=8192)
    out = tmp_path / "out"
    args = ["batch", "score", model, "--input", str(tmp_path / "in"), "--output", str(out),
            "--keep", "id", "--engine", "ray", "--workers", "1", "--json"]
    killed_at = kill_midway(args, out, env={"RAY_ADDRESS": ray_address}, parts=2)
    assert killed_at < 8
    result = airlock.batch.score(model, tmp_path / "in", out, keep=["id"], engine="ray",
                                 workers=1, resume=True)
    assert result.passed and result.skipped >= 1 and result.done + result.skipped == 8
    assert_exactly_once(out, 320000)
    assert pq.read_table(out).num_rows == 320000
