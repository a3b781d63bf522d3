"""Registered models, their numbered versions, aliases and lineage in the metadata store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from airlock._config import settings
from airlock.errors import NotFound

from ._engine import read_tx, write_tx
from ._events import append_event, lock_chain, now_ms
from ._records import DatasetInfo, ModelRecord, VersionRecord
from ._runs import save_dataset
from ._schema import aliases, model_versions, models, runs, version_inputs
from ._subjects import MODELS, check_free, move_alias

__all__ = ["ModelStore", "move_alias"]


class ModelStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- writes -------------------------------------------------------------------------
    def register(self, *, name: str, flavor: str, artifact_uri: str, manifest: dict[str, Any],
                 run_id: str | None, description: str | None,
                 datasets: Sequence[DatasetInfo] = ()) -> VersionRecord:
        """Create the model if new and add the next version number, in one transaction."""
        with write_tx(self._engine) as conn:
            # The event chain's lock comes first: concurrent registrations queue here, so
            # version numbers are allocated one at a time on every backend.
            lock_chain(conn)
            check_free(conn, name, MODELS)
            if run_id is not None and conn.scalar(
                    sa.select(runs.c.id).where(runs.c.id == run_id)) is None:
                raise NotFound(f"run not found: {run_id}")
            now = now_ms()
            if conn.scalar(sa.select(models.c.name).where(models.c.name == name)) is None:
                conn.execute(models.insert().values(
                    name=name, description=None, created_at=now, updated_at=now))
            version = int(conn.scalar(sa.select(sa.func.coalesce(sa.func.max(
                model_versions.c.version), 0)).where(model_versions.c.name == name)) or 0) + 1
            row: dict[str, Any] = {"name": name, "version": version, "flavor": flavor,
                   "artifact_uri": artifact_uri, "manifest": manifest, "run_id": run_id,
                   "description": description, "created_at": now,
                   "created_by": settings().actor}
            conn.execute(model_versions.insert().values(**row))
            for info in {d.digest: d for d in datasets}.values():
                save_dataset(conn, info)
                conn.execute(version_inputs.insert().values(name=name, version=version,
                                                            digest=info.digest))
            conn.execute(models.update().where(models.c.name == name).values(updated_at=now))
            append_event(conn, "version.registered", f"models/{name}",
                         {"version": version, "flavor": flavor, "run_id": run_id,
                          "sha256": manifest.get("sha256")})
        return VersionRecord(**row, aliases=[])

    def set_alias(self, name: str, alias: str, version: int) -> tuple[int | None, int]:
        """Point ``alias`` at ``version``; returns (previous version or None, version).
        A protected alias only moves through promotion (EvaluationStore.promote)."""
        with write_tx(self._engine) as conn:
            before = move_alias(conn, name, alias, version, {}, allow_protected=False)
        return before, version

    def delete_alias(self, name: str, alias: str) -> int:
        with write_tx(self._engine) as conn:
            before = conn.scalar(sa.select(aliases.c.version).where(
                aliases.c.name == name, aliases.c.alias == alias))
            if before is None:
                raise NotFound(f"alias not found: {name}@{alias}")
            conn.execute(aliases.delete().where(aliases.c.name == name,
                                                aliases.c.alias == alias))
            append_event(conn, "alias.removed", f"models/{name}",
                         {"alias": alias, "from": before, "to": None})
        return int(before)

    # -- reads --------------------------------------------------------------------------
    def get_by_alias(self, name: str, alias: str) -> VersionRecord:
        """The version an alias points at, read in one round trip on the hot path."""
        q = (sa.select(model_versions)
             .join(aliases, sa.and_(aliases.c.name == model_versions.c.name,
                                    aliases.c.version == model_versions.c.version))
             .where(aliases.c.name == name, aliases.c.alias == alias))
        with self._engine.connect() as conn:
            row = conn.execute(q).first()
            if row is None:
                self._require_model(conn, name)
                raise NotFound(f"alias not found: {name}@{alias}")
            names = list(conn.scalars(sa.select(aliases.c.alias).where(
                aliases.c.name == name, aliases.c.version == row.version)
                .order_by(aliases.c.alias)))
        return VersionRecord(**row._asdict(), aliases=names)

    def resolve_alias(self, name: str, alias: str) -> int:
        with self._engine.connect() as conn:
            version = conn.scalar(sa.select(aliases.c.version).where(
                aliases.c.name == name, aliases.c.alias == alias))
            if version is None:
                self._require_model(conn, name)
                raise NotFound(f"alias not found: {name}@{alias}")
        return int(version)

    def get_version(self, name: str, version: int) -> VersionRecord:
        with read_tx(self._engine) as conn:
            found = self._versions(conn, name, version)
            if not found:
                self._require_model(conn, name)
                raise NotFound(f"model version not found: {name}@{version}")
        return found[0]

    def list_versions(self, name: str) -> list[VersionRecord]:
        with read_tx(self._engine) as conn:
            self._require_model(conn, name)
            return self._versions(conn, name, None)

    def list_models(self) -> list[ModelRecord]:
        with read_tx(self._engine) as conn:
            latest = dict(conn.execute(sa.select(
                model_versions.c.name, sa.func.max(model_versions.c.version)
            ).group_by(model_versions.c.name)).all())
            al: dict[str, dict[str, int]] = {}
            for a in conn.execute(sa.select(aliases).order_by(aliases.c.alias)):
                al.setdefault(a.name, {})[a.alias] = a.version
            return [ModelRecord(m.name, m.description, m.created_at, m.updated_at,
                                latest.get(m.name), al.get(m.name, {}))
                    for m in conn.execute(sa.select(models).order_by(models.c.name))]

    def dataset_digests(self, name: str, version: int) -> list[str]:
        with read_tx(self._engine) as conn:
            return list(conn.scalars(sa.select(version_inputs.c.digest).where(
                version_inputs.c.name == name, version_inputs.c.version == version)))

    # -- helpers ------------------------------------------------------------------------
    @staticmethod
    def _versions(conn: sa.Connection, name: str, version: int | None) -> list[VersionRecord]:
        q = sa.select(model_versions).where(model_versions.c.name == name)
        aq = sa.select(aliases.c.version, aliases.c.alias).where(aliases.c.name == name)
        if version is not None:
            q = q.where(model_versions.c.version == version)
            aq = aq.where(aliases.c.version == version)
        al: dict[int, list[str]] = {}
        for v, a in conn.execute(aq.order_by(aliases.c.alias)):
            al.setdefault(v, []).append(a)
        return [VersionRecord(**r._asdict(), aliases=al.get(r.version, []))
                for r in conn.execute(q.order_by(model_versions.c.version))]

    @staticmethod
    def _require_model(conn: sa.Connection, name: str) -> None:
        if conn.scalar(sa.select(models.c.name).where(models.c.name == name)) is None:
            raise NotFound(f"model not found: {name}")
