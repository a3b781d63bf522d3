"""Hot reload racing alias moves under traffic (issue "Hardening…", not yet covered): a real
``airlock serve`` process serves ``name@production`` and reloads every 50 ms while clients
send requests without pause and another thread moves the alias back and forth. No request
fails, every answer names one of the two versions (and the prediction log agrees with the
header), and after the last move the endpoint settles on the final version."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.integration.serving_helpers import (
    FEATURES,
    NAME,
    adult_frame,
    register_adult,
    serving_process,
)

import airlock
from airlock.predlog import log_locations, read_prediction_log

pytestmark = pytest.mark.slow  # real server processes

MOVES = 24
CLIENTS = 3
SETTLE_S = 15.0
ADMIN = "reload-test-admin-token"


def _oip(adult_sample: Any) -> dict[str, Any]:
    x = adult_frame(adult_sample).head(2)
    return {"inputs": [{"name": c, "shape": [2],
                        "datatype": "INT64" if x[c].dtype.kind == "i" else "BYTES",
                        "data": [int(v) if x[c].dtype.kind == "i" else str(v)
                                 for v in x[c].tolist()]} for c in FEATURES]}


def test_alias_moves_under_traffic_fail_no_request_and_settle(adult_sample: Any,
                                                              tmp_path: Path) -> None:
    v1, v2 = register_adult(adult_sample.head(600), versions=2)
    allowed = {f"{NAME}@{v1}", f"{NAME}@{v2}"}
    config = tmp_path / "endpoint.yaml"
    config.write_text(yaml.safe_dump({
        "name": NAME, "routes": [{"model": f"{NAME}@production"}],
        "reload_interval_s": 0.05, "timeout_ms": 30_000,
        "auth": {"tokens": [ADMIN], "protect_inference": False}}))
    split = {"dataframe_split": {"columns": FEATURES,
                                 "data": adult_frame(adult_sample).head(2).values.tolist()}}
    oip = _oip(adult_sample)
    answers: list[tuple[str, int, str, str]] = []  # (request id, status, version, route)
    failures: list[str] = []
    stop = threading.Event()

    def client(k: int, url: str) -> None:
        with httpx.Client(timeout=30) as c:
            i = 0
            while not stop.is_set():
                rid = f"c{k}-{i}"
                try:
                    if i % 2:
                        r = c.post(f"{url}/v2/models/{NAME}/infer", json=oip,
                                   headers={"X-Request-Id": rid})
                        body_version = f"{NAME}@{r.json().get('model_version')}"
                    else:
                        r = c.post(f"{url}/invocations", json=split,
                                   headers={"X-Request-Id": rid})
                        body_version = r.headers.get("x-airlock-model-version", "-")
                    version = r.headers.get("x-airlock-model-version", "-")
                    if r.status_code != 200 or version != body_version:
                        failures.append(f"{rid}: {r.status_code} {version} {r.text[:200]}")
                    answers.append((rid, r.status_code, version,
                                    r.headers.get("x-airlock-route", "-")))
                except httpx.HTTPError as exc:
                    failures.append(f"{rid}: {type(exc).__name__}: {exc}")
                i += 1

    rng = random.Random(13)
    with serving_process("--config", str(config),
                         env={"AIRLOCK_TOKENS": f"ops:viewer={ADMIN}"}) as (url, _proc):
        threads = [threading.Thread(target=client, args=(k, url)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + 30
            while len(answers) < 20 and time.monotonic() < deadline:
                time.sleep(0.02)  # traffic flows before the first move
            for move in range(MOVES):
                target = v2 if move % 2 == 0 else v1
                airlock.set_alias(f"{NAME}@{target}", "production")
                # moves both faster and slower than the reload interval
                time.sleep(rng.uniform(0.005, 0.15))
            final = f"{NAME}@{v2 if (MOVES - 1) % 2 == 0 else v1}"
            moved_at = len(answers)
            deadline = time.monotonic() + SETTLE_S
            settled = False
            while time.monotonic() < deadline:  # bounded: the reload interval is 50 ms
                tail = [a[2] for a in answers[moved_at:]][-10:]
                if len(tail) == 10 and set(tail) == {final}:
                    settled = True
                    break
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        status = httpx.get(f"{url}/v1/admin/status",
                           headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert not failures, f"{len(failures)} failed requests, first: {failures[:5]}"
    assert len(answers) > 100, len(answers)
    assert {a[2] for a in answers} == allowed  # both versions answered: reloads happened
    assert settled, f"not settled on {final}: last answers {[a[2] for a in answers[-10:]]}"
    assert [s["version"] for s in status["slots"]] == [int(final.rsplit("@", 1)[1])]
    uri, spool = log_locations()
    logged = read_prediction_log(NAME, artifact_uri=uri, spool_dir=spool,
                                 columns=["request_id", "version", "status"]).to_pylist()
    by_id: dict[str, set[int]] = {}
    for row in logged:
        by_id.setdefault(row["request_id"], set()).add(row["version"])
        assert row["status"] == 200, row
    for rid, _status, version, _route in answers:  # the log says what the client was told
        assert by_id.get(rid) == {int(version.rsplit("@", 1)[1])}, (rid, version, by_id.get(rid))


BROKEN = """
import os

import numpy as np

if os.path.exists(os.environ.get("AIRLOCK_TEST_BROKEN_MARKER", "/nonexistent")):
    raise RuntimeError("this model's module cannot start here")


def predict(df):
    return {"prediction": np.zeros(len(df), dtype=np.int64)}
"""


def _served_version(c: httpx.Client, url: str, body: dict[str, Any]) -> str:
    r = c.post(f"{url}/invocations", json=body)
    assert r.status_code == 200, r.text
    return str(r.headers["x-airlock-model-version"])


def test_a_reload_that_raises_keeps_serving_and_keeps_reloading(
        adult_sample: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The alias moves to a version whose loading raises a plain exception in the server
    (its module fails at import there): the server keeps answering with the version it has,
    and when the alias moves on, the next reload still happens."""
    v1, v2 = register_adult(adult_sample.head(600), versions=2)
    (tmp_path / "flaky_model.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    import flaky_model  # type: ignore[import-not-found]

    v3 = airlock.register_model(NAME, flaky_model.predict).version
    marker = tmp_path / "broken"
    marker.touch()
    config = tmp_path / "endpoint.yaml"
    config.write_text(yaml.safe_dump({"name": NAME, "routes": [{"model": f"{NAME}@production"}],
                                      "reload_interval_s": 0.05}))
    body = {"dataframe_split": {"columns": FEATURES,
                                "data": adult_frame(adult_sample).head(1).values.tolist()}}
    env = {"PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}",
           "AIRLOCK_TEST_BROKEN_MARKER": str(marker)}
    with serving_process("--config", str(config), "--log-level", "warning", env=env) \
            as (url, proc), httpx.Client(timeout=30) as c:
        assert _served_version(c, url, body) == f"{NAME}@{v1}"
        airlock.set_alias(f"{NAME}@{v3}", "production")
        seen = []
        for _ in range(20):  # about 20 reload attempts, each one failing
            seen.append(_served_version(c, url, body))
            time.sleep(0.05)
        assert set(seen) == {f"{NAME}@{v1}"}
        airlock.set_alias(f"{NAME}@{v2}", "production")
        deadline = time.monotonic() + SETTLE_S
        while _served_version(c, url, body) != f"{NAME}@{v2}":
            assert time.monotonic() < deadline, "the reload loop stopped after a failure"
            time.sleep(0.05)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    text = err.decode()
    assert "RuntimeError: this model's module cannot start here" in text
    assert "still serving" in text and "Traceback" not in text
