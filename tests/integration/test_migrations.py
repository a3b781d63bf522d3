"""The Alembic migrations and the table definitions must never drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import airlock.store._migrate as migrate
from airlock.errors import StoreVersionError
from airlock.store import HEAD_REVISION, get_store, upgrade_store
from airlock.store._engine import make_engine
from airlock.store._schema import metadata


def test_head_revision_constant_matches_alembic() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == HEAD_REVISION
    assert set(migrate.KNOWN_REVISIONS) == {r.revision for r in script.walk_revisions()}


def test_migrated_schema_equals_table_definitions(backend: str) -> None:
    store = get_store()  # creates the store through the migrations
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_empty_store_created_on_first_use_and_upgrade_is_idempotent(backend: str) -> None:
    store = get_store()
    with store.engine.connect() as conn:
        rev = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        head = conn.exec_driver_sql("SELECT seq FROM event_head WHERE id = 1").scalar()
    assert rev == HEAD_REVISION and head == 0
    assert upgrade_store() == (HEAD_REVISION, HEAD_REVISION)


def test_older_store_asks_for_upgrade_then_migrates_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO experiments (name, created_at) VALUES ('kept', 1)"))
    with pytest.raises(StoreVersionError, match="airlock store upgrade"):
        migrate.ensure_current(engine, "old.db")
    assert migrate.upgrade(engine) == ("0001", HEAD_REVISION)
    migrate.ensure_current(engine, "old.db")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM experiments")).scalar() == "kept"
        assert sa.inspect(conn).has_table("evaluations")
    engine.dispose()


def test_newer_store_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    before = path.read_bytes()
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(StoreVersionError, match="newer airlock"):
        migrate.ensure_current(engine, str(path))
    with pytest.raises(StoreVersionError, match="newer airlock"):
        migrate.upgrade(engine)
    engine.dispose()
    assert path.read_bytes() == before
