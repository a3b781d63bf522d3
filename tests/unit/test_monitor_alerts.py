"""Alert rules over a prediction log written with the real PredictionLog: values against
numpy/scikit-learn oracles, state (a breach fires once, resolves once), the webhook against a
real HTTP receiver on loopback, Prometheus gauges, rules-file errors, and a log scanned in a
stream with bounded memory."""

from __future__ import annotations

import json
import threading
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from airlock._yaml import PROBLEM_SEPARATOR
from airlock.errors import NO_SUCH_FILE, NotFound, UsageError
from airlock.monitor import (
    Notification,
    _logscan,
    load_rules,
    monitor_endpoint,
    run_alerts,
    save_endpoint_report,
    write_prometheus,
)
from airlock.predlog import (
    PredictionLog,
    log_locations,
    make_batch_records,
    make_feedback,
    read_prediction_log,
)

EP = "scoring"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
MS = int(NOW.timestamp() * 1000)
MIN = 60_000


def _where() -> dict[str, Any]:
    uri, spool = log_locations()
    return {"artifact_uri": uri, "spool_dir": spool}


def write_log(ts_ms: np.ndarray, *, latency: np.ndarray | None = None,
              status: np.ndarray | None = None, rows: np.ndarray | None = None,
              prefix: str = "r", seed: int = 0, age_shift: float = 0.0,
              endpoint: str = EP, roll_every: int | None = None) -> list[str]:
    """Requests at ``ts_ms`` with Adult-like inputs and a binary classifier's outputs."""
    rng = np.random.default_rng(seed)
    k = len(ts_ms)
    counts = rows if rows is not None else np.ones(k, np.int64)
    n = int(counts.sum())
    ids = [f"{prefix}{i}" for i in range(k)]
    age = rng.normal(40 + age_shift, 8, n)
    age[rng.random(n) < 0.1] = np.nan
    inputs = pa.table({"age": pa.array(age, from_pandas=True),
                       "sex": rng.choice(["Male", "Female"], n)})
    proba = rng.random(n)
    outputs = pa.table({"prediction": (proba >= 0.5).astype(np.int64), "proba_1": proba})
    lat = latency if latency is not None else rng.gamma(2.0, 10.0, k)
    st = status if status is not None else np.full(k, 200)
    step = roll_every or k
    with PredictionLog(endpoint, **_where(), segment_max_seconds=3600) as plog:
        offs = np.r_[0, np.cumsum(counts)]
        for a in range(0, k, step):
            b = min(a + step, k)
            rows_a, rows_b = int(offs[a]), int(offs[b])
            plog.append(make_batch_records(
                request_ids=ids[a:b], row_counts=counts[a:b].tolist(),
                ts_ms=ts_ms[a:b].tolist(), latency_ms=lat[a:b].tolist(),
                status=st[a:b].tolist(), endpoint=endpoint, route="primary", model="m",
                version=1, inputs=inputs.slice(rows_a, rows_b - rows_a),
                outputs=outputs.slice(rows_a, rows_b - rows_a))).result()
            if roll_every:
                plog.roll()
    return ids


def write_feedback(ids: list[str], labels: list[Any], ts_ms: int = MS) -> None:
    with PredictionLog(EP, **_where(), stream="feedback") as fb:
        fb.append(make_feedback(ids, labels, ts_ms)).result()


def rules_doc(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"endpoint": EP, "window": "15m", "notify": {"log": False}, **top,
            "rules": list(rules)}


class Recorder:
    def __init__(self) -> None:
        self.notes: list[Notification] = []

    def send(self, note: Notification) -> None:
        self.notes.append(note)


def run(doc: dict[str, Any], tmp_path: Path, now: datetime = NOW,
        rec: Recorder | None = None) -> Any:
    return run_alerts(load_rules(doc), state_path=tmp_path / "state.json", now=now,
                      notifiers=[rec] if rec is not None else None)


def minutes_ago(n: int, spread: float = 1.0) -> np.ndarray:
    """``n`` request times spread over the ``spread`` minutes before NOW."""
    return MS - 1 - np.linspace(0, spread * MIN - 2, n).astype(np.int64)


