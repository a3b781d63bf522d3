"""PostgreSQL with faults (issue "Hardening…", not yet covered): a connection lost in the
middle of a write or a read, or idle in the pool. The write is all or nothing, the caller gets
one StoreUnavailable saying what became of its work, and the next call works.

A call is caught in flight by a lock: a second connection holds ``LOCK TABLE`` on a table the
call needs, the call's backend waits on it (seen in ``pg_stat_activity``), and is terminated
with ``pg_terminate_backend`` while it waits, after the call's earlier statements ran."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from tests.integration.serving_helpers import failing_model

import airlock
from airlock.errors import StoreUnavailable
from airlock.store import close_stores, get_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A fresh database as the store, a model with versions 1 and 2 (prod → 1), and an
    admin engine on the same database for the locks and the terminations."""
    monkeypatch.setenv("AIRLOCK_STORE_URI", postgres_uri)
    for _ in range(2):
        airlock.register_model("m", failing_model)
    airlock.set_alias("m@1", "prod")
    admin = sa.create_engine(postgres_uri, isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    locker = sa.create_engine(postgres_uri, poolclass=sa.pool.NullPool)
    try:
        yield {"uri": postgres_uri, "admin": admin, "locker": locker,
               "database": sa.make_url(postgres_uri).database}
    finally:
        admin.dispose()
        locker.dispose()
        close_stores()


def _waiting_backend(admin: sa.Engine, database: str, table: str) -> int:
    """The pid of the store's backend that waits on a lock for a statement on ``table``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            pid = conn.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :db AND wait_event_type = "
                "'Lock' AND query ILIKE :table AND pid <> pg_backend_pid()"),
                {"db": database, "table": f"%{table}%"}).scalar()
        if pid is not None:
            return int(pid)
        time.sleep(0.02)
    raise AssertionError(f"no backend waited on {table}")


def _cut_in_flight(pg: dict[str, Any], table: str, call: Callable[[], Any]) -> BaseException:
    """Run ``call`` in a thread while ``table`` is locked; terminate its backend once it
    waits for the lock; return what the call raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            raised.append(exc)

    with pg["locker"].connect() as locker:
        tx = locker.begin()
        locker.execute(sa.text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        thread = threading.Thread(target=run)
        thread.start()
        pid = _waiting_backend(pg["admin"], pg["database"], table)
        with pg["admin"].connect() as killer:
            assert killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                  {"pid": pid}).scalar()
        tx.rollback()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(raised) == 1, "the call did not fail"
    return raised[0]


def test_a_write_cut_mid_transaction_is_all_or_nothing(pg: dict[str, Any]) -> None:
    """set_alias moves the alias row, then appends its audit event: the backend dies while
    it waits to append. The alias did not move, no event was written, the chain verifies."""
    events_before = get_store().events.verify().checked
    exc = _cut_in_flight(pg, "event_head", lambda: airlock.set_alias("m@2", "prod"))
    assert isinstance(exc, StoreUnavailable), repr(exc)
    text = str(exc)
    assert text.startswith(f"lost the connection to the store "
                           f"{sa.make_url(pg['uri']).render_as_string(hide_password=True)} "
                           "during a write (")
    assert "its transaction was rolled back and nothing of it was recorded" in text
    assert text.endswith("the next call reconnects") and "\n" not in text
    # nothing of it: the alias row it had moved is back, no event
    assert airlock.get_model_version("m@prod").version == 1
    result = get_store().events.verify()
    assert result.ok and result.checked == events_before
    # and the next call works, on a fresh connection
    assert airlock.set_alias("m@2", "prod").version == 2
    assert airlock.get_model_version("m@prod").version == 2
    assert get_store().events.verify().checked == events_before + 1


def test_a_read_cut_mid_query_is_store_unavailable_then_works(pg: dict[str, Any]) -> None:
    exc = _cut_in_flight(pg, "model_versions", lambda: airlock.list_versions("m"))
    assert isinstance(exc, StoreUnavailable), repr(exc)
    assert "during a read" in str(exc) and "nothing was changed" in str(exc)
    assert [v.version for v in airlock.list_versions("m")] == [1, 2]


def test_connections_killed_while_idle_are_replaced_silently(pg: dict[str, Any]) -> None:
    """A server restart or an idle timeout kills pooled connections: the pool pings each
    before use and opens a new one; the caller never hears of it."""
    for _ in range(3):
        assert airlock.get_model_version("m@prod").version == 1
    with pg["admin"].connect() as conn:
        killed = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": pg["database"]}).scalar()
    assert killed and killed >= 1
    assert airlock.get_model_version("m@prod").version == 1
    assert airlock.set_alias("m@2", "prod").version == 2


def test_a_server_that_refuses_connections_is_one_store_unavailable(
        monkeypatch: pytest.MonkeyPatch, unused_port: int) -> None:
    uri = f"postgresql+psycopg://postgres@127.0.0.1:{unused_port}/nothing"
    monkeypatch.setenv("AIRLOCK_STORE_URI", uri)
    with pytest.raises(StoreUnavailable) as info:
        airlock.list_models()
    text = str(info.value)
    assert text.startswith(f"cannot use the store {uri}: "), text
    assert "refused" in text, text
    assert "\n" not in text


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
