"""The rollout controller's decisions on a real store and a real prediction log, written here
with the log's own writer so each window holds exactly the traffic a case needs (the
real-server runs are in test_rollout_serve.py): advance and promote, wait for approval on a
protected alias, hold then roll back when nothing is shown, roll back at once on a breach
(latency, SRM, guard blocks, drift), and bad input refused with nothing moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.integration.rollout_helpers import always_one, log_requests

import airlock
from airlock.errors import NotFound, UsageError
from airlock.experiments import (
    abort_rollout,
    evaluate_rollout,
    load_rollout_rules,
    rollout_status,
    run_rollouts,
    start_rollout,
)
from airlock.experiments._rollout import (
    MSG_CONTROL,
    MSG_INTERVAL,
    MSG_NO_ACTIVE,
    MSG_NO_CANDIDATE_ROUTE,
    MSG_NO_ROLLOUT,
    MSG_NOT_SERVED,
    MSG_ONE_ROUTE,
    MSG_REASON,
    MSG_SAME,
    MSG_STEPS,
)
from airlock.registry import resolve, set_alias
from airlock.store import get_store
from airlock.store._rollouts import OVERLAPPING

EP = "shop"
ROUTES = [{"name": "primary", "model": f"{EP}@production", "weight": 100.0},
          {"name": "canary", "model": f"{EP}@2", "weight": 0.0}]


@pytest.fixture
def shop(airlock_home: Path) -> list[int]:
    versions = [airlock.register_model(EP, always_one).version for _ in range(3)]
    set_alias(f"{EP}@{versions[0]}", "production")
    get_store().rollouts.announce(EP, ROUTES, 0.0)  # what `airlock serve` does at start
    return versions


def _log(route: str, n: int, lo_ms: int, hi_ms: int, **options: Any) -> None:
    log_requests(EP, route, n, lo_ms, hi_ms, **options)


def _start(rules: dict[str, Any] | None = None, steps: str = "50,100",
           interval: str = "10s") -> Any:
    return start_rollout(EP, f"{EP}@2", steps=steps, interval=interval,
                         rules=rules or {"min_requests": 30, "guardrails": {
                             "error_rate": {"max_increase": 0.05}}}).rollout


def _window(r: Any) -> tuple[int, int]:
    """The judged window of the step: after the settle second, to the step's end."""
    lo = r.step_started_at + 1000
    return lo, r.step_started_at + int(r.interval_s * 1000)


def test_equal_traffic_advances_and_promotes_through_an_unprotected_alias(
        shop: list[int]) -> None:
    r = _start()
    assert get_store().rollouts.weights(EP) == {"primary": 50.0, "canary": 50.0}
    lo, due = _window(r)
    assert evaluate_rollout(r.id, now=lo - 1).action == "wait"  # weights still settling
    _log("primary", 60, lo, due, version=shop[0])
    _log("canary", 60, lo, due, version=shop[1])
    early = evaluate_rollout(r.id, now=due - 1)  # no breach, the step is not over yet
    assert early.action == "wait" and early.verdict is not None
    out = evaluate_rollout(r.id, now=due)
    assert out.action == "promote", out.reason
    assert out.promotion == {"name": EP, "alias": "production", "from": shop[0],
                             "to": shop[1], "protected": False}
    assert resolve(f"{EP}@production").version == shop[1]
    st = rollout_status(EP)
    assert st.rollout.status == "completed" and st.served_weights is None
    assert st.next_check_at is None
    assert get_store().rollouts.weights(EP) is None  # back to the config's weights
    checks = {c["name"]: c["outcome"] for c in out.verdict["checks"]}  # type: ignore[index]
    assert checks == {"error_rate": "pass", "srm": "pass"}


