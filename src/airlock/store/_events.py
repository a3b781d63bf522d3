"""The audit log: an append-only chain of events, each hashing the one before it.

``hash = sha256(prev_hash | seq | time | actor | action | subject | payload)`` where the
payload is canonical JSON. Editing an event breaks its own hash; deleting one breaks the
sequence or the next event's ``prev_hash``; deleting the newest breaks the chain head.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from airlock._config import settings
from airlock.errors import UsageError

from ._engine import CHAIN_HEAD, read_tx, write_tx
from ._records import EventRecord
from ._schema import aliases, event_head, events, prompt_aliases
from ._witness import ChainWitness

__all__ = ["GENESIS", "OBSERVATIONS", "EventLog", "VerifyResult", "append_event", "canonical",
           "event_hash", "lock_chain", "now_ms"]

GENESIS = "0" * 64
#: the events :meth:`EventLog.observe` may append: what production monitoring saw, which
#: changes no stored table (every other event is written with the change it records)
OBSERVATIONS = ("monitor.checked", "alert.firing", "alert.resolved")
NOT_AN_OBSERVATION = "{action!r} is not an observation event (one of: {allowed})"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev: str, seq: int, at: int, actor: str, action: str, subject: str,
               payload: str) -> str:
    text = "\x1f".join([prev, str(seq), str(at), actor, action, subject, payload])
    return hashlib.sha256(text.encode()).hexdigest()


def lock_chain(conn: sa.Connection) -> Any:
    """Lock the chain head for the rest of the transaction; returns it."""
    return conn.execute(
        sa.select(event_head.c.seq, event_head.c.hash)
        .where(event_head.c.id == 1)
        .with_for_update()
    ).one()


def append_event(conn: sa.Connection, action: str, subject: str,
                 payload: dict[str, Any]) -> EventRecord:
    """Append one event inside the caller's write transaction (so both commit or neither)."""
    head = lock_chain(conn)
    seq, prev = int(head.seq) + 1, str(head.hash)
    at, actor, text = now_ms(), settings().actor, canonical(payload)
    digest = event_hash(prev, seq, at, actor, action, subject, text)
    conn.execute(events.insert().values(
        seq=seq, time=at, actor=actor, action=action, subject=subject, payload=text,
        prev_hash=prev, hash=digest,
    ))
    conn.execute(event_head.update().where(event_head.c.id == 1).values(seq=seq, hash=digest))
    conn.info[CHAIN_HEAD] = (seq, digest)  # signed outside the database after the commit
    return EventRecord(seq, at, actor, action, subject, payload, prev, digest)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_bad": self.first_bad,
                "reason": self.reason}


def _record(row: sa.Row[Any]) -> EventRecord:
    return EventRecord(row.seq, row.time, row.actor, row.action, row.subject,
                       json.loads(row.payload), row.prev_hash, row.hash)


