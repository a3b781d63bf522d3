"""SQLAlchemy engines tuned per backend. Private to ``airlock.store``.

An SQLite file is switched to WAL once, when the engine is made, under an exclusive lock on
``<db>.lock`` beside it: switching the journal mode takes a lock that SQLite's busy timeout
does not wait for, so several processes opening a new store at once would otherwise see
"database is locked". WAL mode is stored in the file, so connections never switch it again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from airlock.errors import DependencyMissing, UsageError

SQLITE_BUSY_TIMEOUT_S = 60.0
_WRITE = "airlock_write"
#: Bounded retry for the one statement SQLite gives no busy wait (the journal-mode switch),
#: for writers that do not take our lock file (another tool, or a platform without flock).
_WAL_RETRY_S = 30.0


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


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if missing), where the OS has flock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the bounded retry alone
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _journal_mode(path: Path) -> str:
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    finally:
        conn.close()


def _set_wal(path: Path) -> None:
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
    try:
        deadline, pause = time.monotonic() + _WAL_RETRY_S, 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL").fetchone()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
    finally:
        conn.close()


def prepare_sqlite_file(path: Path) -> None:
    """Create the database file's folder and put the file in WAL mode (once, locked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and _journal_mode(path) == "wal":
        return  # the common case: no lock file needed, so a read-only folder works too
    with _file_lock(path.with_name(path.name + ".lock")):
        if _journal_mode(path) != "wal":
            _set_wal(path)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    if url.database and url.database != ":memory:":
        prepare_sqlite_file(Path(url.database).expanduser())
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
