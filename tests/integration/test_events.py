"""The audit chain: every state change is an event whose hash covers the one before it.

Tampering is done with raw SQL on the store's own engine, the way someone with database
access would, and ``verify`` must name the first event that no longer checks out. Each test
runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import gc
import hashlib
import json

import pytest
import sqlalchemy as sa

import airlock
from airlock.store import get_store

pytestmark = pytest.mark.usefixtures("backend")

GENESIS = "0" * 64

def _three_runs() -> list[str]:
    """Six events: seq 1..6 = started/finished of three runs."""
    ids = []
    for i in range(3):
        with airlock.start_run("audit", name=f"r{i}") as run:
            ids.append(run.id)
    return ids


def _sql(statement: str, **params: object) -> int:
    with get_store().engine.begin() as conn:
        return conn.execute(sa.text(statement), params).rowcount


def test_a_fresh_chain_verifies() -> None:
    result = airlock.verify_events()
    assert result.ok
    assert result.checked == 0
    assert result.first_bad is None and result.reason is None


def test_chain_links_and_hashes_are_as_documented() -> None:
    _three_runs()
    events = airlock.list_events()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    prev = GENESIS
    for e in events:
        assert e.prev_hash == prev
        text = "\x1f".join([prev, str(e.seq), str(e.time), e.actor, e.action, e.subject,
                            json.dumps(e.payload, sort_keys=True, separators=(",", ":"))])
        assert e.hash == hashlib.sha256(text.encode()).hexdigest()
        prev = e.hash
    result = airlock.verify_events()
    assert result.ok, result.reason
    assert result.checked == 6


def test_editing_a_payload_is_detected_at_that_event() -> None:
    _three_runs()
    changed = _sql("UPDATE events SET payload = :p WHERE seq = 3",
                   p=json.dumps({"experiment": "audit", "name": "forged"}))
    assert changed == 1
    result = airlock.verify_events()
    assert not result.ok
    assert result.first_bad == 3
    assert result.checked == 2
    assert result.reason is not None
    assert result.reason.startswith("event 3 ")
    assert "modified" in result.reason


def test_editing_an_actor_is_detected_at_that_event() -> None:
    _three_runs()
    assert _sql("UPDATE events SET actor = 'mallory' WHERE seq = 5") == 1
    result = airlock.verify_events()
    assert not result.ok
    assert result.first_bad == 5
    assert result.reason is not None and result.reason.startswith("event 5 ")


def test_rehashing_an_edited_event_breaks_the_next_link() -> None:
    _three_runs()
    target = airlock.list_events()[1]  # seq 2
    payload = json.dumps({"error": None, "status": "FAILED"}, sort_keys=True,
                         separators=(",", ":"))
    text = "\x1f".join([target.prev_hash, "2", str(target.time), target.actor, target.action,
                        target.subject, payload])
    forged = hashlib.sha256(text.encode()).hexdigest()
    _sql("UPDATE events SET payload = :p, hash = :h WHERE seq = 2", p=payload, h=forged)
    result = airlock.verify_events()
    assert not result.ok
    assert result.first_bad == 3
    assert result.reason == "event 3 does not link to the event before it"


def test_deleting_a_middle_event_is_reported_as_missing() -> None:
    _three_runs()
    assert _sql("DELETE FROM events WHERE seq = 4") == 1
    result = airlock.verify_events()
    assert not result.ok
    assert result.first_bad == 4
    assert result.reason is not None
    assert "event 4 is missing" in result.reason


def test_deleting_the_last_event_is_reported_by_the_head() -> None:
    _three_runs()
    assert _sql("DELETE FROM events WHERE seq = 6") == 1
    result = airlock.verify_events()
    assert not result.ok
    assert result.first_bad == 6
    assert result.checked == 5
    assert result.reason is not None
    assert "event 6 or later was deleted" in result.reason
    assert "chain head is at event 6" in result.reason


def test_verify_closes_its_cursor_when_it_stops_early(backend: str) -> None:
    _three_runs()
    _sql("UPDATE events SET action = 'run.forged' WHERE seq = 2")
    result = airlock.verify_events()  # must not leave an open cursor behind (warning = error)
    assert (result.ok, result.first_bad) == (False, 2)
    gc.collect()


def test_new_events_after_a_verified_chain_still_verify() -> None:
    _three_runs()
    assert airlock.verify_events().ok
    _three_runs()
    result = airlock.verify_events()
    assert result.ok and result.checked == 12


def test_actor_comes_from_airlock_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_ACTOR", "alice")
    run = airlock.start_run("audit")
    monkeypatch.setenv("AIRLOCK_ACTOR", "bob")
    run.end()
    events = airlock.list_events(subject=f"runs/{run.id}")
    assert [(e.action, e.actor) for e in events] == [("run.started", "alice"),
                                                     ("run.finished", "bob")]
    assert airlock.get_run(run.id).user == "alice"
    assert airlock.verify_events().ok


# -- the signed head outside the database, and the aliases table ------------------------

def test_truncating_the_log_and_its_head_is_detected_by_the_signed_head() -> None:
    """Deleting the tail *and* rewinding the in-database head leaves a chain that checks out
    on its own: only the head signed outside the database can tell."""
    _three_runs()
    last5 = get_store().events.list()[4].hash
    assert _sql("DELETE FROM events WHERE seq = 6") == 1
    assert _sql("UPDATE event_head SET seq = 5, hash = :h WHERE id = 1", h=last5) == 1
    result = airlock.verify_events()
    assert not result.ok
    assert result.reason is not None
    assert "the log ends at event 5 but the signed head kept outside the database" \
        in result.reason
    assert "records event 6" in result.reason


def test_a_forged_signed_head_is_detected(airlock_home: object) -> None:
    _three_runs()
    head = get_store().artifacts.local_path("audit/head.json")
    assert head is not None and head.is_file()
    body = json.loads(head.read_text())
    head.write_text(json.dumps({**body, "seq": 2}))  # someone rewinds it without the key
    from airlock.errors import IntegrityError

    with pytest.raises(IntegrityError, match="does not verify with the audit key"):
        airlock.verify_events()


def test_an_alias_edited_in_the_table_is_detected() -> None:
    import numpy as np

    for _ in range(2):
        airlock.register_model("m", lambda df: np.zeros(len(df)))
    airlock.set_alias("m@1", "prod")
    assert airlock.verify_events().ok
    assert _sql("UPDATE aliases SET version = 2 WHERE name = 'm' AND alias = 'prod'") == 1
    result = airlock.verify_events()
    assert not result.ok
    assert result.reason == ("alias m@prod points at version 2 but the audit log last set it "
                             "to 1: the aliases table was edited outside airlock")
    _sql("DELETE FROM aliases")
    result = airlock.verify_events()
    assert result.reason is not None and "alias m@prod is missing" in result.reason
