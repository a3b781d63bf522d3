"""Batch scoring jobs and their manifests in the store.

A job row says what is computed (model version and sha256, input, output, configuration);
its manifest has one row per input fragment that finished (``done``: the output file's name,
rows, rejects and sha256) or gave up (``failed``: the error). Starting and finishing a job
are audit events on the model's subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from airlock._config import settings
from airlock.errors import NotFound

from ._engine import read_tx, write_tx
from ._events import append_event, now_ms
from ._records import Record, Versioned
from ._schema import batch_fragments, batch_jobs

__all__ = ["BatchFragmentRecord", "BatchJobRecord", "BatchStore"]

JOB_NOT_FOUND = "batch job not found: {job_id}"


@dataclass(frozen=True, slots=True)
class BatchJobRecord(Versioned):
    id: str
    name: str
    version: int
    model_sha256: str
    input: str
    output: str
    output_key: str
    engine: str
    config: dict[str, Any]
    status: str
    fragments: int
    run_id: str | None
    result: dict[str, Any] | None
    created_at: int
    updated_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class BatchFragmentRecord(Record):
    key: str
    fragment: str
    status: str
    output: str | None = None
    rows: int = 0
    rejected: int = 0
    sha256: str | None = None
    rejects_sha256: str | None = None
    seconds: float = 0.0
    attempts: int = 1
    logged: bool = False
    error: str | None = None
    updated_at: int = 0


class BatchStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def open_job(self, *, job_id: str, name: str, version: int, model_sha256: str, input: str,
                 output: str, output_key: str, engine: str, config: dict[str, Any],
                 fragments: int, run_id: str | None) -> BatchJobRecord:
        """Create the job, or mark an existing one running again (a resume); audited."""
        at = now_ms()
        with write_tx(self._engine) as conn:
            found = conn.execute(sa.select(batch_jobs.c.id).where(
                batch_jobs.c.id == job_id)).first()
            values = {"engine": engine, "fragments": fragments, "run_id": run_id,
                      "status": "running", "updated_at": at, "config": config}
            if found is None:
                conn.execute(batch_jobs.insert().values(
                    id=job_id, name=name, version=version, model_sha256=model_sha256,
                    input=input, output=output, output_key=output_key, result=None,
                    created_at=at, created_by=settings().actor, **values))
            else:
                conn.execute(batch_jobs.update().where(batch_jobs.c.id == job_id)
                             .values(**values))
            append_event(conn, "batch.started", f"models/{name}",
                         {"job": job_id, "version": version, "run_id": run_id,
                          "engine": engine, "output": output, "resumed": found is not None})
            row = conn.execute(sa.select(batch_jobs).where(batch_jobs.c.id == job_id)).one()
        return BatchJobRecord.from_row(row)

    def get_job(self, job_id: str) -> BatchJobRecord:
        with read_tx(self._engine) as conn:
            row = conn.execute(sa.select(batch_jobs).where(batch_jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(JOB_NOT_FOUND.format(job_id=job_id))
        return BatchJobRecord.from_row(row)

    def jobs_for_output(self, output_key: str) -> list[BatchJobRecord]:
        """Every job that wrote (or writes) into one output location, oldest first."""
        with read_tx(self._engine) as conn:
            rows = conn.execute(sa.select(batch_jobs).where(
                batch_jobs.c.output_key == output_key).order_by(batch_jobs.c.created_at,
                                                                batch_jobs.c.id))
            return [BatchJobRecord.from_row(r) for r in rows]

    def fragments(self, job_id: str) -> list[BatchFragmentRecord]:
        with read_tx(self._engine) as conn:
            rows = conn.execute(sa.select(batch_fragments).where(
                batch_fragments.c.job_id == job_id).order_by(batch_fragments.c.key))
            return [BatchFragmentRecord.from_row(r) for r in rows]

    def record_fragment(self, job_id: str, fragment: BatchFragmentRecord) -> None:
        """Write (or replace) the manifest row of one fragment."""
        values = {**fragment.to_dict(), "updated_at": now_ms()}
        with write_tx(self._engine) as conn:
            conn.execute(batch_fragments.delete().where(
                batch_fragments.c.job_id == job_id, batch_fragments.c.key == fragment.key))
            conn.execute(batch_fragments.insert().values(job_id=job_id, **values))

    def mark_logged(self, job_id: str, key: str) -> None:
        with write_tx(self._engine) as conn:
            conn.execute(batch_fragments.update().where(
                batch_fragments.c.job_id == job_id, batch_fragments.c.key == key)
                .values(logged=True, updated_at=now_ms()))

    def reset(self, job_id: str, status: str = "overwritten") -> None:
        """Forget a job's manifest (its files were removed): ``--overwrite``."""
        with write_tx(self._engine) as conn:
            conn.execute(batch_fragments.delete().where(batch_fragments.c.job_id == job_id))
            conn.execute(batch_jobs.update().where(batch_jobs.c.id == job_id)
                         .values(status=status, updated_at=now_ms()))

    def finish_job(self, job_id: str, status: str, result: dict[str, Any]) -> BatchJobRecord:
        """Record how the job ended (``finished`` or ``failed``) and its figures; audited."""
        with write_tx(self._engine) as conn:
            row = conn.execute(sa.select(batch_jobs).where(batch_jobs.c.id == job_id)).first()
            if row is None:
                raise NotFound(JOB_NOT_FOUND.format(job_id=job_id))
            conn.execute(batch_jobs.update().where(batch_jobs.c.id == job_id).values(
                status=status, result=result, updated_at=now_ms()))
            append_event(conn, "batch.finished", f"models/{row.name}",
                         {"job": job_id, "version": row.version, "status": status,
                          "run_id": row.run_id, "rows": result.get("rows"),
                          "rejected": result.get("rejected"),
                          "manifest_sha256": result.get("manifest_sha256")})
            row = conn.execute(sa.select(batch_jobs).where(batch_jobs.c.id == job_id)).one()
        return BatchJobRecord.from_row(row)
