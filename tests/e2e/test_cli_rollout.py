"""`airlock rollout start | status | abort | run` as a user drives them: JSON with full
precision, status within 80 columns, and bad input (an endpoint with one route, an unknown
candidate, an overlapping rollout, a bad rules file) as one line with exit 2 and nothing
moved."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.integration.rollout_helpers import always_one

import airlock
from airlock.registry import set_alias
from airlock.store import close_stores, get_store

from .test_cli import AIRLOCK, cli, one_line_error

EP = "shop"


@pytest.fixture
def served(airlock_home: Path) -> Path:
    versions = [airlock.register_model(EP, always_one).version for _ in range(2)]
    set_alias(f"{EP}@{versions[0]}", "production")
    store = get_store().rollouts  # what `airlock serve` announces when it starts
    store.announce(EP, [{"name": "primary", "model": f"{EP}@production", "weight": 100},
                        {"name": "canary", "model": f"{EP}@2", "weight": 0}], 0.5)
    store.announce("solo", [{"name": "primary", "model": f"{EP}@production", "weight": 1}],
                   0.5)
    close_stores()
    return airlock_home


def test_start_status_abort_and_run(served: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rollout.yaml"
    rules.write_text("min_requests: 20\nguardrails:\n  error_rate: {max_increase: 0.05}\n"
                     "  latency_p95: {max_increase_ms: 100}\n")
    res = cli("rollout", "start", EP, "--candidate", f"{EP}@2", "--steps", "10,50,100",
              "--interval", "90s", "--rules", str(rules), "--json", home=served)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (doc["status"], doc["step"], doc["percent"], doc["steps"]) == (
        "running", 0, 10.0, [10.0, 50.0, 100.0])
    assert doc["weights"] == doc["served_weights"] == {"primary": 90.0, "canary": 10.0}
    assert doc["rules"]["guardrails"]["latency_p95"] == {"max_increase_ms": 100.0}
    assert doc["next_check_at"] == doc["step_started_at"] + 90_000

    again = cli("rollout", "start", EP, "--candidate", f"{EP}@2", home=served)
    line = one_line_error(again)
    assert line == (f"error: endpoint {EP} already has rollout {doc['id']} of {EP}@2 "
                    f"(running): abort it first (airlock rollout abort {EP} --reason …)")

    env = {**os.environ, "AIRLOCK_HOME": str(served), "COLUMNS": "80"}
    env.pop("AIRLOCK_STORE_URI", None)
    status = subprocess.run([AIRLOCK, "rollout", "status", EP], capture_output=True,
                            text=True, env=env, timeout=60, check=False)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80, status.stdout
    assert lines[0] == f"rollout {doc['id']}: {EP}@2 on {EP}, RUNNING"
    assert "step 1 of 3 (10 %)" in lines[1] and "primary 90 %, canary 10 %" in lines[2]

    once = cli("rollout", "run", "--once", home=served)
    assert once.returncode == 0, once.stderr
    assert once.stdout.startswith(f"{EP} ({doc['id']}): wait, step 1, running")

    aborted = cli("rollout", "abort", EP, "--reason", "pager went off", "--json",
                  home=served)
    assert aborted.returncode == 0, aborted.stderr
    out = json.loads(aborted.stdout)
    assert out["status"] == "aborted" and out["reason"] == "pager went off"
    assert out["served_weights"] == {"primary": 100.0, "canary": 0.0}
    nothing = cli("rollout", "run", EP, "--once", home=served)
    assert nothing.returncode == 0 and nothing.stdout.strip() == f"no active rollout on {EP}"


def test_bad_input_is_one_line_exit_2_and_nothing_moves(served: Path, tmp_path: Path) -> None:
    bad_rules = tmp_path / "rollout.yaml"
    bad_rules.write_text("guardrails:\n  error_rate:\n    max_increase: 2\n")
    cases = [
        (("solo", "--candidate", f"{EP}@2"), "error: endpoint solo has one route (primary)"),
        ((EP, "--candidate", f"{EP}@7"), "error: "),
        ((EP, "--candidate", f"{EP}@2", "--rules", str(bad_rules)),
         f"error: {bad_rules}: guardrails.error_rate.max_increase"),
        ((EP, "--candidate", f"{EP}@2", "--rules", str(tmp_path / "missing.yaml")),
         "error: "),
        ((EP, "--candidate", f"{EP}@2", "--steps", "50"), "error: --steps must be"),
    ]
    for args, start in cases:
        line = one_line_error(cli("rollout", "start", *args, home=served))
        assert line.startswith(start), (args, line)
        assert "line 3" in line or args[-1] != str(bad_rules), line
    assert one_line_error(cli("rollout", "status", EP, home=served)) == \
        f"error: endpoint {EP} has no rollout"
    store = get_store().rollouts
    assert store.for_endpoint(EP) == [] and store.weights(EP) is None