# -- state: fire once, resolve once ---------------------------------------------------------
def test_breach_fires_once_then_resolves_once(tmp_path: Path) -> None:
    write_log(minutes_ago(40, 10), latency=np.full(40, 500.0), prefix="slow")
    later = NOW + timedelta(minutes=30)
    write_log(MS + 29 * MIN - np.arange(40) * 1000, latency=np.full(40, 20.0), prefix="fast")
    doc = rules_doc({"name": "p95", "kind": "latency", "threshold_ms": 250})
    rec = Recorder()
    first, second = run(doc, tmp_path, rec=rec), run(doc, tmp_path, rec=rec)
    assert [n.state for n in rec.notes] == ["firing"]
    assert first.firing == second.firing == ["p95"]
    assert first.outcomes[0].change == "firing" and second.outcomes[0].change is None
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["rules"]["p95"]["firing"] is True
    assert state["rules"]["p95"]["since"] == NOW.isoformat()
    third, fourth = run(doc, tmp_path, later, rec), run(doc, tmp_path, later, rec)
    assert [n.state for n in rec.notes] == ["firing", "resolved"]
    assert third.outcomes[0].change == "resolved" and fourth.outcomes[0].change is None
    assert third.firing == fourth.firing == []
    assert rec.notes[1].value == pytest.approx(20.0)
    assert not list(tmp_path.glob(".state.json.*.tmp"))  # atomic writes leave no temp file


def test_no_data_keeps_the_state(tmp_path: Path) -> None:
    write_log(minutes_ago(10), latency=np.full(10, 900.0))
    doc = rules_doc({"name": "p95", "kind": "latency", "threshold_ms": 250})
    rec = Recorder()
    assert run(doc, tmp_path, rec=rec).firing == ["p95"]
    quiet = run(doc, tmp_path, NOW + timedelta(hours=2), rec)  # nothing logged since
    assert quiet.outcomes[0].value is None and quiet.firing == ["p95"]
    assert [n.state for n in rec.notes] == ["firing"]