class EventLog:
    """Read and verify the audit chain."""

    def __init__(self, engine: sa.Engine, witness: ChainWitness | None = None) -> None:
        self._engine = engine
        self._witness = witness

    def observe(self, action: str, subject: str, payload: dict[str, Any]) -> EventRecord:
        """Append one observation (an action of :data:`OBSERVATIONS`: a drift check of an
        endpoint, an alert that fired or resolved) to the chain; any other action is refused
        (UsageError), so no caller can forge an event that a change must write."""
        if action not in OBSERVATIONS:
            raise UsageError(NOT_AN_OBSERVATION.format(action=action,
                                                       allowed=", ".join(OBSERVATIONS)))
        with write_tx(self._engine) as conn:
            return append_event(conn, action, subject, payload)

    def list(self, *, subject: str | None = None, action: str | None = None,
             limit: int | None = None) -> list[EventRecord]:
        """Events in order; ``action`` matches a prefix (``alias.`` gives every alias move).

        With ``limit``, the newest ``limit`` events (still oldest first)."""
        q = sa.select(events)
        if subject is not None:
            q = q.where(events.c.subject == subject)
        if action is not None:
            q = q.where(events.c.action.startswith(action, autoescape=True))
        q = q.order_by(events.c.seq.desc() if limit else events.c.seq)
        if limit:
            q = q.limit(limit)
        with read_tx(self._engine) as conn:
            rows = [_record(r) for r in conn.execute(q)]
        return rows[::-1] if limit else rows

    def verify(self) -> VerifyResult:
        """Walk the whole chain (streamed); name the first event that does not check out.
        Then compare it with the signed head kept outside the database, and the aliases
        table with what the alias events say."""
        prev, expected, checked = GENESIS, 1, 0
        signed = self._witness.read() if self._witness is not None else None
        signed_hash: str | None = None
        moves: dict[tuple[str, str], int | None] = {}
        with read_tx(self._engine) as conn:
            head = conn.execute(sa.select(event_head).where(event_head.c.id == 1)).one()
            result = conn.execution_options(yield_per=2000).execute(
                sa.select(events).order_by(events.c.seq)
            )
            with result:  # closes the server-side cursor when we stop early
                for row in result:
                    bad = _check(row, prev, expected)
                    if bad:
                        return VerifyResult(False, checked, bad[0], bad[1])
                    if signed is not None and row.seq == signed.seq:
                        signed_hash = row.hash
                    if row.action in _ALIAS_MOVES:
                        _replay(moves, row)
                    prev, expected, checked = row.hash, expected + 1, checked + 1
            table = {(f"models/{r.name}", r.alias): int(r.version)
                     for r in conn.execute(sa.select(aliases))}
            table.update({(f"prompts/{r.name}", r.alias): int(r.version)
                          for r in conn.execute(sa.select(prompt_aliases))})
        if int(head.seq) != expected - 1 or head.hash != prev:
            return VerifyResult(
                False, checked, expected,
                f"event {expected} or later was deleted: the chain head is at event "
                f"{head.seq} but the log ends at event {expected - 1}",
            )
        if signed is not None and self._witness is not None:
            if signed.seq > checked:
                return VerifyResult(
                    False, checked, checked + 1,
                    f"the log ends at event {checked} but the signed head kept outside the "
                    f"database ({self._witness.where}) records event {signed.seq}: events "
                    "were deleted or the database was emptied or replaced")
            if signed_hash != signed.hash:
                return VerifyResult(
                    False, checked, signed.seq,
                    f"event {signed.seq} is not the one the signed head outside the database "
                    f"({self._witness.where}) records: the log was rewritten")
        return _check_aliases(table, moves, checked)


_ALIAS_MOVES = ("alias.set", "alias.moved", "alias.removed")


def _replay(moves: dict[tuple[str, str], int | None], row: sa.Row[Any]) -> None:
    payload = json.loads(row.payload)
    to = payload.get("to")  # keyed by subject: models/NAME and prompts/NAME are apart
    moves[(str(row.subject), str(payload.get("alias")))] = None if to is None else int(to)


def _check_aliases(table: dict[tuple[str, str], int], moves: dict[tuple[str, str], int | None],
                   checked: int) -> VerifyResult:
    for (subject, alias), version in sorted(table.items()):
        name = subject.partition("/")[2]
        audited = moves.get((subject, alias))
        if audited != version:
            said = "never set it" if audited is None else f"last set it to {audited}"
            return VerifyResult(
                False, checked, None,
                f"alias {name}@{alias} points at version {version} but the audit log "
                f"{said}: the aliases table was edited outside airlock")
    for (subject, alias), audited in sorted(moves.items()):
        name = subject.partition("/")[2]
        if audited is not None and (subject, alias) not in table:
            return VerifyResult(
                False, checked, None,
                f"alias {name}@{alias} is missing but the audit log last set it to "
                f"{audited}: the aliases table was edited outside airlock")
    return VerifyResult(True, checked)


def _check(row: sa.Row[Any], prev: str, expected: int) -> tuple[int, str] | None:
    if row.seq != expected:
        return expected, f"event {expected} is missing (the log jumps to event {row.seq})"
    if row.prev_hash != prev:
        return row.seq, f"event {row.seq} does not link to the event before it"
    digest = event_hash(prev, row.seq, row.time, row.actor, row.action, row.subject,
                        row.payload)
    if digest != row.hash:
        return row.seq, f"event {row.seq} ({row.action} {row.subject}) was modified"
    return None
