"""Batch scoring on the local engine (a real process pool): outputs, rejects, retries,
resume after SIGKILL, overwrite rules, the prediction log, S3, and bounded memory."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.integration.batch_helpers import (
    assert_exactly_once,
    corrupt_a_page,
    frame,
    kill_midway,
    only_job,
    output_files,
    register,
    write_inputs,
)

import airlock
import airlock.batch
from airlock.batch._job import KEEP_MISSING, NOTHING_TO_RESUME
from airlock.batch._manifest import OTHER_JOB
from airlock.errors import UsageError
from airlock.registry import MISSING_VALUE
from airlock.store import get_store


@pytest.fixture
def model() -> str:
    return register()


def test_scores_every_file_into_one_output_file_each(model: str, tmp_path: Path) -> None:
    paths = write_inputs(tmp_path / "in", files=3, rows=5000, nan_every=1000)
    out = tmp_path / "out"
    result = airlock.batch.score(model, tmp_path / "in", out, keep=["id", "day"], workers=2)
    assert result.passed and result.failed == 0 and result.done == 3
    assert result.rows + result.rejected == 15000 and result.rejected == 15
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == len(paths)
    table = pq.read_table(parts[0])
    assert table.column_names == ["id", "day", "prediction", "proba_0", "proba_1",
                                  "model_version"]
    assert set(table.column("day").to_pylist()) == {"2026-12-01"}  # the hive partition
    assert set(table.column("model_version").to_pylist()) == {1}
    meta = table.schema.metadata
    assert meta[b"airlock.model_sha256"].decode() == result.model_sha256
    assert meta[b"airlock.fragment"].decode() in {str(p) for p in paths}
    # every file is named from its fragment and the model's sha256
    assert all(p.name.endswith(f"-{result.model_sha256[:12]}.parquet") for p in parts)
    assert_exactly_once(out, 15000)

    # predictions are the model's, row for row
    loaded = airlock.load_model(model)
    source = pq.read_table(paths[0]).to_pandas()
    want = loaded.predict(source[source.x.notna()])
    got = pq.read_table(out / f"part-{_fragment_id(paths[0])}-{result.model_sha256[:12]}"
                        ".parquet").to_pandas()
    assert np.allclose(got.proba_1.to_numpy(), want.proba_1.to_numpy())

    rejects = pq.read_table(out / "_rejects").to_pandas()
    assert set(rejects.columns) == {"fragment", "row", "reason", "id", "day"}
    assert set(rejects.reason) == {MISSING_VALUE.format(name="x", ref=model)}
    assert (rejects.row % 1000 == 3).all()


def test_workers_leave_no_model_copies_behind(model: str, tmp_path: Path) -> None:
    """Each worker writes the model's files to a private folder to load them; the folder is
    gone once the model is loaded (a killed worker runs no exit handler)."""
    import tempfile

    def copies() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("airlock-batch-model-*"))

    before = copies()
    write_inputs(tmp_path / "in", files=2, rows=500)
    result = airlock.batch.score(model, tmp_path / "in", tmp_path / "out", workers=2)
    assert result.passed and result.done == 2
    assert copies() - before == set()


def _fragment_id(path: Path) -> str:
    import hashlib

    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def test_job_is_tracked_and_audited(model: str, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in", files=2, rows=2000)
    result = airlock.batch.score(model, tmp_path / "in", tmp_path / "out", keep=["id"],
                                 workers=1)
    run = airlock.get_run(result.run_id)
    assert run.status == "FINISHED"
    assert run.params["model"] == model and run.params["model_sha256"] == result.model_sha256
    assert run.params["engine"] == "local" and run.params["job_id"] == result.job_id
    assert run.metrics["rows"] == 4000 and run.metrics["rejected"] == 0
    assert run.metrics["rows_per_s"] > 0
    assert run.tags["manifest_sha256"] == result.manifest_sha256
    assert [i["context"] for i in run.inputs] == ["batch"]
    assert [a.path for a in run.artifacts] == ["batch/manifest.json"]
    assert len(get_store().runs.metric_history(run.id, "fragment_seconds")) == 2
    events = airlock.list_events(subject=f"models/{model.split('@')[0]}", action="batch.")
    assert [e.action for e in events][-2:] == ["batch.started", "batch.finished"]
    assert events[-1].payload["manifest_sha256"] == result.manifest_sha256
    status = airlock.batch.job_status(result.job_id)
    assert (status.done, status.pending, status.failed, status.rows) == (2, 0, 0, 4000)


def test_rerun_scores_only_what_is_missing(model: str, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in", files=3, rows=1000)
    out = tmp_path / "out"
    first = airlock.batch.score(model, tmp_path / "in", out, keep=["id"], workers=1)
    before = output_files(out)
    victim = sorted(out.glob("part-*.parquet"))[1]
    victim.unlink()  # a lost output file is scored again
    write_inputs(tmp_path / "in", files=4, rows=1000)  # and a new input file is picked up
    again = airlock.batch.score(model, tmp_path / "in", out, keep=["id"], workers=1,
                                resume=True)
    assert again.job_id == first.job_id
    assert (again.done, again.skipped) == (2, 2)
    after = output_files(out)
    assert {k: v for k, v in after.items() if k in before} == before  # the same bytes
    assert_exactly_once(out, 4000)


def test_resume_needs_a_job(model: str, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in", files=1, rows=100)
    with pytest.raises(UsageError) as err:
        airlock.batch.score(model, tmp_path / "in", tmp_path / "out", resume=True)
    assert str(err.value) == NOTHING_TO_RESUME.format(
        input=tmp_path / "in", output=tmp_path / "out", ref=model)
    assert not (tmp_path / "out").exists()


def test_rejects_of_every_kind_and_the_reject_rate(model: str, tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    df = frame(100, 3)
    csv = df.astype({"z": str}).copy()
    csv.loc[[4, 9], "z"] = "lots"  # not an integer
    csv.loc[12, "c"] = None  # null where the signature allows none
    csv.to_csv(inp / "a.csv", index=False)
    df.drop(columns=["y"]).to_csv(inp / "b.csv", index=False)  # a missing column
    out = tmp_path / "out"
    result = airlock.batch.score(model, inp, out, keep=["id"], workers=1,
                                 max_reject_rate=0.5)
    assert result.rows == 97 and result.rejected == 103
    assert not result.passed and result.reject_rate_exceeded
    assert airlock.get_run(result.run_id).status == "FAILED"
    rejects = pq.read_table(out / "_rejects").to_pandas().sort_values(["fragment", "row"])
    a = rejects[rejects.fragment.str.endswith("a.csv")]
    assert a.id.tolist() == [4, 9, 12]
    assert a.reason.iloc[0].startswith(f"input column 'z' of {model} must be int64")
    assert "lots" in a.reason.iloc[0]
    assert a.reason.iloc[2] == MISSING_VALUE.format(name="c", ref=model)
    b = rejects[rejects.fragment.str.endswith("b.csv")]
    assert len(b) == 100 and set(b.reason) == {f"missing input column 'y' for {model}"}
    assert airlock.batch.score(model, inp, out, keep=["id"], workers=1).passed  # no bound


def test_a_fragment_that_fails_is_retried_then_marked_failed(model: str,
                                                              tmp_path: Path) -> None:
    paths = write_inputs(tmp_path / "in", files=3, rows=20000)
    corrupt_a_page(paths[1])
    out = tmp_path / "out"
    result = airlock.batch.score(model, tmp_path / "in", out, keep=["id"], workers=1,
                                 retries=1)
    assert (result.done, result.failed) == (2, 1) and not result.passed
    assert list(result.errors) == [str(paths[1])]
    rows = {r.fragment: r for r in get_store().batch.fragments(result.job_id)}
    assert rows[str(paths[1])].status == "failed" and rows[str(paths[1])].attempts == 2
    assert rows[str(paths[1])].error
    assert len(list(out.glob("part-*.parquet"))) == 2
    assert airlock.batch.job_status(result.job_id).failed == 1


def test_kill_and_resume_scores_every_row_exactly_once(model: str, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in", files=10, rows=40000, row_group=8192)
    out = tmp_path / "out"
    args = ["batch", "score", model, "--input", str(tmp_path / "in"), "--output", str(out),
            "--keep", "id", "--workers", "2", "--json"]
    killed_at = kill_midway(args, out, parts=2)
    assert killed_at < 10
    status = airlock.batch.job_status(only_job())  # what `airlock batch status` shows
    assert status.status == "running" and status.done >= 2 and status.pending > 0
    assert status.done + status.pending + status.failed == 10
    result = airlock.batch.score(model, tmp_path / "in", out, keep=["id"], workers=2,
                                 resume=True)
    assert result.passed and result.skipped >= 1 and result.done + result.skipped == 10
    assert_exactly_once(out, 400000)
    assert len(list(out.glob("part-*.parquet"))) == 10


def test_a_script_without_a_main_guard_still_finishes(model: str, tmp_path: Path) -> None:
    """spawn runs such a script again in each worker, which then dies starting up: the driver
    scores everything itself (this hung for good while the task went through spawn's pipe)."""
    write_inputs(tmp_path / "in", files=4, rows=2000)
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(f"""
        import airlock.batch
        r = airlock.batch.score({model!r}, {str(tmp_path / "in")!r}, {str(tmp_path / "out")!r},
                                keep=["id"], workers=2)
        print("PASSED" if r.passed and r.rows == 8000 else "FAILED", r.done, r.skipped)
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "PASSED", proc.stdout
    assert_exactly_once(tmp_path / "out", 8000)


def test_another_model_version_refuses_the_output_unless_overwrite(model: str,
                                                                    tmp_path: Path) -> None:
    write_inputs(tmp_path / "in", files=2, rows=500)
    out = tmp_path / "out"
    first = airlock.batch.score(model, tmp_path / "in", out, keep=["id"], workers=1)
    second = register(seed=1)
    before = output_files(out)
    with pytest.raises(UsageError) as err:
        airlock.batch.score(second, tmp_path / "in", out, keep=["id"], workers=1)
    assert str(err.value) == OTHER_JOB.format(output=out, other=model)
    assert output_files(out) == before  # nothing written
    with pytest.raises(UsageError, match="with --keep id"):  # other columns: refused too
        airlock.batch.score(model, tmp_path / "in", out, keep=[], workers=1)
    replaced = airlock.batch.score(second, tmp_path / "in", out, keep=["id"], workers=1,
                                   overwrite=True)
    assert replaced.passed and replaced.model_sha256 != first.model_sha256
    names = {p.name for p in out.glob("part-*.parquet")}
    assert len(names) == 2 and all(replaced.model_sha256[:12] in n for n in names)
    assert get_store().batch.get_job(first.job_id).status == "overwritten"
    assert set(pq.read_table(out).column("model_version").to_pylist()) == {2}


def test_bad_keep_column_writes_nothing(model: str, tmp_path: Path) -> None:
    paths = write_inputs(tmp_path / "in", files=1, rows=10, partition=None)
    with pytest.raises(UsageError) as err:
        airlock.batch.score(model, tmp_path / "in", tmp_path / "out", keep=["nope"])
    assert str(err.value) == KEEP_MISSING.format(name="nope", fragment=paths[0],
                                                 have="id, x, y, z, c, tier")
    assert not (tmp_path / "out").exists()
    assert get_store().batch.jobs_for_output("x") == []


def test_profile_and_prediction_log(model: str, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in", files=2, rows=3000, nan_every=500)
    result = airlock.batch.score(model, tmp_path / "in", tmp_path / "out", keep=["id"],
                                 workers=2, profile=tmp_path / "scores.profile",
                                 log_as="nightly")
    assert result.passed and result.rows == 5988
    profile = airlock.Profile.load(tmp_path / "scores.profile")
    assert profile.rows == 5988
    assert {"x", "y", "z", "c", "prediction", "proba_1"} <= set(profile.columns)
    from airlock.predlog import log_locations, read_prediction_log

    uri, spool = log_locations()
    logged = read_prediction_log("nightly", artifact_uri=uri, spool_dir=spool)
    assert logged.num_rows == 5988
    assert set(logged.column("route").to_pylist()) == {"batch"}
    assert set(logged.column("version").to_pylist()) == {1}
    assert all(r.logged for r in get_store().batch.fragments(result.job_id))
    assert not list((tmp_path / "out").glob("_log/*"))  # side files gone once logged
    # a resumed job neither logs its rows again nor needs them scored again
    again = airlock.batch.score(model, tmp_path / "in", tmp_path / "out", keep=["id"],
                                workers=1, profile=tmp_path / "again.profile",
                                log_as="nightly")
    assert again.skipped == 2
    assert read_prediction_log("nightly", artifact_uri=uri, spool_dir=spool).num_rows == 5988
    assert airlock.Profile.load(tmp_path / "again.profile").rows == 5988


# -- S3 (a real moto server) --------------------------------------------------------------

@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"batch-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def test_s3_input_and_output_match_the_local_run(model: str, tmp_path: Path,
                                                 bucket: str) -> None:
    import s3fs

    paths = write_inputs(tmp_path / "in", files=2, rows=3000, nan_every=700)
    fs = s3fs.S3FileSystem()
    for p in paths:
        fs.put_file(str(p), f"{bucket}/events/day=2026-12-01/{p.name}")
    local = airlock.batch.score(model, tmp_path / "in", tmp_path / "out", keep=["id", "day"],
                                workers=1)
    remote = airlock.batch.score(model, f"s3://{bucket}/events/day=2026-12-01/*.parquet",
                                 f"s3://{bucket}/scores/", keep=["id", "day"], workers=2)
    assert remote.passed and (remote.rows, remote.rejected) == (local.rows, local.rejected)
    fs.invalidate_cache()
    names = sorted(k.split("/scores/", 1)[1] for k in fs.find(f"{bucket}/scores"))
    assert len([n for n in names if n.startswith("part-")]) == 2
    assert len([n for n in names if n.startswith("_rejects/part-")]) == 2
    assert not [n for n in names if n.endswith(".tmp")]
    got = pa.concat_tables(pq.read_table(fs.open(f"{bucket}/scores/{n}"))
                           for n in names if n.startswith("part-"))
    want = pq.read_table(tmp_path / "out")
    assert sorted(got.column("id").to_pylist()) == sorted(want.column("id").to_pylist())
    assert np.allclose(np.sort(got.column("proba_1").to_numpy()),
                       np.sort(want.column("proba_1").to_numpy()))


# -- bounded memory -----------------------------------------------------------------------

def test_peak_memory_stays_bounded_whatever_the_input_size(tmp_path: Path) -> None:
    """One file of 400,000 rows, then eight (3.2 million rows x 20 columns, about 500 MB as
    numbers in memory), each scored by a subprocess: the peak RSS of each (its own, from
    wait4) is about the same, and under 450 MB (holding the eight files would need ~900)."""
    code = textwrap.dedent("""
        import sys
        import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
        from sklearn.linear_model import LogisticRegression
        import airlock
        rng = np.random.default_rng(0)
        cols = [f"f{i:02d}" for i in range(20)]
        X = pd.DataFrame(rng.normal(size=(2000, 20)), columns=cols)
        clf = LogisticRegression().fit(X, (X.f00 > 0).astype(int))
        airlock.register_model("wide", clf, input_example=X.head(50))
        folder = sys.argv[1]
        for f in range(8):
            batch = rng.normal(size=(400_000, 20))
            t = pa.table({c: batch[:, i] for i, c in enumerate(cols)})
            pq.write_table(t, f"{folder}/part{f}.parquet", row_group_size=65536)
    """)
    data = tmp_path / "wide"
    data.mkdir()
    subprocess.run([sys.executable, "-c", code, str(data)], check=True, timeout=300)
    small = _peak_mb(str(data / "part0.parquet"), tmp_path / "small", tmp_path, 400_000)
    large = _peak_mb(str(data), tmp_path / "large", tmp_path, 3_200_000)
    assert large < 450, f"peak RSS {large:.0f} MB for 3.2M rows"
    assert large - small < 40, f"peak RSS {small:.0f} MB for 0.4M rows, {large:.0f} MB for 3.2M"


# ru_maxrss of a child starts at its parent's RSS when it forks (exec keeps it), so the job
# is forked from a small launcher process: what wait4 reports there is the job's own peak.
LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "airlock", *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    json.dump({"code": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, fh)
"""


def _peak_mb(source: str, out: Path, tmp: Path, rows: int) -> float:
    """Score ``source`` in a subprocess (one worker); its peak RSS in MB."""
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(tmp / "usage.json"), "batch",
                           "score", "wide@1", "--input", source, "--output", str(out),
                           "--workers", "1", "--json"], capture_output=True, text=True,
                          timeout=600, check=False)
    usage = json.loads((tmp / "usage.json").read_text())
    assert usage["code"] == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == rows
    return float(usage["maxrss_kb"]) / 1024