# -- webhook against a real receiver ---------------------------------------------------------
class Receiver:
    """An HTTP server on 127.0.0.1 recording each POSTed JSON body; answers with the queued
    statuses first, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.bodies: list[Any] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers["Content-Length"])
                outer.bodies.append((self.headers["Content-Type"],
                                     json.loads(self.rfile.read(size))))
                code = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver([503]) as r:
        yield r


def test_webhook_payload_is_exact_and_retried(tmp_path: Path, receiver: Receiver) -> None:
    status = np.array([200] * 7 + [500] * 3)
    write_log(minutes_ago(10), status=status)
    doc = rules_doc({"name": "errors", "kind": "error_rate", "threshold": 0.2},
                    notify={"webhook": {"url": receiver.url, "timeout": 2, "retries": 2},
                            "log": False})
    result = run_alerts(load_rules(doc), state_path=tmp_path / "s.json", now=NOW)
    assert result.firing == ["errors"] and result.errors == ()
    assert len(receiver.bodies) == 2  # a 503, retried, then accepted
    content_type, body = receiver.bodies[-1]
    assert content_type == "application/json"
    assert body == {"rule": "errors", "state": "firing", "value": 0.3, "threshold": 0.2,
                    "endpoint": EP, "at": NOW.isoformat(),
                    "details": {"kind": "error_rate", "requests": 10, "errors": 3}}


def test_undelivered_notification_is_announced_again(tmp_path: Path) -> None:
    write_log(minutes_ago(10), status=np.full(10, 503))
    with Receiver([400]) as dead:
        doc = rules_doc({"name": "errors", "kind": "error_rate", "threshold": 0.2},
                        notify={"webhook": {"url": dead.url, "retries": 0}, "log": False})
        first = run_alerts(load_rules(doc), state_path=tmp_path / "s.json", now=NOW)
        assert len(first.errors) == 1 and "HTTP 400" in first.errors[0]
        assert first.firing == []  # not recorded as announced
        second = run_alerts(load_rules(doc), state_path=tmp_path / "s.json", now=NOW)
    assert second.errors == () and second.firing == ["errors"]
    assert [b["state"] for _, b in dead.bodies] == ["firing", "firing"]


def test_log_notifier_writes_one_stderr_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    write_log(minutes_ago(10), status=np.full(10, 500))
    doc = rules_doc({"name": "errors", "kind": "error_rate", "threshold": 0.5},
                    notify={"log": True})
    run_alerts(load_rules(doc), state_path=tmp_path / "s.json", now=NOW)
    err = capsys.readouterr().err.splitlines()
    assert err == [f"alert FIRING: rule errors on endpoint {EP}: value 1, threshold 0.5"]
    assert any(r.name == "airlock.monitor.alerts" and "FIRING" in r.message
               for r in caplog.records)


# -- rule values against oracles -------------------------------------------------------------
def test_p95_latency_equals_numpy_percentile(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lat = rng.lognormal(3.0, 0.8, 300)
    rows = rng.integers(1, 4, 300)  # multi-row requests: latency counts once per request
    write_log(minutes_ago(300, 14), latency=lat, rows=rows)
    write_log(MS - 20 * MIN - np.arange(50), latency=np.full(50, 1e5), prefix="old")
    doc = rules_doc(*[{"name": f"p{q}", "kind": "latency", "percentile": q,
                       "threshold_ms": 1e9} for q in (50, 95, 99)])
    out = run(doc, tmp_path)
    table = read_prediction_log(EP, **_where(), since=NOW - timedelta(minutes=15), until=NOW)
    logged = pc.filter(table.column("latency_ms"), pc.equal(table.column("row"), 0))
    oracle = logged.to_numpy().astype(np.float64)
    assert len(oracle) == 300
    for o, q in zip(out.outcomes, (50, 95, 99), strict=True):
        assert o.value == pytest.approx(float(np.percentile(oracle, q)), rel=1e-12)
        assert o.breached is False and o.details["requests"] == 300


def test_error_rate_rule(tmp_path: Path) -> None:
    status = np.array([200] * 90 + [500] * 6 + [422] * 4 + [200] * 0)
    write_log(minutes_ago(100, 10), status=status)
    doc = rules_doc({"name": "e", "kind": "error_rate", "threshold": 0.1},
                    {"name": "e-min", "kind": "error_rate", "threshold": 0.01,
                     "min_requests": 101})
    out = run(doc, tmp_path).outcomes
    assert out[0].value == pytest.approx(0.1) and out[0].breached is True
    assert out[1].value is None and out[1].breached is None  # too few requests
    assert out[1].to_dict()["value_reason"] == "too few requests in the window (100)"


def test_freshness_rule(tmp_path: Path) -> None:
    doc = rules_doc({"name": "fresh", "kind": "freshness", "max_age": "10m"})
    empty = run(doc, tmp_path)
    assert empty.outcomes[0].value == float("inf") and empty.firing == ["fresh"]
    assert empty.to_dict()["rules"][0]["value"] is None
    assert empty.to_dict()["rules"][0]["value_reason"] == "infinite: no row has been logged yet"
    write_log(np.array([MS - 20 * MIN, MS - 25 * MIN]))
    stale = run(doc, tmp_path).outcomes[0]
    assert stale.value == pytest.approx(1200.0) and stale.threshold == 600.0 and stale.firing
    assert stale.details["newest"] == (NOW - timedelta(minutes=20)).isoformat()
    fresh = run(doc, tmp_path, NOW - timedelta(minutes=15)).outcomes[0]
    assert fresh.value == pytest.approx(300.0) and not fresh.firing
    assert fresh.change == "resolved"


def test_performance_rule_equals_sklearn_accuracy(tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score, roc_auc_score

    ids = write_log(minutes_ago(400, 14), seed=5)
    rng = np.random.default_rng(9)
    labelled = [i for i in ids if rng.random() < 0.6]
    labels = rng.integers(0, 2, len(labelled)).tolist()
    write_feedback(labelled[:20], [1 - v for v in labels[:20]], MS - 5 * MIN)
    write_feedback(labelled, labels)  # later labels win over the first 20
    doc = rules_doc({"name": "acc", "kind": "performance", "metric": "accuracy", "min": 0.9},
                    {"name": "auc", "kind": "performance", "metric": "roc_auc", "min": 0.4},
                    {"name": "few", "kind": "performance", "metric": "accuracy", "min": 0.9,
                     "min_labels": 10_000})
    acc, auc, few = run(doc, tmp_path).outcomes
    preds = read_prediction_log(EP, **_where()).to_pandas()
    truth = dict(zip(labelled, labels, strict=True))
    joined = preds[preds["request_id"].isin(truth)]
    y = joined["request_id"].map(truth).to_numpy()
    yhat = joined["outputs"].map(lambda o: o["prediction"]).to_numpy()
    score = joined["outputs"].map(lambda o: o["proba_1"]).to_numpy()
    assert acc.details["labelled"] == len(labelled) == len(joined)
    assert acc.value == pytest.approx(accuracy_score(y, yhat), abs=1e-15)
    assert acc.firing  # random predictions: far below 0.9
    assert auc.value == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert few.value is None and few.breached is None


def test_null_rate_rule(tmp_path: Path) -> None:
    write_log(minutes_ago(500, 10), seed=2)
    table = read_prediction_log(EP, **_where())
    ages = pc.struct_field(table.column("inputs"), "age")
    doc = rules_doc({"name": "n", "kind": "null_rate", "column": "age", "threshold": 0.05})
    out = run(doc, tmp_path).outcomes[0]
    assert out.value == pytest.approx(ages.null_count / len(ages))
    assert out.firing and out.details["rows"] == 500


def test_drift_rules_and_prometheus_gauges(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(1)
    ref = tmp_path / "ref.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"age": rng.normal(40, 8, 4000),
                             "sex": rng.choice(["Male", "Female"], 4000)}), ref)
    write_log(minutes_ago(600, 10), age_shift=12.0)
    doc = rules_doc({"name": "share", "kind": "drift_share", "reference": str(ref),
                     "threshold": 0.5},
                    {"name": "age-ks", "kind": "column_drift", "reference": str(ref),
                     "column": "age", "statistic": "ks", "threshold": 0.3})
    result = run(doc, tmp_path)
    share, age = result.outcomes
    assert share.value == 0.5 and share.firing and share.details["drifted_columns"] == ["age"]
    table = read_prediction_log(EP, **_where())
    cur = pc.struct_field(table.column("inputs"), "age").drop_null().to_numpy()
    oracle = ks_2samp(pq.read_table(ref).column("age").to_numpy(), cur).statistic
    assert age.value == pytest.approx(oracle, abs=1e-12) and age.firing
    prom = tmp_path / "airlock.prom"
    write_prometheus(prom, result.outcomes, result.drift)
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    key = (("column", "age"), ("endpoint", EP), ("method", "ks"), ("reference", str(ref)))
    assert samples[("airlock_drift_statistic", key)] == pytest.approx(oracle)
    assert samples[("airlock_drift_share", (("endpoint", EP), ("reference", str(ref))))] == 0.5
    assert samples[("airlock_alert_firing", (("endpoint", EP), ("kind", "drift_share"),
                                             ("rule", "share")))] == 1.0


# -- rules files -----------------------------------------------------------------------------
@pytest.mark.parametrize(("doc", "message"), [
    ({"rules": [{"name": "a", "kind": "latency", "threshold_ms": 1}]},
     "rules[0] (a): no endpoint"),
    ({"endpoint": EP, "rules": [{"name": "a", "kind": "latency", "threshold_ms": -1}]},
     "rules[0].threshold_ms: input should be greater than 0, got -1"),
    ({"endpoint": EP, "rules": [{"name": "a", "kind": "error_rate", "threshold": 2}]},
     "rules[0].threshold: input should be less than or equal to 1, got 2"),
    ({"endpoint": EP, "rules": [{"name": "a", "kind": "nope"}]},
     "rules[0]: an unknown kind 'nope'; use one of drift_share, column_drift, null_rate, "
     "freshness, latency, error_rate, performance"),
    ({"endpoint": EP, "rules": [{"name": "a"}]},
     "rules[0]: needs a 'kind' (drift_share, column_drift, null_rate, freshness, latency, "
     "error_rate, performance)"),
    ({"endpoint": EP, "rules": [{"name": "a", "kind": "latency", "threshold_ms": 5,
                                 "treshold": 1}]},
     "rules[0]: unknown key 'treshold'; did you mean 'threshold_ms'?"),
    ({"endpoint": EP, "rules": [{"name": "a", "kind": "freshness", "max_age": "soon"}]},
     "rules[0].max_age: invalid duration 'soon'"),
    ({"endpoint": EP, "rules": [{"name": "a", "kind": "performance", "metric": "acuracy",
                                 "min": 1}]},
     "rules[0].metric: an unknown metric 'acuracy'; use one of "),
    ({"endpoint": EP, "rules": [{"name": "a", "kind": "performance", "metric": "accuracy"}]},
     "rules[0]: give exactly one of 'min'"),
    ({"endpoint": EP, "rules": [{"name": "a", "kind": "freshness", "max_age": "1m"},
                                {"name": "a", "kind": "freshness", "max_age": "2m"}]},
     "the rule name 'a' is used twice"),
    ({"endpoint": EP, "rules": []},
     "rules: list should have at least 1 item after validation, not 0"),
    ({"endpoint": EP, "notify": {"webhook": {"url": "ftp://x"}},
      "rules": [{"name": "a", "kind": "freshness", "max_age": "1m"}]},
     "notify.webhook.url: must be an http:// or https:// URL"),
])
def test_bad_rules_name_the_field(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as err:
        load_rules(doc)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_every_rule_error_is_listed_with_its_line_and_did_you_mean() -> None:
    # issue 12 item 20: `threshold` on a latency rule was hidden behind
    # "rules[0].threshold_ms: Field required (and 2 more)"
    text = (f"endpoint: {EP}\nrules:\n  - name: p95\n    kind: latency\n    threshold: 250\n"
            "  - name: errs\n    kind: error_rate\n    threshold: 3\n    min_requests: 0\n")
    with pytest.raises(UsageError) as err:
        load_rules(text)
    assert str(err.value).split(PROBLEM_SEPARATOR) == [
        "<alert rules>: rules[0]: unknown key 'threshold' (line 5); did you mean "
        "'threshold_ms'?",
        "rules[0].threshold_ms: required but missing (line 3)",
        "rules[1].threshold: input should be less than or equal to 1, got 3 (line 8)",
        "rules[1].min_requests: input should be greater than or equal to 1, got 0 (line 9)",
    ]


def test_rules_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(UsageError, match=r"bad\.yaml: malformed YAML: .* \(line 2\)$"):
        load_rules(bad)
    with pytest.raises(NotFound) as info:
        load_rules(tmp_path / "missing.yaml")
    assert str(info.value) == NO_SUCH_FILE.format(what="alert rules file",
                                                  path=tmp_path / "missing.yaml")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("endpoint: &e x\nrules:\n  - {name: a, kind: freshness, max_age: *e}\n")
    with pytest.raises(UsageError, match=r"bomb\.yaml: YAML anchors and aliases"):
        load_rules(bomb)
    example = Path(__file__).resolve().parents[2] / "examples" / "alerts.yaml"
    rules = load_rules(example)
    assert {r.kind for r in rules.rules} >= {"latency", "error_rate", "freshness",
                                             "performance", "drift_share"}


# -- streaming -------------------------------------------------------------------------------
def test_large_log_is_scanned_in_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 200_000
    ts = MS - 6 * 3600_000 + np.arange(n, dtype=np.int64) * (6 * 3600_000 // n)
    write_log(ts, latency=np.full(n, 7.0), roll_every=10_000)
    segments = list(Path(_where()["artifact_uri"]).rglob("*.parquet"))
    assert len(segments) >= 20
    whole = read_prediction_log(EP, **_where()).nbytes
    peaks, batches = [0], [0]
    real = _logscan._scan

    def watched(*args: Any, **kw: Any) -> Iterator[pa.RecordBatch]:
        for batch in real(*args, **kw):
            batches[0] += 1
            peaks[0] = max(peaks[0], pa.total_allocated_bytes())
            yield batch

    monkeypatch.setattr(_logscan, "_scan", watched)
    base = pa.total_allocated_bytes()
    tracemalloc.start()
    report = monitor_endpoint(EP, window="1h", drift=False)
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.totals["requests"] == n and len(report.windows) == 6
    expected = np.unique(ts // 3600_000, return_counts=True)[1].tolist()  # hours of epoch
    assert [w.serving["requests"] for w in report.windows] == expected
    assert batches[0] >= 20  # batch by batch, never the whole log at once
    assert peaks[0] - base < whole / 4, (peaks[0] - base, whole)
    assert py_peak < 16 * 2**20  # per-request latencies (8 bytes each), not the rows


# -- endpoint report -------------------------------------------------------------------------
def test_endpoint_report_over_several_windows(tmp_path: Path) -> None:
    from scipy.stats import ks_2samp

    hour = 3600_000
    base = MS - 3 * hour
    for h in range(3):
        status = np.array([200] * (40 - 4 * h) + [500] * (4 * h))
        write_log(base + h * hour + np.arange(40) * 60_000, status=status,
                  latency=np.arange(40, dtype=float) * (h + 1), prefix=f"h{h}-", seed=h,
                  age_shift=15.0 * (h == 2))
    report = monitor_endpoint(EP, window="1h", since=NOW - timedelta(hours=3), until=NOW)
    assert [w.start for w in report.windows] == [NOW - timedelta(hours=3 - h) for h in range(3)]
    assert [w.serving["error_rate"] for w in report.windows] == [0.0, 0.1, 0.2]
    for h, w in enumerate(report.windows):
        lat = np.arange(40, dtype=float) * (h + 1)
        assert w.serving["latency_ms"]["p95"] == pytest.approx(np.percentile(lat, 95))
        assert w.serving["routes"] == {"primary": 40}
        assert w.serving["throughput_rps"] == pytest.approx(40 / 3600)
    # prediction drift: never against an unnamed reference (model "m" was never evaluated)
    for w in report.windows:
        assert w.prediction_drift is None
        assert w.missing["prediction_drift"] == ("m v1 has no stored evaluation to compare its "
                                                 "predictions with (run airlock eval, or pass "
                                                 "a prediction reference)")
    assert report.prediction_reference is None
    assert report.to_dict()["prediction_reference_missing"].startswith("m v1 has no stored")
    log = read_prediction_log(EP, **_where()).to_pandas()
    proba = log["outputs"].map(lambda o: o["proba_1"]).to_numpy()
    ok = (log["status"] < 400).to_numpy()  # drift reads only what a model answered
    first, second = proba[:40][ok[:40]], proba[40:80][ok[40:80]]
    oracle = ks_2samp(first, second)
    given = pa.table({"prediction": (first >= 0.5).astype(np.int64), "proba_1": first})
    named = monitor_endpoint(EP, window="1h", since=NOW - timedelta(hours=3), until=NOW,
                             prediction_reference=given)
    later = named.windows[1].prediction_drift
    assert later is not None and set(later.columns) == {"prediction", "proba_1"}
    assert later.reference == "the prediction reference" == named.prediction_reference
    assert named.to_dict()["windows"][1]["prediction_drift"]["reference"] == later.reference
    col = later.columns["proba_1"]
    assert col.method == "ks" and col.p_value == pytest.approx(oracle.pvalue)
    # input drift against a reference table: only the third window's ages moved
    rng = np.random.default_rng(7)
    ref = pa.table({"age": rng.normal(40, 8, 800), "sex": rng.choice(["Male", "Female"],
                                                                      800)})  # KS: < 1000 rows
    with_ref = monitor_endpoint(EP, window="1h", reference=ref)
    drifted = [w.input_drift.columns["age"].drifted for w in with_ref.windows
               if w.input_drift is not None]
    assert drifted == [False, False, True]
    out = with_ref.to_dict()
    assert "age" in out["windows"][2]["input_drift"]["drifted_columns"]
    # drift reads the requests a model answered: 32 of the third window's 40 (8 failed)
    third = with_ref.windows[2].input_drift
    assert third is not None and third.current_rows == 32
    assert json.loads(json.dumps(out)) == out  # plain JSON
    html = save_endpoint_report(with_ref, tmp_path / "r.html").read_text()
    assert "Serving per window" in html and "Drift over time" in html


def test_endpoint_report_errors() -> None:
    with pytest.raises(UsageError, match="has no logged predictions"):
        monitor_endpoint("nobody")
    with pytest.raises(UsageError, match="invalid window '1 fortnight'"):
        monitor_endpoint(EP, window="1 fortnight")
    with pytest.raises(UsageError, match="must be before until"):
        monitor_endpoint(EP, since=NOW, until=NOW - timedelta(hours=1))
    with pytest.raises(UsageError, match="invalid endpoint name"):
        monitor_endpoint("../etc")
