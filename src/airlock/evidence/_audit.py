"""The audit-log slice of a pack and its proof.

A pack holds the events that concern its version (``audit/events.jsonl``, each with its
hash) and ``audit/chain.json``: the link (sequence number, previous hash, hash) of every
event from the slice's first event to the chain head at export, and the result of the
store's own walk of the whole chain then. :func:`check_audit` re-hashes every event of the
slice, checks that consecutive links join, that each event sits in the links with its own
hash, and that the links end at the recorded head: the slice is part of one unbroken chain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airlock.store import GENESIS, EventRecord, Store, canonical, event_hash

__all__ = ["EVENTS", "PROOF", "audit_slice", "check_audit"]

EVENTS = "audit/events.jsonl"
PROOF = "audit/chain.json"
HASH_RULE = ("sha256 of prev_hash, seq, time, actor, action, subject and the payload as "
             "canonical JSON (sorted keys, no spaces), joined by U+001F")


def audit_slice(store: Store, events: Sequence[EventRecord], wanted: Sequence[EventRecord]
                ) -> tuple[dict[str, bytes], bool, str]:
    """The two files, whether the chain checked out at export, and a note."""
    verified = store.events.verify()
    first = wanted[0].seq if wanted else (events[-1].seq if events else 0)
    head = {"seq": events[-1].seq, "hash": events[-1].hash} if events else None
    proof = {
        "hash_rule": HASH_RULE,
        "head": head,
        "links": [[e.seq, e.prev_hash, e.hash] for e in events if e.seq >= first],
        "store_verify": verified.to_dict(),
        "slice": [e.seq for e in wanted],
    }
    lines = "".join(json.dumps(e.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"
                    for e in wanted)
    files = {EVENTS: lines.encode(),
             PROOF: (json.dumps(proof, sort_keys=True, indent=1) + "\n").encode()}
    if not verified.ok:
        return files, False, f"the audit chain was broken at export: {verified.reason}"
    return files, True, f"{len(wanted)} event(s); chain of {verified.checked} verified"


def check_audit(events_text: str, proof: Mapping[str, Any]) -> list[str]:
    """Problems with the slice and its proof (empty: it is part of an unbroken chain)."""
    problems: list[str] = []
    verify = proof.get("store_verify") or {}
    if not verify.get("ok"):
        problems.append(f"{PROOF}: the store's audit chain was broken at export "
                        f"({verify.get('reason')})")
    links = proof.get("links") or []
    by_seq: dict[int, str] = {}
    prev: list[Any] | None = None
    for link in links:
        try:
            seq, prev_hash, digest = int(link[0]), str(link[1]), str(link[2])
        except (ValueError, TypeError, IndexError, KeyError):
            problems.append(f"{PROOF}: a link is not [seq, prev_hash, hash]")
            break
        if prev is None and seq == 1 and prev_hash != GENESIS:
            problems.append(f"{PROOF}: event 1 does not start the chain")
        if prev is not None and (seq != int(prev[0]) + 1 or prev_hash != prev[2]):
            problems.append(f"{PROOF}: the chain breaks between events {prev[0]} and {seq}")
            break
        by_seq[seq] = digest
        prev = link
    head = proof.get("head")
    if links and (not head or [head.get("seq"), head.get("hash")] != links[-1][::2]):
        problems.append(f"{PROOF}: the links do not end at the recorded chain head")
    for n, line in enumerate(events_text.splitlines(), start=1):
        try:
            e = json.loads(line)
            digest = event_hash(e["prev_hash"], e["seq"], e["time"], e["actor"], e["action"],
                                e["subject"], canonical(e["payload"]))
        except (ValueError, KeyError, TypeError):
            problems.append(f"{EVENTS} line {n}: not an audit event")
            continue
        if digest != e["hash"]:
            problems.append(f"{EVENTS} line {n}: event {e['seq']} does not match its hash")
        elif by_seq.get(int(e["seq"])) != digest:
            problems.append(f"{EVENTS} line {n}: event {e['seq']} is not in the chain")
    return problems
