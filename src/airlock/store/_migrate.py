"""Schema versions (Alembic). The store is created on first use and migrated on request.

A store whose revision this airlock does not know was written by a newer airlock: it is
refused with a clear error and never touched.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from airlock.errors import StoreVersionError

from ._engine import write_tx

#: The newest schema revision this airlock knows; a test checks it equals Alembic's head.
HEAD_REVISION = "0007_rollouts"
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005_prompts", "0006_experiments",
                   "0007_rollouts")
_SCRIPTS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x6169726C6F636B  # "airlock"


def current_revision(engine: sa.Engine) -> str | None:
    """The store's revision, or None for an empty database."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])


def ensure_current(engine: sa.Engine, where: str) -> None:
    """Create an empty store, accept a current one, refuse anything else (clearly)."""
    rev = current_revision(engine)
    if rev == HEAD_REVISION:
        return
    if rev is None:
        upgrade(engine)
        return
    if rev not in KNOWN_REVISIONS:
        raise StoreVersionError(
            f"the store at {where} has schema revision {rev!r}, written by a newer airlock; "
            "upgrade airlock to use it (the store was not modified)"
        )
    raise StoreVersionError(
        f"the store at {where} has schema revision {rev!r}; run `airlock store upgrade` "
        f"to migrate it to {HEAD_REVISION!r}"
    )


def upgrade(engine: sa.Engine, target: str = "head") -> tuple[str | None, str]:
    """Migrate to ``target`` (the head revision by default); returns (from, to).
    Refuses a newer store."""
    from alembic import command
    from alembic.config import Config

    before = current_revision(engine)
    if before is not None and before not in KNOWN_REVISIONS:
        raise StoreVersionError(
            f"the store has schema revision {before!r}, written by a newer airlock; "
            "upgrade airlock to use it (the store was not modified)"
        )
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    with write_tx(engine) as conn:
        # Several processes may open a new store at once: on PostgreSQL they queue on an
        # advisory lock (SQLite's write lock does the same) and the later ones find the
        # schema in place, so Alembic's upgrade is a no-op for them.
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return before, HEAD_REVISION if target == "head" else target
