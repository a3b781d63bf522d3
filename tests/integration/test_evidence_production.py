"""The production items of an evidence pack, from a real store and a real prediction log
(SQLite and PostgreSQL): a recorded drift check, alerts that fired, an A/B analysis and a
rollout of the version are in its pack, in its audit slice, and verify; a version never
served has none, and completeness says how to produce them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.integration.rollout_helpers import always_one, log_requests

import airlock
from airlock.errors import UsageError
from airlock.evidence import ITEMS, export, verify
from airlock.experiments import (
    analyze_endpoint,
    evaluate_rollout,
    save_experiment,
    start_rollout,
)
from airlock.monitor import load_rules, monitor_endpoint, record_endpoint_check, run_alerts
from airlock.registry import set_alias
from airlock.store import get_store
from airlock.store._events import NOT_AN_OBSERVATION

EP = "shop"
ROUTES = [{"name": "primary", "model": f"{EP}@production", "weight": 100.0},
          {"name": "canary", "model": f"{EP}@2", "weight": 0.0}]
HOW = {i.id: i.how for i in ITEMS}


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@pytest.fixture
def served(backend: str, tmp_path: Path) -> dict[str, Any]:
    """shop@1 in production, shop@2 rolled out on its canary route (promoted), analysed,
    drift-checked and alerted on; shop@3 registered and never served."""
    versions = [airlock.register_model(EP, always_one).version for _ in range(3)]
    set_alias(f"{EP}@{versions[0]}", "production")
    get_store().rollouts.announce(EP, ROUTES, 0.0)  # what `airlock serve` does at start
    r = start_rollout(EP, f"{EP}@2", steps="50,100", interval="10s", rules={
        "min_requests": 30, "guardrails": {"error_rate": {"max_increase": 0.05}}}).rollout
    lo, due = r.step_started_at + 1000, r.step_started_at + 10_000
    log_requests(EP, "primary", 60, lo, due, version=versions[0])
    log_requests(EP, "canary", 60, lo, due, version=versions[1], latency_ms=40.0)
    outcome = evaluate_rollout(r.id, now=due)
    assert outcome.action == "promote", outcome.reason
    span = {"since": _when(lo - 1000), "until": _when(due + 1000)}
    experiment = save_experiment(analyze_endpoint(EP, metrics=["error_rate"], **span))
    check = record_endpoint_check(monitor_endpoint(EP, window="1h", **span))
    rules = load_rules({"endpoint": EP, "window": "1h", "notify": {"log": False}, "rules": [
        {"name": "slow", "kind": "latency", "percentile": 95, "threshold_ms": 20}]})
    fired = run_alerts(rules, state_path=tmp_path / "state.json", now=_when(due + 1000))
    assert fired.firing == ["slow"]
    return {"versions": versions, "rollout": r.id, "experiment": experiment.id,
            "check": check.seq}


def _items(pack: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((pack / "manifest.json").read_bytes())
    return {i["item"]: i for i in manifest["items"]}


def test_a_served_versions_pack_holds_its_production_history(served: dict[str, Any],
                                                             tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    result = export(f"{EP}@2", pack)
    items = _items(pack)
    assert items["drift"]["present"] and items["experiments"]["present"]
    assert items["drift"]["files"] == ["production/drift_checks.json",
                                       "production/alerts.json"]
    assert items["experiments"]["files"] == ["production/experiments.json",
                                             "production/rollouts.json"]
    recommended = {m["item"] for m in result.completeness.recommended_missing}
    assert not {"drift", "experiments"} & recommended
    # the drift check: the versions that answered and each window's verdict
    checks = json.loads((pack / "production/drift_checks.json").read_bytes())
    assert [c["seq"] for c in checks] == [served["check"]]
    payload = checks[0]["payload"]
    assert payload["versions"] == {f"{EP}@1": 60, f"{EP}@2": 60}
    assert payload["requests"] == 120 and len(payload["windows"]) >= 1
    assert set(payload["windows"][0]) >= {"start", "requests", "input_drift", "missing"}
    alerts = json.loads((pack / "production/alerts.json").read_bytes())
    assert [(a["action"], a["payload"]["rule"]) for a in alerts["alerts"]] == [
        ("alert.firing", "slow")]
    assert "another version may have been answering" in alerts["note"]
    # the experiment and the rollout, with every step the controller took
    experiments = json.loads((pack / "production/experiments.json").read_bytes())
    assert [e["id"] for e in experiments] == [served["experiment"]]
    assert experiments[0]["versions"]["canary"] == {f"{EP}@2": 60}
    rollouts = json.loads((pack / "production/rollouts.json").read_bytes())
    assert [(r["id"], r["status"]) for r in rollouts] == [(served["rollout"], "completed")]
    assert [e["action"] for e in rollouts[0]["events"]] == [
        "rollout.started", "rollout.advanced", "rollout.promoted"]
    # all of it is in the audit slice, whose proof checks
    sliced = [json.loads(line)["action"]
              for line in (pack / "audit/events.jsonl").read_text().splitlines()]
    for action in ("monitor.checked", "alert.firing", "experiment.analyzed",
                   "rollout.started", "rollout.promoted"):
        assert action in sliced, action
    index = (pack / "index.md").read_text()
    assert "1 drift check(s) (0 with drifted windows), 1 alert change(s)" in index
    assert f"1 A/B analysis(es), 1 rollout(s): {served['rollout']} completed" in index
    assert verify(pack).ok


def test_production_version_and_a_never_served_one(served: dict[str, Any],
                                                   tmp_path: Path) -> None:
    # shop@1 answered the control route: the check and the analysis, not the rollout
    items = _items(_exported(f"{EP}@1", tmp_path / "v1"))
    assert items["drift"]["present"] and items["experiments"]["present"]
    experiments = json.loads((tmp_path / "v1/production/experiments.json").read_bytes())
    assert [e["id"] for e in experiments] == [served["experiment"]]
    assert not (tmp_path / "v1/production/rollouts.json").exists()
    # shop@3 was never served: both missing, with how to produce them
    result = export(f"{EP}@3", tmp_path / "v3")
    items = _items(tmp_path / "v3")
    assert not items["drift"]["present"] and not items["experiments"]["present"]
    how = {m["item"]: m["how"] for m in result.completeness.recommended_missing}
    assert how["drift"] == HOW["drift"]
    assert "`airlock monitor endpoint ENDPOINT --record`" in how["drift"]
    assert how["experiments"] == HOW["experiments"].format(ref=f"{EP}@3")
    assert f"`airlock rollout start ENDPOINT --candidate {EP}@3 …`" in how["experiments"]
    assert not (tmp_path / "v3/production").exists() and verify(tmp_path / "v3").ok


def _exported(ref: str, folder: Path) -> Path:
    export(ref, folder)
    return folder


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_only_observations_can_be_appended_from_outside_the_store(backend: str) -> None:
    events = get_store().events
    with pytest.raises(UsageError) as err:
        events.observe("alias.set", "models/shop", {"alias": "production", "version": 9})
    assert str(err.value) == NOT_AN_OBSERVATION.format(
        action="alias.set", allowed="monitor.checked, alert.firing, alert.resolved")
    assert events.list() == []
    seen = events.observe("alert.resolved", "endpoints/shop", {"rule": "slow"})
    assert [e.action for e in events.list()] == ["alert.resolved"] and seen.seq == 1
    assert airlock.verify_events().ok
