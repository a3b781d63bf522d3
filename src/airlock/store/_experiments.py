"""Experiment results in the store: one row per A/B analysis of an endpoint's traffic.

A row keeps what the analysis read (endpoint, window, the endpoint config's hash, the
versions per variant) and its whole result; saving one is an audit event on the endpoint's
subject (``endpoints/NAME``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from airlock._config import settings
from airlock.errors import NotFound

from ._engine import read_tx, write_tx
from ._events import append_event, now_ms
from ._records import Record
from ._schema import experiment_results

__all__ = ["EXPERIMENT_NOT_FOUND", "ExperimentRecord", "ExperimentResultStore"]

EXPERIMENT_NOT_FOUND = "experiment result not found: {id}"


@dataclass(frozen=True, slots=True)
class ExperimentRecord(Record):
    id: str
    endpoint: str
    config_hash: str | None
    since: int | None
    until: int | None
    control: str
    versions: dict[str, Any]
    result: dict[str, Any]
    created_at: int
    created_by: str


class ExperimentResultStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def save(self, *, endpoint: str, result: dict[str, Any], config_hash: str | None,
             since: int | None, until: int | None, control: str,
             versions: dict[str, Any]) -> ExperimentRecord:
        """Store one analysis and its audit event (``experiment.analyzed``) together."""
        rid = f"exp-{uuid.uuid4().hex[:16]}"
        at = now_ms()
        srm = result.get("srm") or {}
        with write_tx(self._engine) as conn:
            conn.execute(experiment_results.insert().values(
                id=rid, endpoint=endpoint, config_hash=config_hash, since=since, until=until,
                control=control, versions=versions, result=result, created_at=at,
                created_by=settings().actor))
            append_event(conn, "experiment.analyzed", f"endpoints/{endpoint}", {
                "experiment": rid, "config_hash": config_hash, "since": since,
                "until": until, "control": control, "versions": versions,
                "srm_flagged": bool(srm.get("flagged")),
                "guardrail_breached": bool(result.get("guardrail_breached")),
                "significant": sorted({f"{c['variant']}:{c['metric']}"
                                       for c in result.get("comparisons", [])
                                       if c.get("significant")})})
            row = conn.execute(sa.select(experiment_results)
                               .where(experiment_results.c.id == rid)).one()
        return ExperimentRecord.from_row(row)

    def get(self, result_id: str) -> ExperimentRecord:
        with read_tx(self._engine) as conn:
            row = conn.execute(sa.select(experiment_results)
                               .where(experiment_results.c.id == result_id)).first()
        if row is None:
            raise NotFound(EXPERIMENT_NOT_FOUND.format(id=result_id))
        return ExperimentRecord.from_row(row)

    def latest(self, endpoint: str, limit: int = 20) -> list[ExperimentRecord]:
        """The endpoint's analyses, newest first."""
        with read_tx(self._engine) as conn:
            rows = conn.execute(
                sa.select(experiment_results).where(experiment_results.c.endpoint == endpoint)
                .order_by(experiment_results.c.created_at.desc(),
                          experiment_results.c.id.desc()).limit(limit)).all()
        return [ExperimentRecord.from_row(r) for r in rows]
