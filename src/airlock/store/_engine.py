"""SQLAlchemy engines tuned per backend. Private to ``airlock.store``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from airlock.errors import DependencyMissing, UsageError

SQLITE_BUSY_TIMEOUT_S = 60.0
_WRITE = "airlock_write"


def make_engine(uri: str) -> sa.Engine:
    """An engine for ``uri``; SQLite gets WAL, a long busy timeout and write-locking BEGINs."""
    try:
        url = sa.make_url(uri)
    except sa.exc.ArgumentError as exc:
        raise UsageError(f"AIRLOCK_STORE_URI is not a database URL: {uri!r}") from exc
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    try:
        return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)
    except ModuleNotFoundError as exc:
        raise DependencyMissing(
            f"the store URI {url.render_as_string(hide_password=True)} needs the driver "
            f"{exc.name!r}: pip install 'airlock[postgres]'"
        ) from exc


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        poolclass=sa.pool.QueuePool,
        pool_size=2,
        max_overflow=8,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # A write transaction takes the write lock up front, so two writers never deadlock
        # upgrading a read lock ("database is locked"); they queue on the busy timeout instead.
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def write_tx(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction: committed on success, rolled back on any exception."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def read_tx(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn
