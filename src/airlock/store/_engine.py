"""SQLAlchemy engines tuned per backend. Private to ``airlock.store``.

An SQLite file is switched to WAL once, when the engine is made, under an exclusive lock on
``<db>.lock`` beside it: switching the journal mode takes a lock that SQLite's busy timeout
does not wait for, so several processes opening a new store at once would otherwise see
"database is locked". WAL mode is stored in the file, so connections never switch it again.

A database server's engine pings a pooled connection before use (one found dead is replaced
silently), and turns a connection lost mid-call into one StoreUnavailable that says what
became of the call's work: a read changed nothing, a write was rolled back, a commit's outcome
is unknown (:func:`_connection_faults`).
"""

from __future__ import annotations

import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from airlock.errors import DependencyMissing, StoreUnavailable, UsageError

SQLITE_BUSY_TIMEOUT_S = 60.0
_WRITE = "airlock_write"
#: Bounded retry for the one statement SQLite gives no busy wait (the journal-mode switch),
#: for writers that do not take our lock file (another tool, or a platform without flock).
_WAL_RETRY_S = 30.0
#: ``conn.info`` key under which append_event leaves the new chain head for after_commit.
CHAIN_HEAD = "airlock_chain_head"
_after_commit: weakref.WeakKeyDictionary[sa.Engine, Callable[[int, str], None]] = (
    weakref.WeakKeyDictionary())


def on_chain_commit(engine: sa.Engine, fn: Callable[[int, str], None]) -> None:
    """Call ``fn(seq, hash)`` after every committed write transaction that appended events."""
    _after_commit[engine] = fn


def make_engine(uri: str) -> sa.Engine:
    """An engine for ``uri``; SQLite gets WAL, a long busy timeout and write-locking BEGINs."""
    try:
        url = sa.make_url(uri)
    except sa.exc.ArgumentError as exc:
        raise UsageError(f"AIRLOCK_STORE_URI is not a database URL: {uri!r}") from exc
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    try:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4,
                                  connect_args=_server_connect_args(url))
    except ModuleNotFoundError as exc:
        raise DependencyMissing(
            f"the store URI {url.render_as_string(hide_password=True)} needs the driver "
            f"{exc.name!r}: pip install 'airlock[postgres]'"
        ) from exc
    sa.event.listen(engine, "handle_error", _connection_faults)
    return engine


#: libpq settings a store URI may set itself (``?connect_timeout=…``): a server that never
#: answers the handshake fails the connect after 10 s, and a connection that went quiet (a
#: network partition) is found dead by TCP keepalives within about a minute, not hours.
_LIBPQ_DEFAULTS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                   "keepalives_interval": 10, "keepalives_count": 3}

#: What a caller hears when the connection to a database server is lost or cannot be made.
CONNECTION_LOST = ("lost the connection to the store {where} {during} ({fault}); {outcome}; "
                   "the next call reconnects")
CANNOT_CONNECT = "cannot use the store {where}: {fault}"  # as store_faults says it
_PHASE = "airlock_phase"  # conn.info: "write" inside write_tx, "commit" while it commits
_OUTCOME = {
    None: ("during a read", "nothing was changed"),
    "write": ("during a write", "its transaction was rolled back and nothing of it was "
                                "recorded"),
    "commit": ("while a write was committing", "whether it was recorded is unknown: check "
                                               "before you try it again"),
}


def _server_connect_args(url: sa.URL) -> dict[str, Any]:
    if not url.get_backend_name().startswith("postgresql"):
        return {}
    return {k: v for k, v in _LIBPQ_DEFAULTS.items() if k not in url.query}


def _connection_faults(ctx: Any) -> None:
    """The engine's ``handle_error`` hook: a lost or refused connection (server restarted,
    backend terminated, network cut) becomes one StoreUnavailable saying what happened to
    the call's work. SQLAlchemy has invalidated the pool by then, so the next call opens a
    fresh connection; a connection found dead before use (pre-ping) is replaced silently."""
    if getattr(ctx, "is_pre_ping", False):
        return
    engine = ctx.engine
    where = engine.url.render_as_string(hide_password=True) if engine is not None else "?"
    fault = _first_line(ctx.original_exception)
    if ctx.connection is None and isinstance(ctx.sqlalchemy_exception, sa.exc.OperationalError):
        raise StoreUnavailable(CANNOT_CONNECT.format(where=where, fault=fault))
    if not ctx.is_disconnect:
        return
    phase = ctx.connection.info.get(_PHASE) if ctx.connection is not None else None
    during, outcome = _OUTCOME.get(phase, _OUTCOME[None])
    raise StoreUnavailable(CONNECTION_LOST.format(where=where, during=during, fault=fault,
                                                  outcome=outcome))


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


def _read_only(path: Path) -> bool:
    """An existing database we may not write (the file or its folder): open it read-only, so
    it can still be listed and verified."""
    import os

    return path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    path = None if url.database in (None, "", ":memory:") else Path(str(url.database)).expanduser()
    options: dict[str, Any] = {}
    if path is not None and _read_only(path):
        # WAL needs the -shm file; in a folder we cannot write it may not be created, and
        # then only an immutable open can read the file (nobody can write it there either).
        shm = path.with_name(path.name + "-shm")
        immutable = "&immutable=1" if not shm.exists() else ""
        target = f"{path.absolute().as_uri()}?mode=ro{immutable}"
        options["creator"] = lambda: sqlite3.connect(
            target, uri=True, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False)
    elif path is not None:
        prepare_sqlite_file(path)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        poolclass=sa.pool.QueuePool,
        pool_size=2,
        max_overflow=8,
        **options,
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


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def store_faults(where: str) -> Iterator[None]:
    """Turn a database that cannot be opened or read (corrupt, not a database, locked, a
    folder without permission) into one StoreUnavailable line naming it and the fault."""
    try:
        yield
    except PermissionError as exc:
        raise StoreUnavailable(
            f"cannot use the store {where}: permission denied on {exc.filename or where}"
        ) from exc
    except (sa.exc.DatabaseError, sqlite3.DatabaseError) as exc:
        raise StoreUnavailable(f"cannot use the store {where}: {_first_line(exc)}") from exc


@contextmanager
def write_tx(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction: committed on success, rolled back on any exception."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            conn.info.pop(CHAIN_HEAD, None)
            conn.info[_PHASE] = "write"  # what a lost connection did to this write
            try:
                with conn.begin():
                    yield conn
                    conn.info[_PHASE] = "commit"
            finally:
                conn.info.pop(_PHASE, None)
            head = conn.info.pop(CHAIN_HEAD, None)
    except sa.exc.OperationalError as exc:  # read-only, disk full, locked past the timeout
        where = engine.url.render_as_string(hide_password=True)
        raise StoreUnavailable(f"cannot write the store {where}: {_first_line(exc)}") from exc
    if head is not None and (after := _after_commit.get(engine)) is not None:
        after(*head)


@contextmanager
def read_tx(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn
