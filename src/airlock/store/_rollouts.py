"""Progressive rollouts in the store: each rollout's state, and per endpoint the routes its
server announced, the weights a rollout set, the active rollout and the controller's lease.

A serving endpoint reads :meth:`RolloutStore.weights` on each reload (one primary-key read),
so weights move without a restart, as alias moves do. Every state change of a rollout is an
audit event on ``endpoints/NAME`` in the same transaction as the change. A change made by a
controller names its lease (``holder``): it is refused once another controller holds the
endpoint, so two controllers never drive one endpoint even when a lease expired under one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from airlock._config import settings
from airlock.errors import NotFound, UsageError

from ._engine import read_tx, write_tx
from ._events import append_event, now_ms
from ._records import Versioned
from ._schema import rollout_endpoints, rollouts

__all__ = ["ACTIVE_STATUSES", "RolloutRecord", "RolloutStore"]

ACTIVE_STATUSES = ("running", "awaiting-approval")
ROLLOUT_NOT_FOUND = "rollout not found: {rollout_id}"
OVERLAPPING = ("endpoint {endpoint} already has rollout {active} of {ref} ({status}): abort "
               "it first (airlock rollout abort {endpoint} --reason …)")
LEASE_LOST = ("rollout {rollout_id}: the lease of endpoint {endpoint} is held by another "
              "controller ({holder}); nothing was changed")
NOT_ACTIVE = "rollout {rollout_id} is {status}: nothing was changed"


@dataclass(frozen=True, slots=True)
class RolloutRecord(Versioned):
    id: str
    endpoint: str
    name: str
    version: int
    control_route: str
    candidate_route: str
    alias: str
    steps: list[float]
    step: int
    interval_s: float
    rules: dict[str, Any]
    rules_sha256: str
    status: str
    weights: dict[str, float]
    step_started_at: int
    windows: int
    verdict: dict[str, Any] | None
    reason: str | None
    created_at: int
    updated_at: int
    created_by: str

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": self.ref, "active": self.active}


class RolloutStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- what serving reads and announces ------------------------------------------------
    def weights(self, endpoint: str) -> dict[str, float] | None:
        """The route weights a rollout set for ``endpoint`` (None: the config's own)."""
        with read_tx(self._engine) as conn:
            value = conn.execute(sa.select(rollout_endpoints.c.weights).where(
                rollout_endpoints.c.endpoint == endpoint)).scalar()
        return {str(k): float(v) for k, v in value.items()} if value else None

    def announce(self, endpoint: str, routes: list[dict[str, Any]],
                 reload_interval_s: float) -> None:
        """A server of ``endpoint`` starts: record its routes (name, model, weight)."""
        self._upsert(endpoint, {"routes": routes, "reload_interval_s": reload_interval_s})

    def endpoint(self, endpoint: str) -> dict[str, Any] | None:
        """``{"routes", "reload_interval_s", "weights", "active", "holder", "lease_until"}``
        of ``endpoint``, or None when no server announced it and no rollout touched it."""
        with read_tx(self._engine) as conn:
            row = conn.execute(sa.select(rollout_endpoints).where(
                rollout_endpoints.c.endpoint == endpoint)).first()
        return None if row is None else dict(row._mapping)

    def _upsert(self, endpoint: str, values: dict[str, Any]) -> None:
        for attempt in range(2):  # two first writers on PostgreSQL: the loser updates
            try:
                with write_tx(self._engine) as conn:
                    found = _lock_endpoint(conn, endpoint)
                    if found is None:
                        conn.execute(rollout_endpoints.insert().values(
                            endpoint=endpoint, updated_at=now_ms(), **values))
                    else:
                        conn.execute(rollout_endpoints.update().where(
                            rollout_endpoints.c.endpoint == endpoint).values(
                            updated_at=now_ms(), **values))
                return
            except sa.exc.IntegrityError:
                if attempt:
                    raise

    # -- the lease -----------------------------------------------------------------------
    def acquire(self, endpoint: str, holder: str, ttl_s: float) -> str | None:
        """Take or renew the lease of ``endpoint`` for ``ttl_s`` seconds; None when taken,
        else the holder that has it now."""
        now = now_ms()
        with write_tx(self._engine) as conn:
            row = _lock_endpoint(conn, endpoint)
            if row is None:
                conn.execute(rollout_endpoints.insert().values(
                    endpoint=endpoint, holder=holder, lease_until=now + int(ttl_s * 1000),
                    updated_at=now))
                return None
            if row.holder not in (None, holder) and (row.lease_until or 0) > now:
                return str(row.holder)
            conn.execute(rollout_endpoints.update().where(
                rollout_endpoints.c.endpoint == endpoint).values(
                holder=holder, lease_until=now + int(ttl_s * 1000), updated_at=now))
        return None

    def release(self, endpoint: str, holder: str) -> None:
        with write_tx(self._engine) as conn:
            conn.execute(rollout_endpoints.update().where(
                rollout_endpoints.c.endpoint == endpoint,
                rollout_endpoints.c.holder == holder).values(
                holder=None, lease_until=None, updated_at=now_ms()))

    # -- rollouts ------------------------------------------------------------------------
    def start(self, *, rollout_id: str, endpoint: str, name: str, version: int,
              control_route: str, candidate_route: str, alias: str, steps: list[float],
              interval_s: float, rules: dict[str, Any], rules_sha256: str,
              weights: dict[str, float]) -> RolloutRecord:
        """Record a new rollout at its first step and set its weights; refused (UsageError,
        nothing written) while the endpoint has an active rollout. Audited."""
        at = now_ms()
        values = {"id": rollout_id, "endpoint": endpoint, "name": name, "version": version,
                  "control_route": control_route, "candidate_route": candidate_route,
                  "alias": alias, "steps": steps, "step": 0, "interval_s": interval_s,
                  "rules": rules, "rules_sha256": rules_sha256, "status": "running",
                  "weights": weights, "step_started_at": at, "windows": 0, "verdict": None,
                  "reason": None, "created_at": at, "updated_at": at,
                  "created_by": settings().actor}
        with write_tx(self._engine) as conn:
            row = _lock_endpoint(conn, endpoint)
            if row is not None and row.active is not None:
                active = _get(conn, str(row.active))
                if active is not None and active.active:
                    raise UsageError(OVERLAPPING.format(endpoint=endpoint, active=active.id,
                                                        ref=active.ref, status=active.status))
            conn.execute(rollouts.insert().values(**values))
            ep = {"weights": weights, "active": rollout_id, "updated_at": at}
            if row is None:
                conn.execute(rollout_endpoints.insert().values(endpoint=endpoint, **ep))
            else:
                conn.execute(rollout_endpoints.update().where(
                    rollout_endpoints.c.endpoint == endpoint).values(**ep))
            append_event(conn, "rollout.started", f"endpoints/{endpoint}",
                         {"rollout": rollout_id, "candidate": f"{name}@{version}",
                          "steps": steps, "interval_s": interval_s, "weights": weights,
                          "rules_sha256": rules_sha256})
            return RolloutRecord.from_row(conn.execute(sa.select(rollouts).where(
                rollouts.c.id == rollout_id)).one())

    def get(self, rollout_id: str) -> RolloutRecord:
        with read_tx(self._engine) as conn:
            found = _get(conn, rollout_id)
        if found is None:
            raise NotFound(ROLLOUT_NOT_FOUND.format(rollout_id=rollout_id))
        return found

    def for_endpoint(self, endpoint: str) -> list[RolloutRecord]:
        """Every rollout of ``endpoint``, oldest first."""
        with read_tx(self._engine) as conn:
            rows = conn.execute(sa.select(rollouts).where(rollouts.c.endpoint == endpoint)
                                .order_by(rollouts.c.created_at, rollouts.c.id))
            return [RolloutRecord.from_row(r) for r in rows]

    def active(self) -> list[RolloutRecord]:
        """Every active rollout (running or awaiting approval), oldest first."""
        with read_tx(self._engine) as conn:
            rows = conn.execute(sa.select(rollouts).where(
                rollouts.c.status.in_(ACTIVE_STATUSES))
                .order_by(rollouts.c.created_at, rollouts.c.id))
            return [RolloutRecord.from_row(r) for r in rows]

    def update(self, rollout_id: str, *, action: str | None, payload: dict[str, Any],
               holder: str | None, endpoint_weights: dict[str, float] | bool | None = False,
               **values: Any) -> RolloutRecord:
        """Change an active rollout (``values``: status, step, weights, step_started_at,
        windows, verdict, reason) and, unless ``endpoint_weights`` is False, the weights the
        endpoint serves (None: back to the config's). With ``action``, an audit event with
        ``payload`` in the same transaction. ``holder``: the controller's lease, which must
        still be its own (UsageError otherwise)."""
        with write_tx(self._engine) as conn:
            current = _get(conn, rollout_id)
            if current is None:
                raise NotFound(ROLLOUT_NOT_FOUND.format(rollout_id=rollout_id))
            row = _lock_endpoint(conn, current.endpoint)
            if holder is not None and (row is None or row.holder != holder):
                raise UsageError(LEASE_LOST.format(
                    rollout_id=rollout_id, endpoint=current.endpoint,
                    holder=None if row is None else row.holder))
            if not current.active:
                raise UsageError(NOT_ACTIVE.format(rollout_id=rollout_id,
                                                 status=current.status))
            at = now_ms()
            conn.execute(rollouts.update().where(rollouts.c.id == rollout_id)
                         .values(updated_at=at, **values))
            ep: dict[str, Any] = {"updated_at": at}
            if endpoint_weights is not False:
                ep["weights"] = endpoint_weights
            if values.get("status", current.status) not in ACTIVE_STATUSES:
                ep["active"] = None
            conn.execute(rollout_endpoints.update().where(
                rollout_endpoints.c.endpoint == current.endpoint).values(**ep))
            if action is not None:
                append_event(conn, action, f"endpoints/{current.endpoint}",
                             {"rollout": rollout_id, "candidate": current.ref, **payload})
            return RolloutRecord.from_row(conn.execute(sa.select(rollouts).where(
                rollouts.c.id == rollout_id)).one())


def _lock_endpoint(conn: sa.Connection, endpoint: str) -> Any:
    return conn.execute(sa.select(rollout_endpoints).where(
        rollout_endpoints.c.endpoint == endpoint).with_for_update()).first()


def _get(conn: sa.Connection, rollout_id: str) -> RolloutRecord | None:
    row = conn.execute(sa.select(rollouts).where(rollouts.c.id == rollout_id)).first()
    return None if row is None else RolloutRecord.from_row(row)
