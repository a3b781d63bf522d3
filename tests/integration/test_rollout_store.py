"""The rollout store (rollouts, endpoint weights, the controller's lease) on SQLite and
PostgreSQL: overlapping rollouts refused, a lease held by one controller at a time, a change
under a lost lease refused, every state change audited."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from airlock.errors import NotFound, UsageError
from airlock.store import get_store
from airlock.store._rollouts import LEASE_LOST, NOT_ACTIVE, OVERLAPPING, ROLLOUT_NOT_FOUND

ROUTES = [{"name": "primary", "model": "m@production", "weight": 90.0},
          {"name": "canary", "model": "m@2", "weight": 10.0}]


def _start(rollout_id: str = "ro-1", weights: dict[str, float] | None = None) -> Any:
    return get_store().rollouts.start(
        rollout_id=rollout_id, endpoint="ep", name="m", version=2, control_route="primary",
        candidate_route="canary", alias="production", steps=[50.0, 100.0], interval_s=5.0,
        rules={"alpha": 0.05}, rules_sha256="a" * 64,
        weights=weights or {"primary": 50.0, "canary": 50.0})


def test_rollout_life_cycle_weights_and_audit(backend: str) -> None:
    store = get_store().rollouts
    assert store.weights("ep") is None and store.endpoint("ep") is None
    store.announce("ep", ROUTES, 0.5)
    store.announce("ep", ROUTES, 0.25)  # a restart: the same row, updated
    assert store.endpoint("ep")["reload_interval_s"] == 0.25  # type: ignore[index]
    started = _start()
    assert (started.status, started.step, started.active, started.ref) == (
        "running", 0, True, "m@2")
    assert store.weights("ep") == {"primary": 50.0, "canary": 50.0}
    assert store.endpoint("ep")["routes"] == ROUTES  # type: ignore[index]
    with pytest.raises(UsageError) as err:
        _start("ro-2")
    assert str(err.value) == OVERLAPPING.format(endpoint="ep", active="ro-1", ref="m@2",
                                                status="running")
    assert [r.id for r in store.for_endpoint("ep")] == ["ro-1"]  # nothing written
    moved = store.update("ro-1", action="rollout.advanced", payload={"step": 1},
                         holder=None, endpoint_weights={"primary": 0.0, "canary": 100.0},
                         step=1, weights={"primary": 0.0, "canary": 100.0})
    assert moved.step == 1 and store.weights("ep") == {"primary": 0.0, "canary": 100.0}
    done = store.update("ro-1", action="rollout.promoted", payload={}, holder=None,
                        endpoint_weights=None, status="completed")
    assert not done.active and store.weights("ep") is None  # the config's weights again
    assert store.endpoint("ep")["active"] is None  # type: ignore[index]
    assert [r.id for r in store.active()] == []
    with pytest.raises(UsageError) as err:
        store.update("ro-1", action=None, payload={}, holder=None, step=0)
    assert str(err.value) == NOT_ACTIVE.format(rollout_id="ro-1", status="completed")
    _start("ro-2")  # the endpoint is free again
    assert [r.id for r in store.active()] == ["ro-2"]
    events = get_store().events.list(subject="endpoints/ep", action="rollout.")
    assert [e.action for e in events] == ["rollout.started", "rollout.advanced",
                                          "rollout.promoted", "rollout.started"]
    assert events[0].payload["candidate"] == "m@2" and events[1].payload["step"] == 1
    assert get_store().events.verify().ok
    with pytest.raises(NotFound) as nf:
        store.get("ro-9")
    assert str(nf.value) == ROLLOUT_NOT_FOUND.format(rollout_id="ro-9")


def test_one_lease_holder_at_a_time_and_stale_writes_refused(backend: str) -> None:
    store = get_store().rollouts
    _start()
    assert store.acquire("ep", "a", 60) is None
    assert store.acquire("ep", "a", 60) is None  # renewing one's own lease
    assert store.acquire("ep", "b", 60) == "a"
    with pytest.raises(UsageError) as err:  # b never got it: its change is refused
        store.update("ro-1", action=None, payload={}, holder="b", windows=1)
    assert str(err.value) == LEASE_LOST.format(rollout_id="ro-1", endpoint="ep", holder="a")
    assert store.get("ro-1").windows == 0
    store.update("ro-1", action=None, payload={}, holder="a", windows=1)
    assert store.acquire("ep", "a", -1) is None  # a's lease has run out already
    assert store.acquire("ep", "b", 60) is None  # ... so b takes it over
    with pytest.raises(UsageError):  # and a, still running somewhere, is refused
        store.update("ro-1", action=None, payload={}, holder="a", windows=2)
    store.release("ep", "a")  # not a's to release: b keeps it
    assert store.acquire("ep", "c", 60) == "b"
    store.release("ep", "b")
    assert store.acquire("ep", "c", 60) is None


def test_racing_controllers_get_one_lease(backend: str) -> None:
    store = get_store().rollouts
    _start()
    got: list[str | None] = []
    barrier = threading.Barrier(6)

    def take(k: int) -> None:
        barrier.wait()
        got.append(store.acquire("ep", f"c{k}", 60))

    threads = [threading.Thread(target=take, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got.count(None) == 1  # one winner; the others name it
    winner = store.endpoint("ep")["holder"]  # type: ignore[index]
    assert all(g in (None, winner) for g in got)
