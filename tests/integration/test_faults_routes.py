"""Canary, shadow and fallback when each route fails (issue "Hardening…", not yet covered),
on a real server: a model that fails → the fallback answers, else 503 (504 after
``timeout_ms``, the fallback's wait included); a shadow that raises or hangs never changes or
delays the client's answer; every failure is a record in the prediction log."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from tests.integration.serving_helpers import (
    NAME,
    adult_frame,
    failing_model,
    register_adult,
    running,
    slow_model,
)

import airlock
from airlock.predlog import log_locations, read_prediction_log
from airlock.serve import EndpointConfig

TIMEOUT_MS = 300


@pytest.fixture
def models(adult_sample: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("AIRLOCK_TEST_SLOW_S", "2.0")
    v1, v2 = register_adult(adult_sample.head(400), versions=2)
    x = adult_frame(adult_sample).head(1)
    return {"v1": v1, "v2": v2,
            "broken": f"broken@{airlock.register_model('broken', failing_model).version}",
            "broken2": f"broken2@{airlock.register_model('broken2', failing_model).version}",
            "slow": f"slow@{airlock.register_model('slow', slow_model).version}",
            "body": {"dataframe_split": {"columns": list(x.columns),
                                         "data": x.values.tolist()}}}


def _config(**extra: Any) -> EndpointConfig:
    return EndpointConfig.model_validate({"name": NAME, "timeout_ms": TIMEOUT_MS, **extra})


def _log() -> list[dict[str, Any]]:
    uri, spool = log_locations()
    return list(read_prediction_log(NAME, artifact_uri=uri, spool_dir=spool, columns=[
        "request_id", "route", "model", "version", "status", "error_code", "error"]).to_pylist())


def _post(c: httpx.Client, url: str, body: Any, rid: str, **headers: str) -> httpx.Response:
    return c.post(f"{url}/invocations", json=body, headers={"X-Request-Id": rid, **headers})


def _counter(metrics: str, name: str, label: str, value: str) -> float:
    key = f'airlock_{name}_total{{endpoint="{NAME}",{label}="{value}"}} '
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith(key))


def test_a_failing_canary_falls_back_and_the_primary_is_untouched(models: dict[str, Any]
                                                                  ) -> None:
    cfg = _config(routes=[{"model": f"{NAME}@{models['v1']}", "weight": 50},
                          {"model": models["broken"], "weight": 50}],
                  sticky={"header": "X-User"}, fallback=f"{NAME}@{models['v2']}")
    with running(cfg) as url, httpx.Client(timeout=30) as c:
        answers = {f"r{i}": _post(c, url, models["body"], f"r{i}", **{"X-User": f"u{i}"})
                   for i in range(40)}
        metrics = c.get(f"{url}/metrics").text
    assert {r.status_code for r in answers.values()} == {200}
    routes = {rid: r.headers["x-airlock-route"] for rid, r in answers.items()}
    assert set(routes.values()) == {"primary", "fallback"}  # the canary never answered
    for rid, r in answers.items():
        version = models["v1"] if routes[rid] == "primary" else models["v2"]
        assert r.headers["x-airlock-model-version"] == f"{NAME}@{version}"
    fell_back = list(routes.values()).count("fallback")
    assert _counter(metrics, "fallbacks", "reason", "error") == fell_back
    logged = {row["request_id"]: row for row in _log()}
    assert set(logged) == set(answers)  # each client request once, as the client saw it
    for rid, row in logged.items():
        assert (row["route"], row["status"]) == (routes[rid], 200)


def test_a_failing_canary_without_fallback_fails_only_its_share(models: dict[str, Any]
                                                                ) -> None:
    cfg = _config(routes=[{"model": f"{NAME}@{models['v1']}", "weight": 50},
                          {"model": models["broken"], "weight": 50}],
                  sticky={"header": "X-User"})
    with running(cfg) as url, httpx.Client(timeout=30) as c:
        answers = {f"r{i}": _post(c, url, models["body"], f"r{i}", **{"X-User": f"u{i}"})
                   for i in range(40)}
    failed = {rid for rid, r in answers.items() if r.status_code != 200}
    assert failed and len(failed) < len(answers)
    for rid in failed:
        r = answers[rid]
        assert r.status_code == 503
        assert r.json()["error"] == f"{models['broken']} failed: RuntimeError"
    logged = {row["request_id"]: row for row in _log()}
    assert set(logged) == set(answers)
    for rid, row in logged.items():
        if rid in failed:
            assert (row["route"], row["model"], row["status"], row["error_code"]) == (
                "canary", "broken", 503, "ModelUnavailable")
        else:
            assert (row["route"], row["status"]) == ("primary", 200)


def test_when_the_fallback_fails_too_the_answer_is_one_503(models: dict[str, Any]) -> None:
    cfg = _config(routes=[{"model": models["broken"]}], fallback=models["broken2"])
    with running(cfg) as url, httpx.Client(timeout=30) as c:
        r = _post(c, url, models["body"], "both-down")
    assert r.status_code == 503
    assert r.json()["error"] == (f"{models['broken']} failed (error) and the fallback "
                                 f"{models['broken2']} failed too: RuntimeError")
    [row] = _log()
    assert (row["request_id"], row["status"], row["error_code"]) == (
        "both-down", 503, "ModelUnavailable")


def test_a_hanging_fallback_is_cut_at_the_timeout(models: dict[str, Any]) -> None:
    """The primary fails at once and the fallback hangs: the client hears 504 after
    ``timeout_ms``, not whenever (if ever) the fallback answers."""
    cfg = _config(routes=[{"model": models["broken"]}], fallback=models["slow"])
    with running(cfg) as url, httpx.Client(timeout=30) as c:
        started = time.perf_counter()
        r = _post(c, url, models["body"], "fallback-hangs")
        took = time.perf_counter() - started
    assert r.status_code == 504, r.text
    assert r.json()["error"] == (f"{models['broken']} failed (error) and the fallback "
                                 f"{models['slow']} did not answer within {TIMEOUT_MS} ms")
    assert took < 1.5, took  # the slow fallback takes 2 s
    [row] = _log()
    assert (row["status"], row["error_code"]) == (504, "ModelTimeout")


def test_a_failing_shadow_never_touches_the_answer(models: dict[str, Any]) -> None:
    route = [{"model": f"{NAME}@{models['v1']}"}]
    with running(_config(routes=route, logging={"enabled": False})) as url, \
            httpx.Client(timeout=30) as c:
        plain = _post(c, url, models["body"], "plain").json()
    with running(_config(routes=route, shadow=models["broken"])) as url, \
            httpx.Client(timeout=30) as c:
        answers = [_post(c, url, models["body"], f"s{i}") for i in range(5)]
        deadline = time.monotonic() + 10  # shadows run after the answer: wait for the last
        while (errors := _counter(c.get(f"{url}/metrics").text, "errors", "kind",
                                  "shadow")) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
    for r in answers:
        assert r.status_code == 200 and r.json() == plain
        assert r.headers["x-airlock-route"] == "primary"
    assert errors == 5
    rows = _log()
    client = [row for row in rows if row["route"] != "shadow"]
    shadow = [row for row in rows if row["route"] == "shadow"]
    assert sorted(row["request_id"] for row in client) == [f"s{i}" for i in range(5)]
    assert {row["status"] for row in client} == {200}
    assert sorted(row["request_id"] for row in shadow) == [f"s{i}" for i in range(5)]
    for row in shadow:  # a model failure, as on a route: 503 ModelUnavailable
        assert (row["model"], row["status"], row["error_code"], row["error"]) == (
            "broken", 503, "ModelUnavailable", f"{models['broken']} failed: RuntimeError")


def test_a_hanging_shadow_never_delays_the_answer(models: dict[str, Any]) -> None:
    cfg = _config(routes=[{"model": f"{NAME}@{models['v1']}"}], shadow=models["slow"])
    took = []
    with running(cfg) as url, httpx.Client(timeout=30) as c:
        for i in range(6):
            started = time.perf_counter()
            r = _post(c, url, models["body"], f"h{i}")
            took.append(time.perf_counter() - started)
            assert r.status_code == 200 and r.headers["x-airlock-route"] == "primary"
    assert max(took) < 1.0, took  # the shadow takes 2 s a call (and times out at 0.3 s)
    # the server waited for its shadows when it stopped: each one's record is there
    shadow = [row for row in _log() if row["route"] == "shadow"]
    assert sorted(row["request_id"] for row in shadow) == [f"h{i}" for i in range(6)]
    for row in shadow:
        assert (row["status"], row["error_code"], row["error"]) == (
            504, "ModelTimeout", f"{models['slow']} did not answer within {TIMEOUT_MS} ms")


@pytest.mark.parametrize("fallback", [True, False])
def test_a_late_answer_is_never_logged_beside_what_the_client_got(models: dict[str, Any],
                                                                  fallback: bool) -> None:
    """The primary answers after ``timeout_ms``: the client got the fallback's answer (or a
    504), and that is the one record of the request; the primary's late answer is not a
    second one (the monitor would count the request twice, once as a success it never was)."""
    extra = {"fallback": f"{NAME}@{models['v1']}"} if fallback else {}
    cfg = _config(routes=[{"model": models["slow"]}], **extra)
    with running(cfg) as url, httpx.Client(timeout=30) as c:
        answers = [_post(c, url, models["body"], f"late{i}") for i in range(2)]
    # the server stopped only once the slow model's calls were over
    assert [r.status_code for r in answers] == [200, 200] if fallback else [504, 504]
    rows = sorted(_log(), key=lambda row: row["request_id"])
    want = ("fallback", 200, None) if fallback else ("primary", 504, "ModelTimeout")
    assert [(row["request_id"], row["route"], row["status"], row["error_code"])
            for row in rows] == [(f"late{i}", *want) for i in range(2)]