def test_a_protected_alias_without_a_decision_waits_for_approval(shop: list[int]) -> None:
    from airlock.gates import promote, protect

    protect(EP, "production", Path(__file__).parents[2] / "examples" / "gate.yaml")
    r = _start()
    lo, due = _window(r)
    _log("primary", 60, lo, due, version=shop[0])
    _log("canary", 60, lo, due, version=shop[1])
    out = evaluate_rollout(r.id, now=due)
    assert out.action == "awaiting-approval" and out.status == "awaiting-approval"
    assert "no passing decision" in (out.reason or "")
    assert get_store().rollouts.weights(EP) == {"primary": 0.0, "canary": 100.0}
    assert resolve(f"{EP}@production").version == shop[0]  # the gate held
    again = evaluate_rollout(r.id)
    assert again.action == "awaiting-approval"
    events = [e.action for e in get_store().events.list(subject=f"endpoints/{EP}")]
    assert events.count("rollout.awaiting_approval") == 1  # waiting is not a new event
    promote(f"{EP}@{shop[1]}", to="production", override=True, reason="approved by risk")
    done = evaluate_rollout(r.id)
    assert done.action == "promote" and rollout_status(EP).rollout.status == "completed"


def test_nothing_shown_holds_the_step_then_rolls_back(shop: list[int]) -> None:
    r = _start({"min_requests": 50, "max_windows": 2})
    lo, due = _window(r)
    _log("primary", 10, lo, due, version=shop[0])
    _log("canary", 10, lo, due, version=shop[1])
    held = evaluate_rollout(r.id, now=due)
    assert held.action == "hold" and "fewer than min_requests 50" in (held.reason or "")
    st = rollout_status(EP)
    assert st.rollout.windows == 1 and st.next_check_at == due + 10_000
    assert evaluate_rollout(r.id, now=due + 5_000).action == "wait"
    out = evaluate_rollout(r.id, now=due + 10_000)
    assert out.action == "rollback"
    assert (out.reason or "").startswith("not shown safe in 2 windows at 50 %")
    assert get_store().rollouts.weights(EP) == {"primary": 100.0, "canary": 0.0}


@pytest.mark.parametrize("case", ["latency", "srm", "guard", "drift"])
def test_a_breach_rolls_back_at_once(shop: list[int], case: str) -> None:
    rules: dict[str, Any] = {
        "latency": {"guardrails": {"latency_p95": {"max_increase_ms": 50}}},
        "srm": {},
        "guard": {"guardrails": {"guard_block_rate": {"max_increase": 0.05}}},
        "drift": {"guardrails": {"drift": {"predictions": False, "min_rows": 50}}},
    }[case]
    r = _start(rules, interval="1h")
    lo, _ = _window(r)
    hi = lo + 5_000  # far before the step's end: a breach does not wait for it
    _log("primary", 200 if case == "srm" else 80, lo, hi, version=shop[0])
    if case == "latency":
        _log("canary", 80, lo, hi, version=shop[1], latency_ms=500.0)
    elif case == "srm":
        _log("canary", 120, lo, hi, version=shop[1])
    elif case == "guard":
        _log("canary", 60, lo, hi, version=shop[1])
        _log("canary", 20, lo, hi, version=shop[1], status=403, error_code="GuardBlocked")
    else:
        _log("canary", 80, lo, hi, version=shop[1], ages=np.full(80, 80.0))
    out = evaluate_rollout(r.id, now=hi)
    name = {"latency": "latency_p95", "srm": "srm", "guard": "guard_block_rate",
            "drift": "drift_inputs"}[case]
    assert out.action == "rollback", out.verdict
    assert f"{name} breached" in (out.reason or "")
    events = get_store().events.list(subject=f"endpoints/{EP}", action="rollout.rolled_back")
    evidence = events[0].payload["evidence"]
    assert next(c for c in evidence["checks"] if c["name"] == name)["outcome"] == "breach"
    assert rollout_status(EP).rollout.weights == {"primary": 100.0, "canary": 0.0}


