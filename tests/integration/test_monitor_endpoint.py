"""`monitor_endpoint` over the log a real server wrote: Adult traffic through /invocations,
delayed labels through /v1/feedback, drift against the training data's profile, and alert
rules evaluated on that same log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.integration.serving_helpers import NAME, adult_frame, register_adult, running

from airlock.monitor import (
    Profile,
    load_rules,
    monitor_endpoint,
    run_alerts,
    save_endpoint_report,
)
from airlock.predlog import log_locations, read_prediction_log
from airlock.serve import EndpointConfig


def _body(x: Any) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(x.columns), "data": x.values.tolist()}}


@pytest.fixture
def traffic(adult_sample: Any, tmp_path: Path) -> dict[str, Any]:
    """Two bursts a second apart (the second with older people), half of them labelled."""
    register_adult(adult_sample, versions=1)
    x = adult_frame(adult_sample)
    y = (adult_sample["income"].to_numpy() == ">50K").astype(int)
    ref = tmp_path / "adult.profile"
    Profile.from_data(adult_sample.drop("income").to_arrow()).save(ref)
    config = EndpointConfig.model_validate({"name": NAME,
                                            "routes": [{"model": f"{NAME}@production"}]})
    sent: list[tuple[str, int]] = []
    with running(config) as url, httpx.Client(base_url=url) as c:
        for burst in range(2):
            part = x.iloc[burst * 300:(burst + 1) * 300].copy()
            if burst:
                part["age"] = part["age"] + 25
            for i in range(0, 300, 10):  # requests of 10 rows
                r = c.post("/invocations", json=_body(part.iloc[i:i + 10]))
                assert r.status_code == 200, r.text
                sent.append((r.headers["x-request-id"], burst * 300 + i))
            bad = c.post("/invocations", json={"dataframe_split": {"columns": ["nope"],
                                                                   "data": [[1]]}})
            assert bad.status_code in (400, 422)
            time.sleep(1.05)
        for rid, row in sent[::2]:
            assert c.post("/v1/feedback", json={"request_id": rid,
                                                "label": int(y[row])}).status_code == 200
    return {"sent": sent, "y": y, "reference": ref}


def test_endpoint_report_over_a_served_log(traffic: dict[str, Any], tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score

    report = monitor_endpoint(NAME, window="1s", reference=traffic["reference"])
    uri, spool = log_locations()
    log = read_prediction_log(NAME, artifact_uri=uri, spool_dir=spool).to_pandas()
    first = log[log["row"] == 0]
    assert report.totals["requests"] == len(first)
    assert report.totals["rows"] == len(log)
    assert report.totals["latency_ms"]["p95"] == pytest.approx(
        np.percentile(first["latency_ms"].astype(float), 95))
    assert len(report.windows) >= 2
    # performance: each label is joined to its request's first row
    truth = {rid: int(traffic["y"][row]) for rid, row in traffic["sent"][::2]}
    joined = first[first["request_id"].isin(truth)]
    labelled = sum((w.performance or {}).get("labelled", 0) for w in report.windows)
    assert labelled == len(truth) == len(joined)
    per_window = [(w.start, w.end, w.performance) for w in report.windows if w.performance]
    for start, end, perf in per_window:
        rows = joined[(joined["ts"] >= start) & (joined["ts"] < end)]
        y = rows["request_id"].map(truth)
        yhat = rows["outputs"].map(lambda o: o["prediction"])
        assert perf["accuracy"] == pytest.approx(accuracy_score(y, yhat))
    # the second burst is 25 years older: age drifts there, not in the first
    burst = {rid: int(i >= 30) for i, (rid, _) in enumerate(traffic["sent"])}
    seen = set()
    for w in report.windows:
        rows = first[(first["ts"] >= w.start) & (first["ts"] < w.end)
                     & (first["status"] == 200)]
        if rows.empty:  # a window holding only a rejected request: no drift to read
            assert w.input_drift is None
            continue
        (which,) = set(rows["request_id"].map(burst))  # a burst may span windows, not mix
        age = w.input_drift.columns["age"] if w.input_drift else None
        assert age is not None and age.method == "wasserstein"
        assert age.statistic is not None
        if which:
            assert age.drifted and age.statistic > 1.0  # 25 years: ~2 reference stds
        else:
            assert age.statistic < 0.5
        seen.add(which)
    assert seen == {0, 1}
    out = report.to_dict()
    assert out["windows"][-1]["input_drift"]["columns"]["age"]["drifted"] is True
    html = save_endpoint_report(report, tmp_path / "endpoint.html").read_text()
    assert "Serving per window" in html and "Drift over time" in html and "http" not in \
        html.split("<body>")[1].lower().replace("http-equiv", "")


def test_alert_rules_on_a_served_log(traffic: dict[str, Any], tmp_path: Path) -> None:
    doc = {"endpoint": NAME, "window": "1h", "notify": {"log": False}, "rules": [
        {"name": "errors", "kind": "error_rate", "threshold": 0.01},
        {"name": "fresh", "kind": "freshness", "max_age": "10m"},
        {"name": "acc", "kind": "performance", "metric": "accuracy", "min": 0.5},
        {"name": "age", "kind": "column_drift", "reference": str(traffic["reference"]),
         "column": "age", "threshold": 0.1, "statistic": "psi"}]}
    result = run_alerts(load_rules(doc), state_path=tmp_path / "state.json")
    by = {o.rule: o for o in result.outcomes}
    # every answered request is in the log: the two bad payloads (4xx) count as errors
    assert by["errors"].details["requests"] == 62 and by["errors"].details["errors"] == 2
    assert by["errors"].value == pytest.approx(2 / 62) and by["errors"].firing
    assert by["fresh"].value is not None and by["fresh"].value < 600
    assert not by["fresh"].firing
    assert by["acc"].value is not None and by["acc"].value > 0.6 and not by["acc"].firing
    assert by["age"].firing and by["age"].details["statistic"] == "psi"


def picky_model(df: Any) -> dict[str, Any]:
    """A model that raises on some inputs (a negative ``x``), not because they are invalid."""
    if (df["x"] < 0).any():
        raise RuntimeError("negative x")
    return {"prediction": (df["x"] > 1).astype("int64").to_numpy()}


def test_failed_requests_are_logged_and_counted(tmp_path: Path) -> None:
    """Issue 12.1: 4 of 7 requests answered 503 → 7 requests, error rate 4/7, alert fires;
    the 503s keep their (redacted) inputs; a request rejected before scoring is logged."""
    import pandas as pd

    import airlock

    example = pd.DataFrame({"x": [1.0, 2.0], "note": ["a", "b"]})
    version = airlock.register_model("picky", picky_model, input_example=example).version
    config = EndpointConfig.model_validate({
        "name": "picky", "routes": [{"model": f"picky@{version}"}],
        "logging": {"redact": {"note": "mask"}}})
    xs = [2.0, -1.0, 3.0, -2.0, -3.0, 0.5, -4.0]
    with running(config) as url, httpx.Client(base_url=url) as c:
        codes = [c.post("/invocations", json={"dataframe_split": {
            "columns": ["x", "note"], "data": [[x, "secret"]]}}).status_code for x in xs]
    assert codes == [200, 503, 200, 503, 503, 200, 503]
    report = monitor_endpoint("picky", window="1h", drift=False)
    assert report.totals["requests"] == 7 and report.totals["errors"] == 4
    assert report.totals["error_rate"] == pytest.approx(4 / 7)
    assert report.totals["statuses"] == {"200": 3, "503": 4}
    rules = {"endpoint": "picky", "window": "1h", "notify": {"log": False}, "rules": [
        {"name": "errors", "kind": "error_rate", "threshold": 0.1, "min_requests": 1}]}
    (outcome,) = run_alerts(load_rules(rules), state_path=tmp_path / "s.json").outcomes
    assert outcome.value == pytest.approx(4 / 7) and outcome.firing
    logged = read_prediction_log("picky").to_pylist()
    failed = [r for r in logged if r["status"] == 503]
    assert len(failed) == 4 and all(r["error_code"] == "ModelUnavailable" for r in failed)
    assert all("picky" in r["error"] and "RuntimeError" in r["error"] for r in failed)
    assert sorted(r["inputs"]["x"] for r in failed) == [-4.0, -3.0, -2.0, -1.0]
    assert {r["inputs"]["note"] for r in logged} == {"***"}  # redacted as configured
    assert all(r["outputs"] is None and r["latency_ms"] > 0 for r in failed)
    assert {r["error_code"] for r in logged if r["status"] == 200} == {None}

    with running(config) as url:  # rejected before scoring: not JSON
        bad = httpx.post(f"{url}/invocations", content=b"{nope",
                         headers={"content-type": "application/json"})
    assert bad.status_code == 400
    (row,) = [r for r in read_prediction_log("picky").to_pylist() if r["status"] == 400]
    assert row["request_id"] == bad.headers["x-request-id"] and row["route"] == "rejected"
    assert row["inputs"] is None and row["error_code"] == "UsageError" and row["error"]
    assert monitor_endpoint("picky", window="1h", drift=False).totals["requests"] == 8


def test_shadow_traffic_is_reported_apart(adult_sample: Any) -> None:
    """Issue 12.2: 12 client requests to an endpoint with a shadow → requests 12; the shadow
    has its own requests, latency and agreement with what the clients got."""
    v1, v2 = register_adult(adult_sample, versions=2)
    x = adult_frame(adult_sample)
    config = EndpointConfig.model_validate({
        "name": NAME, "routes": [{"model": f"{NAME}@{v1}", "weight": 0.9},
                                 {"model": f"{NAME}@{v1}", "weight": 0.1, "name": "canary"}],
        "shadow": f"{NAME}@{v2}"})
    with running(config) as url, httpx.Client(base_url=url) as c:
        for i in range(12):
            r = c.post("/invocations", json=_body(x.iloc[i * 5:(i + 1) * 5]))
            assert r.status_code == 200, r.text
    report = monitor_endpoint(NAME, window="1h", drift=False)
    t = report.totals
    log = read_prediction_log(NAME).to_pandas()
    client, shadow = log[log["route"] != "shadow"], log[log["route"] == "shadow"]
    assert len(shadow) == 60  # the shadow answered every row
    assert t["requests"] == 12 and t["rows"] == 60 and t["errors"] == 0
    assert sum(t["routes"].values()) == 12 and "shadow" not in t["routes"]
    first = client[client["row"] == 0]
    assert t["latency_ms"]["p95"] == pytest.approx(
        np.percentile(first["latency_ms"].astype(float), 95))
    s = t["shadow"]
    assert s["requests"] == 12 and s["errors"] == 0 and s["compared"] == 60
    sfirst = shadow[shadow["row"] == 0]
    assert s["latency_ms"]["p50"] == pytest.approx(
        np.percentile(sfirst["latency_ms"].astype(float), 50))
    pairs = client.merge(shadow, on=["request_id", "row"], suffixes=("", "_s"))
    agree = (pairs["outputs"].map(lambda o: o["prediction"])
             == pairs["outputs_s"].map(lambda o: o["prediction"])).mean()
    assert s["agreement"] == pytest.approx(agree)
    (win,) = report.windows
    assert win.serving["requests"] == 12 and win.serving["shadow"]["requests"] == 12


def test_prediction_drift_is_against_the_evaluations_predictions(adult_sample: Any,
                                                                  tmp_path: Path) -> None:
    """Issue 12.3: with no reference given, prediction drift compares the logged outputs with
    the profile of the served version's predictions recorded at evaluation time, and says
    so in the table, the JSON and the HTML."""
    import polars as pl

    import airlock
    from airlock.monitor import evaluation_reference

    (v1,) = register_adult(adult_sample, versions=1)
    data = adult_sample.with_columns(y=(pl.col("income") == ">50K").cast(pl.Int64)) \
        .drop("income")
    ev = airlock.evaluate(f"{NAME}@{v1}", data, target="y", bootstrap=0)
    profile, what = evaluation_reference(NAME, v1)
    assert profile is not None and set(profile.columns) >= {"prediction"}
    assert what == (f"predictions of evaluation {ev.id} of {NAME} v{v1} "
                    f"({adult_sample.height:,} rows)")
    config = EndpointConfig.model_validate({"name": NAME,
                                            "routes": [{"model": f"{NAME}@production"}]})
    x = adult_frame(adult_sample)
    with running(config) as url, httpx.Client(base_url=url) as c:
        for i in range(0, 200, 20):
            assert c.post("/invocations", json=_body(x.iloc[i:i + 20])).status_code == 200
    report = monitor_endpoint(NAME, window="1h")
    assert report.prediction_reference == what
    (win,) = report.windows
    assert win.prediction_drift is not None and win.prediction_drift.reference == what
    assert "prediction" in win.prediction_drift.columns
    assert win.missing == {"input_drift": "no reference given for the inputs",
                           "label_drift": "no labelled request in this window"}
    out = report.to_dict()
    assert out["windows"][0]["prediction_drift"]["reference"] == what
    html = save_endpoint_report(report, tmp_path / "r.html").read_text()
    assert f"evaluation {ev.id}" in html
    # a version never evaluated: missing, with the reason, never the first window
    assert evaluation_reference(NAME, 99)[0] is None


def test_redacted_columns_are_skipped_and_the_others_scored(adult_sample: Any,
                                                            tmp_path: Path) -> None:
    """Issue 12.4: hash/mask turn a column into strings; drift skips it (saying why) and
    scores the other columns instead of giving up on the whole endpoint."""
    register_adult(adult_sample, versions=1)
    x = adult_frame(adult_sample)
    ref = tmp_path / "adult.profile"
    Profile.from_data(adult_sample.drop("income").to_arrow()).save(ref)
    config = EndpointConfig.model_validate({
        "name": NAME, "routes": [{"model": f"{NAME}@production"}],
        "logging": {"redact": {"age": "hash", "race": "mask", "education": "drop"}}})
    with running(config) as url, httpx.Client(base_url=url) as c:
        for i in range(0, 200, 20):
            assert c.post("/invocations", json=_body(x.iloc[i:i + 20])).status_code == 200
    report = monitor_endpoint(NAME, window="1h", reference=ref)
    (win,) = report.windows
    drift = win.input_drift
    assert drift is not None, win.missing
    assert {"age", "race", "education"}.isdisjoint(drift.columns)
    assert {"hours_per_week", "sex", "workclass"} <= set(drift.columns)
    assert drift.skipped == {
        "age": "redacted in the prediction log (redact: hash): its logged values are not "
               "comparable with the reference",
        "race": "redacted in the prediction log (redact: mask): its logged values are not "
                "comparable with the reference",
        "education": "dropped from the prediction log (redact: drop)",
        "fnlwgt": "not in the logged inputs"}  # in the reference, not a model input
    assert report.to_dict()["windows"][0]["input_drift"]["skipped"] == drift.skipped
    rules = {"endpoint": NAME, "window": "1h", "notify": {"log": False}, "rules": [
        {"name": "share", "kind": "drift_share", "reference": str(ref), "threshold": 0.9}]}
    run = run_alerts(load_rules(rules), state_path=tmp_path / "s.json")
    (outcome,) = run.outcomes
    assert outcome.value is not None
    (result,) = run.drift.values()
    assert set(result.skipped) == {"age", "race", "education"}
