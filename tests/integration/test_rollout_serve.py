"""Progressive rollouts against a real ``airlock serve`` process with a real canary, real
HTTP clients and real feedback through /v1/feedback; the controller is the real CLI
(``airlock rollout run``) in its own process.

- a candidate that fails every request is rolled back at once (candidate weight 0, an audit
  event with the evidence) and the server stops routing to it without a restart;
- a candidate that is right far less often (labels through /v1/feedback) is rolled back;
- an equal candidate advances step by step to 100 % and is promoted through the alias; the
  controller killed (SIGKILL) after a step continues from the stored step when started
  again, once the dead one's lease has run out, and no step is taken twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.integration.rollout_helpers import always_one, serve_process, traffic
from tests.integration.serving_helpers import (
    FEATURES,
    NAME,
    adult_frame,
    failing_model,
    register_adult,
)

import airlock
from airlock.experiments import rollout_status, start_rollout
from airlock.registry import resolve
from airlock.store import get_store

pytestmark = pytest.mark.slow  # real server and controller processes

ADMIN = "rollout-test-admin-token"


def _until(check: Callable[[], Any], what: str, timeout: float = 90,
           alive: Callable[[], None] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _data(adult_sample: Any) -> tuple[list[list[Any]], list[int]]:
    x = adult_frame(adult_sample).head(400)
    y = (adult_sample["income"].to_numpy()[:400] == ">50K").astype(int).tolist()
    return [[v.item() if hasattr(v, "item") else v for v in row] for row in x.values], y


def _endpoint(tmp_path: Path, canary: str) -> Path:
    path = tmp_path / "endpoint.yaml"
    path.write_text(yaml.safe_dump({
        "name": NAME, "reload_interval_s": 0.2, "timeout_ms": 30_000,
        "routes": [{"model": f"{NAME}@production", "weight": 100},
                   {"model": canary, "name": "canary", "weight": 0}],
        "auth": {"tokens": [ADMIN], "protect_inference": False}}))
    return path


_started: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_controller_left() -> Iterator[None]:
    """Every controller a test started is killed and reaped when it ends, failed or not."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def _controller(*args: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "airlock", "rollout", "run", NAME, "--poll", "0.2", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    _started.append(proc)
    return proc


def _still_running(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    """A check for :func:`_until`: fails at once, with what the controller and the rollout
    said, when the rollout ended (e.g. rolled back) or the controller exited."""
    def check() -> None:
        r = rollout_status(NAME).rollout
        if r.active and proc.poll() is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(
            f"the rollout is {r.status} at step {r.step} ({r.reason}); verdict: "
            f"{r.verdict and r.verdict.get('checks')}; controller exit {proc.returncode}: "
            f"{err.decode()[-2000:]}{out.decode()[-2000:]}")
    return check


def _finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"the controller did not finish: {err.decode()[-2000:]}"
                             f"{out.decode()[-2000:]}") from None
    return proc.returncode, out.decode() + err.decode()


def _served_weights(url: str) -> dict[str, float]:
    r = httpx.get(f"{url}/v1/admin/status", headers={"Authorization": f"Bearer {ADMIN}"})
    weights: dict[str, float] = r.json()["weights"]
    return weights


def _rolled_back(adult_sample: Any, tmp_path: Path, candidate: Any, rules: dict[str, Any],
                 *, feedback: bool) -> tuple[Any, dict[str, Any], str]:
    """Serve production plus a canary of ``candidate``, roll it out, run the controller
    until it ends; returns (the rollout, the client counters, the served weights after)."""
    register_adult(adult_sample.head(600), versions=1)
    bad = airlock.register_model(NAME, candidate).version
    rows, labels = _data(adult_sample)
    with serve_process(_endpoint(tmp_path, f"{NAME}@{bad}"), tmp_path / "logs",
                       admin_token=ADMIN) as url:
        start_rollout(NAME, f"{NAME}@{bad}", steps=[50, 100], interval="60s", rules=rules)
        _until(lambda: _served_weights(url) == {"primary": 50.0, "canary": 50.0},
               "the server to take the first step's weights")
        with traffic(url, rows, FEATURES, labels, feedback=feedback) as stats:
            started = time.monotonic()
            code, out = _finish(_controller("--lease", "5"))
            took = time.monotonic() - started
        assert code == 1, out  # a rollback is a failed check
        assert took < 60, took  # at once, not at the end of the 60 s step
        _until(lambda: _served_weights(url) == {"primary": 100.0, "canary": 0.0},
               "the server to route nothing to the candidate")
        with httpx.Client() as c:  # no restart: the next requests all go to the control
            routes = {c.post(f"{url}/invocations", json={"dataframe_split": {
                "columns": FEATURES, "data": [rows[i]]}}).headers["x-airlock-route"]
                for i in range(20)}
        assert routes == {"primary"}
    return rollout_status(NAME).rollout, stats, out