def test_abort_and_the_controller_loop(shop: list[int]) -> None:
    with pytest.raises(UsageError) as err:
        abort_rollout(EP, reason="x")
    assert str(err.value) == MSG_NO_ROLLOUT.format(endpoint=EP)
    r = _start()
    with pytest.raises(UsageError) as err:
        abort_rollout(EP, reason="  ")
    assert str(err.value) == MSG_REASON
    outcomes = run_rollouts(once=True)  # nothing logged yet: it waits
    assert [o.action for o in outcomes] == ["wait"]
    assert get_store().rollouts.endpoint(EP)["holder"] is None  # type: ignore[index]
    get_store().rollouts.acquire(EP, "someone-else", 60)
    assert [o.action for o in run_rollouts(EP, once=True)] == ["skip"]
    st = abort_rollout(EP, reason="the on-call says no")
    assert st.rollout.status == "aborted" and st.served_weights == {"primary": 100.0,
                                                                    "canary": 0.0}
    with pytest.raises(UsageError) as err:
        abort_rollout(EP, reason="again")
    assert str(err.value) == MSG_NO_ACTIVE.format(endpoint=EP, id=r.id, status="aborted")
    assert run_rollouts(EP) == []  # the loop ends at once: the rollout has ended
    event = get_store().events.list(subject=f"endpoints/{EP}", action="rollout.aborted")[0]
    assert event.payload["reason"] == "the on-call says no"


def test_bad_input_is_refused_and_nothing_moves(shop: list[int], tmp_path: Path) -> None:
    store = get_store().rollouts
    store.announce("solo", [{"name": "primary", "model": f"{EP}@production", "weight": 1}],
                   1.0)
    store.announce("pinned", [{"name": "primary", "model": f"{EP}@1", "weight": 1},
                              {"name": "canary", "model": f"{EP}@2", "weight": 0}], 1.0)
    bad_rules = tmp_path / "rollout.yaml"
    bad_rules.write_text("guardrails:\n  error_rate: {max_inc: 0.1}\n")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"endpoint": "nowhere"}, MSG_NOT_SERVED.format(endpoint="nowhere")),
        ({"endpoint": "solo"}, MSG_ONE_ROUTE.format(endpoint="solo", route="primary")),
        ({"endpoint": "pinned"}, MSG_CONTROL.format(endpoint="pinned", route="primary",
                                                    model=f"{EP}@1", name=EP)),
        ({"candidate": f"{EP}@{shop[2]}"}, MSG_NO_CANDIDATE_ROUTE.format(
            endpoint=EP, ref=f"{EP}@{shop[2]}",
            routes=f"primary={EP}@production, canary={EP}@2")),
        ({"candidate": f"{EP}@{shop[0]}"}, MSG_SAME.format(ref=f"{EP}@{shop[0]}",
                                                           route="primary")),
        ({"steps": "50,20"}, MSG_STEPS.format(steps="50,20")),
        ({"steps": "5,50"}, MSG_STEPS.format(steps="5,50")),
        ({"interval": "soon"}, MSG_INTERVAL.format(interval="soon")),
        ({"rules": bad_rules}, "unknown key 'max_inc'"),
    ]
    for given, message in cases:
        args = {"endpoint": EP, "candidate": f"{EP}@2", "steps": "50,100",
                "interval": "10s", "rules": None, **given}
        with pytest.raises(UsageError) as err:
            start_rollout(args.pop("endpoint"), args.pop("candidate"), **args)
        assert message in str(err.value), (given, str(err.value))
    with pytest.raises(NotFound):
        start_rollout(EP, f"{EP}@9")
    assert store.for_endpoint(EP) == [] and store.weights(EP) is None  # nothing moved
    first = _start()
    with pytest.raises(UsageError) as err:
        _start()
    assert str(err.value) == OVERLAPPING.format(endpoint=EP, active=first.id,
                                                ref=f"{EP}@2", status="running")
    assert [r.id for r in store.for_endpoint(EP)] == [first.id]
    assert store.weights(EP) == {"primary": 50.0, "canary": 50.0}


def test_rules_defaults_and_hash() -> None:
    default = load_rollout_rules(None)
    assert default.guardrails.error_rate is not None and default.guardrails.srm is not None
    assert default.guardrails.latency_p95 is None and default.success.accuracy is None
    text = "min_requests: 10\nguardrails:\n  srm: null\n"
    parsed = load_rollout_rules(text)
    assert parsed.guardrails.srm is None and parsed.min_requests == 10
    assert parsed.sha256 == load_rollout_rules(parsed.to_dict()).sha256 != default.sha256
    with pytest.raises(UsageError) as err:
        load_rollout_rules("alpha: 0.7\n")
    assert "alpha" in str(err.value) and "line 1" in str(err.value)
