"""Runs, params, tags, metrics, artifacts and inputs in the metadata store."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from airlock.errors import InvalidInput, NotFound

from ._engine import read_tx, write_tx
from ._events import append_event, now_ms
from ._query import Clause, OrderBy
from ._records import ArtifactRecord, DatasetInfo, MetricPoint, RunRecord
from ._schema import (
    datasets,
    experiments,
    latest_metrics,
    metric_chunks,
    params,
    run_artifacts,
    run_inputs,
    runs,
    tags,
)

__all__ = ["PointRow", "RunStore", "insert_ignore", "save_dataset"]

#: One metric point as the store takes it: (key, value, step, timestamp in ms).
PointRow = tuple[str, float, int, int]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda c, v: c == v, "!=": lambda c, v: c != v, "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v, ">": lambda c, v: c > v, ">=": lambda c, v: c >= v,
    "like": lambda c, v: c.like(v),
}


def _db_value(value: float) -> float | None:
    return None if math.isnan(value) else value


def _py_value(value: float | None) -> float:
    return math.nan if value is None else float(value)


class RunStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- writes -------------------------------------------------------------------------
    def create_run(self, *, run_id: str, experiment: str, name: str | None, user: str,
                   command: str | None, code: dict[str, Any], env: dict[str, Any],
                   start_time: int) -> None:
        with write_tx(self._engine) as conn:
            exp_id = self._experiment_id(conn, experiment, create=True)
            conn.execute(runs.insert().values(
                id=run_id, experiment_id=exp_id, name=name, status="RUNNING",
                start_time=start_time, user=user, command=command, code=code, env=env,
            ))
            append_event(conn, "run.started", f"runs/{run_id}",
                         {"experiment": experiment, "name": name})

    def end_run(self, run_id: str, status: str, error: str | None = None) -> None:
        with write_tx(self._engine) as conn:
            res = conn.execute(runs.update().where(runs.c.id == run_id).values(
                status=status, end_time=now_ms(), error=error))
            if res.rowcount == 0:
                raise NotFound(f"run not found: {run_id}")
            append_event(conn, "run.finished", f"runs/{run_id}",
                         {"status": status, "error": error})

    def log_params(self, run_id: str, values: dict[str, str]) -> None:
        if not values:
            return
        with write_tx(self._engine) as conn:
            self._require_run(conn, run_id)
            existing = dict(conn.execute(
                sa.select(params.c.key, params.c.value).where(
                    params.c.run_id == run_id, params.c.key.in_(list(values)))
            ).all())
            for key, value in values.items():
                if key in existing and existing[key] != value:
                    raise InvalidInput(
                        f"param {key!r} of run {run_id} is already {existing[key]!r}; params "
                        f"are immutable, cannot change it to {value!r}"
                    )
            new = [{"run_id": run_id, "key": k, "value": v}
                   for k, v in values.items() if k not in existing]
            if new:
                conn.execute(params.insert(), new)

    def set_tags(self, run_id: str, values: dict[str, str]) -> None:
        if not values:
            return
        with write_tx(self._engine) as conn:
            self._require_run(conn, run_id)
            conn.execute(tags.delete().where(tags.c.run_id == run_id,
                                             tags.c.key.in_(list(values))))
            conn.execute(tags.insert(),
                         [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()])

    def log_metrics(self, run_id: str, points: Sequence[PointRow]) -> None:
        """Store a batch of points, one columnar chunk per key, and move each key's latest
        value (the point with the highest step, then the latest time)."""
        if not points:
            return
        by_key: dict[str, list[PointRow]] = defaultdict(list)
        for p in points:
            by_key[p[0]].append(p)
        chunks, latest = [], {}
        for key, pts in by_key.items():
            steps = np.fromiter((p[2] for p in pts), dtype="<i8", count=len(pts))
            values = np.fromiter((p[1] for p in pts), dtype="<f8", count=len(pts))
            stamps = np.fromiter((p[3] for p in pts), dtype="<i8", count=len(pts))
            chunks.append({"run_id": run_id, "key": key, "count": len(pts),
                           "steps": steps.tobytes(), "values": values.tobytes(),
                           "timestamps": stamps.tobytes()})
            i = int(np.lexsort((stamps, steps))[-1])
            latest[key] = (float(values[i]), int(steps[i]), int(stamps[i]))
        with write_tx(self._engine) as conn:
            self._require_run(conn, run_id)
            conn.execute(metric_chunks.insert(), chunks)
            self._move_latest(conn, run_id, latest)

    @staticmethod
    def _move_latest(conn: sa.Connection, run_id: str,
                     latest: dict[str, tuple[float, int, int]]) -> None:
        old = {r.key: (r.step, r.timestamp) for r in conn.execute(
            sa.select(latest_metrics.c.key, latest_metrics.c.step, latest_metrics.c.timestamp)
            .where(latest_metrics.c.run_id == run_id, latest_metrics.c.key.in_(list(latest))))}
        moved = {k: v for k, v in latest.items() if k not in old or v[1:] >= old[k]}
        if not moved:
            return
        conn.execute(latest_metrics.delete().where(
            latest_metrics.c.run_id == run_id, latest_metrics.c.key.in_(list(moved))))
        conn.execute(latest_metrics.insert(), [
            {"run_id": run_id, "key": k, "value": _db_value(v), "step": s, "timestamp": t}
            for k, (v, s, t) in moved.items()])

    def log_artifacts(self, run_id: str, records: Iterable[ArtifactRecord]) -> None:
        recs = list(records)
        with write_tx(self._engine) as conn:
            self._require_run(conn, run_id)
            conn.execute(run_artifacts.delete().where(
                run_artifacts.c.run_id == run_id,
                run_artifacts.c.path.in_([r.path for r in recs])))
            if recs:
                conn.execute(run_artifacts.insert(), [
                    {"run_id": run_id, "path": r.path, "size": r.size, "sha256": r.sha256}
                    for r in recs])

    def log_input(self, run_id: str, info: DatasetInfo, context: str) -> None:
        with write_tx(self._engine) as conn:
            self._require_run(conn, run_id)
            save_dataset(conn, info)
            conn.execute(run_inputs.delete().where(
                run_inputs.c.run_id == run_id, run_inputs.c.digest == info.digest,
                run_inputs.c.context == context))
            conn.execute(run_inputs.insert().values(
                run_id=run_id, digest=info.digest, context=context, name=info.name))

    # -- reads --------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord:
        with read_tx(self._engine) as conn:
            found = self._fetch(conn, sa.select(*self._run_cols()).where(runs.c.id == run_id),
                                details=True)
        if not found:
            raise NotFound(f"run not found: {run_id}")
        return found[0]

    def search(self, *, experiment: str | None = None, clauses: Sequence[Clause] = (),
               order_by: OrderBy | None = None, limit: int | None = None,
               run_ids: Sequence[str] | None = None, offset: int = 0) -> list[RunRecord]:
        q = _where(sa.select(*self._run_cols()), experiment, clauses, run_ids)
        q = _order(q, order_by).limit(limit).offset(offset or None)
        with read_tx(self._engine) as conn:
            if experiment is not None and self._experiment_id(conn, experiment) is None:
                raise NotFound(f"experiment not found: {experiment}")
            return self._fetch(conn, q, details=False)

    def count(self, *, experiment: str | None = None, clauses: Sequence[Clause] = ()) -> int:
        """How many runs ``search`` would return without a limit."""
        q = _where(sa.select(sa.func.count()).select_from(
            runs.join(experiments, runs.c.experiment_id == experiments.c.id)),
            experiment, clauses, None)
        with read_tx(self._engine) as conn:
            if experiment is not None and self._experiment_id(conn, experiment) is None:
                raise NotFound(f"experiment not found: {experiment}")
            return int(conn.scalar(q) or 0)

    def metric_ranges(self, run_ids: Sequence[str]) -> dict[str, dict[str, tuple[float, float]]]:
        """(min, max) over every point of every metric of ``run_ids`` (NaN points ignored)."""
        found: dict[str, dict[str, list[np.ndarray[Any, Any]]]] = {}
        q = (sa.select(metric_chunks.c.run_id, metric_chunks.c.key, metric_chunks.c["values"])
             .where(metric_chunks.c.run_id.in_(list(run_ids))))
        with read_tx(self._engine) as conn:
            for run_id, key, blob in conn.execute(q):
                found.setdefault(run_id, {}).setdefault(key, []).append(
                    np.frombuffer(blob, dtype="<f8"))
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for run_id, keys in found.items():
            for key, parts in keys.items():
                values = np.concatenate(parts)
                values = values[~np.isnan(values)]
                lo, hi = (float(values.min()), float(values.max())) if values.size else (
                    math.nan, math.nan)
                out.setdefault(run_id, {})[key] = (lo, hi)
        return out

    def metric_at_step(self, run_ids: Sequence[str], step: int
                       ) -> dict[str, dict[str, float]]:
        """Each metric's value at ``step`` for ``run_ids`` (of several points at that step,
        the last logged); a metric with no point at that step is left out."""
        found: dict[tuple[str, str], list[tuple[Any, Any, Any]]] = {}
        q = (sa.select(metric_chunks.c.run_id, metric_chunks.c.key, metric_chunks.c.steps,
                       metric_chunks.c["values"], metric_chunks.c.timestamps)
             .where(metric_chunks.c.run_id.in_(list(run_ids)))
             .order_by(metric_chunks.c.id))
        with read_tx(self._engine) as conn:
            for run_id, key, steps, values, stamps in conn.execute(q):
                found.setdefault((run_id, key), []).append((steps, values, stamps))
        out: dict[str, dict[str, float]] = {}
        for (run_id, key), chunks in found.items():
            steps = np.concatenate([np.frombuffer(c[0], dtype="<i8") for c in chunks])
            hit = np.flatnonzero(steps == step)
            if not hit.size:
                continue
            values = np.concatenate([np.frombuffer(c[1], dtype="<f8") for c in chunks])
            stamps = np.concatenate([np.frombuffer(c[2], dtype="<i8") for c in chunks])
            last = hit[np.lexsort((hit, stamps[hit]))[-1]]  # newest time, then logged last
            out.setdefault(run_id, {})[key] = float(values[last])
        return out

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Every point of ``key``, ordered by step then time (stable for ties)."""
        q = (sa.select(metric_chunks.c.steps, metric_chunks.c["values"],
                       metric_chunks.c.timestamps)
             .where(metric_chunks.c.run_id == run_id, metric_chunks.c.key == key)
             .order_by(metric_chunks.c.id))
        with read_tx(self._engine) as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(q).all()
        if not rows:
            return []
        steps = np.concatenate([np.frombuffer(r.steps, dtype="<i8") for r in rows])
        values = np.concatenate([np.frombuffer(r[1], dtype="<f8") for r in rows])
        stamps = np.concatenate([np.frombuffer(r.timestamps, dtype="<i8") for r in rows])
        order = np.lexsort((stamps, steps))
        return [MetricPoint(key, float(values[i]), int(steps[i]), int(stamps[i]))
                for i in order]

    def find_artifacts(self, suffixes: Sequence[str], *, limit: int = 1000
                       ) -> list[tuple[str, ArtifactRecord]]:
        """(run id, artifact) of the artifacts whose path ends with one of ``suffixes``
        (case-sensitive), the newest runs first, at most ``limit``."""
        if not suffixes:
            return []
        q = (sa.select(run_artifacts.c.run_id, run_artifacts.c.path, run_artifacts.c.size,
                       run_artifacts.c.sha256)
             .join(runs, runs.c.id == run_artifacts.c.run_id)
             .where(sa.or_(*(run_artifacts.c.path.endswith(s, autoescape=True)
                             for s in suffixes)))
             .order_by(runs.c.start_time.desc(), runs.c.id, run_artifacts.c.path)
             .limit(limit))
        with read_tx(self._engine) as conn:
            return [(r.run_id, ArtifactRecord(r.path, r.size, r.sha256))
                    for r in conn.execute(q)]

    def experiments(self) -> list[str]:
        with read_tx(self._engine) as conn:
            return list(conn.scalars(sa.select(experiments.c.name).order_by(experiments.c.name)))

    # -- helpers ------------------------------------------------------------------------
    @staticmethod
    def _run_cols() -> list[Any]:
        return [*runs.c, experiments.c.name.label("experiment")]

    def _fetch(self, conn: sa.Connection, q: Any, *, details: bool) -> list[RunRecord]:
        q = q.select_from(runs.join(experiments, runs.c.experiment_id == experiments.c.id))
        rows = conn.execute(q).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        par, tag, met = _group(conn, params, ids), _group(conn, tags, ids), _group(
            conn, latest_metrics, ids)
        arts: dict[str, list[ArtifactRecord]] = {}
        inputs: dict[str, list[dict[str, Any]]] = {}
        if details:
            for a in conn.execute(sa.select(run_artifacts).where(run_artifacts.c.run_id.in_(ids))
                                  .order_by(run_artifacts.c.path)):
                arts.setdefault(a.run_id, []).append(ArtifactRecord(a.path, a.size, a.sha256))
            for i in conn.execute(
                sa.select(run_inputs.c.run_id, run_inputs.c.context, run_inputs.c.name,
                          datasets.c.digest, datasets.c.uri, datasets.c.rows, datasets.c.schema)
                .join(datasets, datasets.c.digest == run_inputs.c.digest)
                .where(run_inputs.c.run_id.in_(ids))
            ):
                inputs.setdefault(i.run_id, []).append({
                    "name": i.name, "context": i.context, "digest": i.digest, "uri": i.uri,
                    "rows": i.rows, "schema": i.schema})
        return [RunRecord(
            id=r.id, experiment=r.experiment, name=r.name, status=r.status,
            start_time=r.start_time, end_time=r.end_time, error=r.error, user=r.user,
            command=r.command, code=r.code or {}, env=r.env or {},
            params=par.get(r.id, {}), tags=tag.get(r.id, {}),
            metrics={k: _py_value(v) for k, v in met.get(r.id, {}).items()},
            artifacts=arts.get(r.id, []), inputs=inputs.get(r.id, []),
        ) for r in rows]

    @staticmethod
    def _experiment_id(conn: sa.Connection, name: str, create: bool = False) -> int | None:
        query = sa.select(experiments.c.id).where(experiments.c.name == name)
        found = conn.scalar(query)
        if found is None and create:
            insert_ignore(conn, experiments, {"name": name, "created_at": now_ms()})
            found = conn.scalar(query)
        return None if found is None else int(found)

    @staticmethod
    def _require_run(conn: sa.Connection, run_id: str) -> None:
        if conn.scalar(sa.select(runs.c.id).where(runs.c.id == run_id)) is None:
            raise NotFound(f"run not found: {run_id}")


def insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
    """INSERT that does nothing when the primary or a unique key exists (race-free on every
    backend: two writers recording the same dataset or experiment both succeed)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())
    else:  # pragma: no cover - other backends: check first (the write lock covers SQLite)
        pk = [c for c in table.primary_key.columns]
        if conn.scalar(sa.select(pk[0]).where(*[c == values[c.name] for c in pk])) is None:
            conn.execute(table.insert().values(**values))


def save_dataset(conn: sa.Connection, info: DatasetInfo) -> None:
    """Record a dataset fingerprint once (same content, same digest)."""
    insert_ignore(conn, datasets, {"digest": info.digest, "name": info.name, "uri": info.uri,
                                   "schema": info.schema, "rows": info.rows,
                                   "created_at": now_ms()})


def _group(conn: sa.Connection, table: sa.Table, ids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    q = sa.select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(ids))
    for run_id, key, value in conn.execute(q):
        out.setdefault(run_id, {})[key] = value
    return out


def _where(q: Any, experiment: str | None, clauses: Sequence[Clause],
           run_ids: Sequence[str] | None) -> Any:
    if experiment is not None:
        q = q.where(experiments.c.name == experiment)
    if run_ids is not None:
        q = q.where(runs.c.id.in_(list(run_ids)))
    for clause in clauses:
        q = q.where(_clause_sql(clause))
    return q


def _clause_sql(c: Clause) -> Any:
    op = _OPS[c.op]
    if c.entity == "attributes":
        return op(runs.c[c.key], c.value)
    table = {"metrics": latest_metrics, "params": params, "tags": tags}[c.entity]
    return runs.c.id.in_(sa.select(table.c.run_id).where(table.c.key == c.key,
                                                          op(table.c.value, c.value)))


def _order(q: Any, order: OrderBy | None) -> Any:
    if order is None:
        return q.order_by(runs.c.start_time.desc(), runs.c.id)
    if order.entity == "attributes":
        col: Any = runs.c[order.key]
    else:
        table = {"metrics": latest_metrics, "params": params, "tags": tags}[order.entity]
        col = (sa.select(table.c.value)
               .where(table.c.run_id == runs.c.id, table.c.key == order.key)
               .scalar_subquery())
    col = col.desc() if order.descending else col.asc()
    return q.order_by(col.nulls_last(), runs.c.start_time.desc(), runs.c.id)