def test_a_failing_candidate_is_rolled_back_at_once(adult_sample: Any, tmp_path: Path) -> None:
    rules = {"min_requests": 20, "guardrails": {"error_rate": {"max_increase": 0.05}}}
    r, stats, out = _rolled_back(adult_sample, tmp_path, failing_model, rules,
                                 feedback=False)
    assert stats["statuses"].get(503, 0) > 0 and not stats["errors"]
    assert r.status == "rolled-back" and r.weights == {"primary": 100.0, "canary": 0.0}
    assert r.reason is not None and r.reason.startswith("error_rate breached")
    event = get_store().events.list(subject=f"endpoints/{NAME}", action="rollout.rolled_back")
    assert len(event) == 1
    evidence = event[0].payload["evidence"]
    check = next(c for c in evidence["checks"] if c["name"] == "error_rate")
    assert check["outcome"] == "breach" and check["ci_low"] > 0.05 and check["lift"] > 0.9
    assert evidence["units"]["canary"] > 0 and evidence["units"]["primary"] > 0
    assert "rollback" in out
    assert resolve(f"{NAME}@production").version == 1  # nothing promoted


def test_a_less_accurate_candidate_is_rolled_back_on_feedback(adult_sample: Any,
                                                              tmp_path: Path) -> None:
    rules = {"min_requests": 20, "guardrails": {"error_rate": {"max_increase": 0.05}},
             "success": {"accuracy": {"max_decrease": 0.05, "min_labelled": 20}}}
    r, stats, _ = _rolled_back(adult_sample, tmp_path, always_one, rules, feedback=True)
    assert set(stats["statuses"]) == {200}  # it never failed: only its answers were wrong
    assert r.status == "rolled-back" and r.reason is not None
    assert r.reason.startswith("accuracy_decrease breached"), r.reason
    check = next(c for c in r.verdict["checks"] if c["name"] == "accuracy_decrease")
    accuracy = r.verdict["analysis"]["variants"]
    assert accuracy["primary"]["accuracy"]["value"] > accuracy["canary"]["accuracy"]["value"]
    assert check["ci_low"] > 0.05
    assert get_store().events.list(subject=f"endpoints/{NAME}", action="rollout.rolled_back")


def test_an_equal_candidate_is_promoted_and_a_killed_controller_resumes(
        adult_sample: Any, tmp_path: Path) -> None:
    _, v2 = register_adult(adult_sample.head(600), versions=2)
    rows, labels = _data(adult_sample)
    rules = {"min_requests": 15, "max_windows": 20,
             "guardrails": {"error_rate": {"max_increase": 0.2},
                            "latency_p95": {"max_increase_ms": 5000},
                            "drift": {"inputs": True, "predictions": False, "min_rows": 10,
                                      "columns": ["age", "sex"]}}}
    with serve_process(_endpoint(tmp_path, f"{NAME}@{v2}"), tmp_path / "logs",
                       admin_token=ADMIN) as url, \
            traffic(url, rows, FEATURES, labels) as stats:
        start_rollout(NAME, f"{NAME}@{v2}", steps=[30, 60, 100], interval="1s", rules=rules)
        first = _controller("--lease", "12")  # outlives the next one's start-up
        _until(lambda: get_store().rollouts.get(rollout_status(NAME).rollout.id).step >= 1,
               "the first advance", alive=_still_running(first))
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()
        at_kill = rollout_status(NAME).rollout
        assert at_kill.status == "running" and at_kill.step in (1, 2)
        _until(lambda: _served_weights(url)["canary"] >= 60.0, "the server to move on")
        code, out = _finish(_controller("--lease", "8", "--json"))  # waits out its lease
        assert code == 0, out
        assert '"action": "skip"' in out  # it found the dead controller's lease first
        _until(lambda: _served_weights(url) == {"primary": 100.0, "canary": 0.0},
               "the server to go back to the config's weights")
    r = rollout_status(NAME).rollout
    assert r.status == "completed" and r.step == 2
    assert resolve(f"{NAME}@production").version == v2
    events = get_store().events.list(subject=f"endpoints/{NAME}", action="rollout.")
    actions = [(e.action, e.payload.get("step")) for e in events]
    assert actions == [("rollout.started", None), ("rollout.advanced", 1),
                       ("rollout.advanced", 2), ("rollout.promoted", None)], actions
    assert events[-1].payload["promotion"]["to"] == v2
    assert not stats["errors"] and set(stats["statuses"]) == {200}
    assert stats["routes"].get("canary", 0) > 0
    assert get_store().events.verify().ok
