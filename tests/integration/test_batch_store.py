"""The batch job store (jobs and their fragment manifests) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

import airlock
from airlock.errors import NotFound
from airlock.store import BatchFragmentRecord, get_store
from airlock.store._batch import JOB_NOT_FOUND


def _open(job: str = "bj-1", run_id: str | None = None) -> None:
    get_store().batch.open_job(
        job_id=job, name="m", version=2, model_sha256="a" * 64, input="/in", output="/out",
        output_key="k" * 64, engine="local", config={"keep": ["id"]}, fragments=3,
        run_id=run_id)


def test_jobs_and_manifests(backend: str) -> None:
    store = get_store()
    with airlock.start_run("batch") as run:
        _open(run_id=run.id)
    job = store.batch.get_job("bj-1")
    assert (job.ref, job.status, job.fragments, job.run_id) == ("m@2", "running", 3, run.id)
    assert job.config == {"keep": ["id"]}
    store.batch.record_fragment("bj-1", BatchFragmentRecord(
        key="f1", fragment="/in/a.parquet", status="failed", error="boom", attempts=1))
    store.batch.record_fragment("bj-1", BatchFragmentRecord(
        key="f1", fragment="/in/a.parquet", status="done", output="part-a.parquet",
        rows=10, rejected=1, sha256="b" * 64, seconds=0.5, attempts=2))
    store.batch.record_fragment("bj-1", BatchFragmentRecord(
        key="f2", fragment="/in/b.parquet", status="done", output=None))
    store.batch.mark_logged("bj-1", "f1")
    rows = store.batch.fragments("bj-1")
    assert [(r.key, r.status, r.rows, r.attempts, r.logged) for r in rows] == [
        ("f1", "done", 10, 2, True), ("f2", "done", 0, 1, False)]
    assert rows[0].error is None and rows[0].updated_at > 0

    _open()  # a resume: the same job, running again
    done = store.batch.finish_job("bj-1", "finished", {"rows": 10, "rejected": 1,
                                                       "manifest_sha256": "c" * 64})
    assert done.status == "finished" and done.result == {"rows": 10, "rejected": 1,
                                                         "manifest_sha256": "c" * 64}
    assert [j.id for j in store.batch.jobs_for_output("k" * 64)] == ["bj-1"]
    events = store.events.list(subject="models/m", action="batch.")
    assert [e.action for e in events] == ["batch.started", "batch.started", "batch.finished"]
    assert events[1].payload["resumed"] is True
    assert events[2].payload == {"job": "bj-1", "version": 2, "status": "finished",
                                 "run_id": None, "rows": 10, "rejected": 1,
                                 "manifest_sha256": "c" * 64}
    assert store.events.verify().ok

    store.batch.reset("bj-1")
    assert store.batch.fragments("bj-1") == []
    assert store.batch.get_job("bj-1").status == "overwritten"


def test_unknown_job(backend: str) -> None:
    with pytest.raises(NotFound) as err:
        get_store().batch.get_job("bj-nope")
    assert str(err.value) == JOB_NOT_FOUND.format(job_id="bj-nope")
    with pytest.raises(NotFound):
        get_store().batch.finish_job("bj-nope", "finished", {})
