"""The server as clients see it: a real uvicorn on 127.0.0.1, driven by tritonclient, MLflow's
scoring client and plain HTTP, with Adult models from the test's own store."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from tests.integration.serving_helpers import (
    FEATURES,
    NAME,
    NUMERIC,
    adult_frame,
    register_adult,
    running,
    serving_process,
)

import airlock
from airlock.errors import UsageError
from airlock.predlog import log_locations, read_prediction_log
from airlock.serve import EndpointConfig, create_app


def airlock_home_file(name: str, text: str) -> Any:
    from airlock._config import settings

    path = settings().home / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def served(adult_sample: Any) -> dict[str, Any]:
    versions = register_adult(adult_sample)
    x = adult_frame(adult_sample).head(200)
    expected = airlock.load_model(f"{NAME}@{versions[0]}").predict(x)
    return {"versions": versions, "x": x, "expected": expected}


def _config(**extra: Any) -> EndpointConfig:
    return EndpointConfig.model_validate(
        {"name": NAME, "routes": [{"model": f"{NAME}@production"}], **extra})


def _split(x: pd.DataFrame) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(x.columns), "data": x.values.tolist()}}


# -- Open Inference Protocol v2 with the real Triton client ---------------------------------
def test_tritonclient_metadata_and_infer(served: dict[str, Any]) -> None:
    import tritonclient.http as triton

    x = served["x"].head(7)
    with running(_config()) as url:
        client = triton.InferenceServerClient(url.removeprefix("http://"))
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready(NAME)
        meta = client.get_model_metadata(NAME)
        assert [i["name"] for i in meta["inputs"]] == FEATURES
        assert meta["versions"] == [str(served["versions"][0])]
        for binary in (True, False):
            inputs = []
            for col in FEATURES:
                values = x[col].to_numpy()
                if col in NUMERIC:
                    arr = values.astype(np.int64)
                    inp = triton.InferInput(col, [len(x)], "INT64")
                else:
                    arr = values.astype(object)
                    inp = triton.InferInput(col, [len(x)], "BYTES")
                inp.set_data_from_numpy(arr, binary_data=binary)
                inputs.append(inp)
            outputs = [triton.InferRequestedOutput("prediction", binary_data=binary),
                       triton.InferRequestedOutput("proba_1", binary_data=binary)]
            result = client.infer(NAME, inputs, outputs=outputs, request_id="r-1")
            want = served["expected"].head(7)
            np.testing.assert_array_equal(result.as_numpy("prediction"), want["prediction"])
            np.testing.assert_allclose(result.as_numpy("proba_1"), want["proba_1"], rtol=1e-12)
            assert result.get_response()["model_version"] == str(served["versions"][0])
            assert result.get_response()["id"] == "r-1"


def test_oip_single_2d_tensor_in_signature_order(served: dict[str, Any]) -> None:
    x = served["x"].head(3)
    body = {"inputs": [{"name": "input-0", "shape": [3, len(FEATURES)], "datatype": "BYTES",
                        "data": [str(v) for v in x.to_numpy().ravel()]}]}
    with running(_config()) as url:
        r = httpx.post(f"{url}/v2/models/{NAME}/infer", json=body,
                       headers={"X-Request-Id": "abc-123"})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "abc-123"
    assert r.headers["x-airlock-model-version"] == f"{NAME}@{served['versions'][0]}"
    out = {o["name"]: o["data"] for o in r.json()["outputs"]}
    assert out["prediction"] == served["expected"]["prediction"].head(3).tolist()


# -- MLflow scoring protocol ---------------------------------------------------------------
def test_mlflow_scoring_client_and_every_format(served: dict[str, Any]) -> None:
    with warnings.catch_warnings():  # mlflow's own import-time warnings are not ours
        warnings.simplefilter("ignore")
        from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    x = served["x"].head(20)
    want = served["expected"].head(20)
    with running(_config()) as url:
        port = int(url.rsplit(":", 1)[1])
        got = ScoringServerClient("127.0.0.1", port).invoke(x).get_predictions()
        bodies = [
            _split(x),
            {"dataframe_records": x.to_dict(orient="records")},
            {"instances": x.to_dict(orient="records")},
            {"instances": x.values.tolist()},
            {"inputs": {c: x[c].tolist() for c in x.columns}},
        ]
        table = {"X-Airlock-Outputs": "table"}
        answers = [httpx.post(f"{url}/invocations", json=b, headers=table) for b in bodies]
        csv = httpx.post(f"{url}/invocations", content=x.to_csv(index=False),
                         headers={"Content-Type": "text/csv", **table})
        labels = [httpx.post(f"{url}/invocations", json=b) for b in bodies]
    np.testing.assert_array_equal(got[0].to_numpy(), want["prediction"].to_numpy())
    for r in [*answers, csv]:
        assert r.status_code == 200, r.text
        preds = pd.DataFrame(r.json()["predictions"])
        np.testing.assert_array_equal(preds["prediction"], want["prediction"])
        np.testing.assert_allclose(preds["proba_1"], want["proba_1"], rtol=1e-12)
    for r in labels:  # as MLflow answers: the labels only
        assert r.json() == {"predictions": want["prediction"].tolist()}


# -- bad input is a 4xx naming the problem, never a 500 --------------------------------------
def test_bad_inputs_get_clear_4xx(served: dict[str, Any]) -> None:
    x = served["x"].head(2)
    missing = _split(x.drop(columns=["age"]))
    wrong_type = _split(x.assign(age=["old", "young"]))
    null_age = _split(x)
    null_age["dataframe_split"]["data"][0][0] = None  # age is the first column
    cases = [
        ("/invocations", {"content": b"{not json"}, 400, "not valid JSON"),
        ("/invocations", {"json": missing}, 422, "'age'"),
        ("/invocations", {"json": wrong_type}, 422, "'age'"),
        ("/invocations", {"json": null_age}, 422, "'age'"),
        ("/invocations", {"json": {"dataframe_split": {}, "instances": []}}, 400, "exactly one"),
        ("/invocations", {"content": b"x" * 3000}, 413, "at most 2048"),
        (f"/v2/models/{NAME}/infer", {"json": {"inputs": []}}, 400, "inputs"),
        (f"/v2/models/{NAME}/infer", {"json": {"inputs": [
            {"name": "age", "shape": [2], "datatype": "INT64", "data": [1]}]}}, 422, "'age'"),
        ("/v2/models/nope/infer", {"json": {"inputs": []}}, 404, "nope"),
        (f"/v2/models/{NAME}/versions/99/infer", {"json": {"inputs": []}}, 404, "version 99"),
    ]
    with running(_config(max_body_bytes=2048)) as url:
        for path, kwargs, status, needle in cases:
            r = httpx.post(url + path, **kwargs)
            assert r.status_code == status, (path, r.text)
            assert needle in r.json()["error"], (path, r.json())
            assert r.headers["x-request-id"]
        ok = httpx.post(f"{url}/invocations", json=_split(x))  # still serving after all that
    assert ok.status_code == 200


# -- batching ------------------------------------------------------------------------------
def _hammer(url: str, bodies: list[dict[str, Any]], threads: int = 16,
            headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """POST every body from ``threads`` keep-alive clients at once."""
    clients = [httpx.Client(headers=headers) for _ in range(threads)]
    chunks = [list(range(i, len(bodies), threads)) for i in range(threads)]

    def post(k: int) -> list[tuple[int, httpx.Response]]:
        return [(i, clients[k].post(f"{url}/invocations", json=bodies[i])) for i in chunks[k]]

    try:
        with ThreadPoolExecutor(threads) as pool:
            done = [pair for part in pool.map(post, range(threads)) for pair in part]
    finally:
        for c in clients:
            c.close()
    return [r for _, r in sorted(done, key=lambda p: p[0])]


def test_micro_batching_merges_requests_and_answers_match(served: dict[str, Any]) -> None:
    x = served["x"]
    bodies = [_split(x.iloc[i:i + 1]) for i in range(len(x))]
    cfg = _config(batching={"max_batch_size": 32, "max_wait_ms": 20})
    with running(cfg) as url:
        answers = _hammer(url, bodies, headers={"X-Airlock-Outputs": "table"})
        metrics = httpx.get(f"{url}/metrics").text
    got = [r.json()["predictions"][0] for r in answers]
    assert all(r.status_code == 200 for r in answers)
    want = served["expected"].to_dict(orient="records")
    for g, w in zip(got, want, strict=True):
        assert g["prediction"] == w["prediction"]
        assert g["proba_1"] == pytest.approx(w["proba_1"], rel=1e-12)
    count = _metric(metrics, "airlock_batch_rows_count")
    total = _metric(metrics, "airlock_batch_rows_sum")
    assert total == len(x) and count < len(x), (count, total)  # some calls held > 1 row


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{"))


# -- canary, sticky, fallback, shadow, reload ---------------------------------------------
def test_canary_split_and_sticky_key(served: dict[str, Any]) -> None:
    v1, v2 = served["versions"]
    routes = [{"model": f"{NAME}@production", "weight": 90},
              {"model": f"{NAME}@{v2}", "weight": 10}]
    body = _split(served["x"].head(1))
    n = 10_000
    config = {"name": NAME, "routes": routes, "logging": {"enabled": False},
              "timeout_ms": 30_000}
    path = airlock_home_file("canary.yaml", yaml.safe_dump(config))
    with serving_process("--config", str(path)) as (url, _):  # its own process and GIL
        answers = _hammer(url, [body] * n, threads=16)
    share = sum(r.headers["x-airlock-route"] == "canary" for r in answers) / n
    assert {r.status_code for r in answers} == {200}
    assert abs(share - 0.10) < 0.02, share
    with running(_config(routes=routes, sticky={"header": "X-User"})) as url, \
            httpx.Client() as c:
        def variant(user: str) -> str:
            r = c.post(f"{url}/invocations", json=body, headers={"X-User": user})
            return r.headers["x-airlock-model-version"]

        first = {f"u{i}": variant(f"u{i}") for i in range(60)}
        again = {u: variant(u) for u in first}
    assert again == first  # one user, one variant, every time
    assert set(first.values()) == {f"{NAME}@{v1}", f"{NAME}@{v2}"}


def test_fallback_answers_when_the_route_fails_or_is_slow(served: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from tests.integration.serving_helpers import failing_model, slow_model

    monkeypatch.setenv("AIRLOCK_TEST_SLOW_S", "2.0")
    bad = airlock.register_model("broken", failing_model).version
    slow = airlock.register_model("slow", slow_model).version
    body = _split(served["x"].head(2))
    for ref, reason in ((f"broken@{bad}", "error"), (f"slow@{slow}", "timeout")):
        cfg = EndpointConfig.model_validate({
            "name": NAME, "routes": [{"model": ref}], "fallback": f"{NAME}@production",
            "timeout_ms": 300})
        with running(cfg) as url:
            r = httpx.post(f"{url}/invocations", json=body)
            metrics = httpx.get(f"{url}/metrics").text
        assert r.status_code == 200, r.text
        assert r.headers["x-airlock-route"] == "fallback"
        assert r.headers["x-airlock-model-version"] == f"{NAME}@{served['versions'][0]}"
        assert f'airlock_fallbacks_total{{endpoint="{NAME}",reason="{reason}"}} 1.0' in metrics
        without = cfg.model_copy(update={"fallback": None})
        with running(without) as url:
            r = httpx.post(f"{url}/invocations", json=body)
        assert r.status_code == (504 if reason == "timeout" else 503)
        assert ref.split("@")[0] in r.json()["error"]


def test_shadow_is_logged_never_returned(served: dict[str, Any]) -> None:
    v1, v2 = served["versions"]
    cfg = _config(shadow=f"{NAME}@{v2}", logging={"redact": {"sex": "hash", "race": "mask"}})
    with running(cfg) as url:
        r = httpx.post(f"{url}/invocations", json=_split(served["x"].head(3)),
                       headers={"X-Request-Id": "shadowed"})
    assert r.headers["x-airlock-model-version"] == f"{NAME}@{v1}"
    uri, spool = log_locations()
    log = read_prediction_log(NAME, artifact_uri=uri, spool_dir=spool).to_pylist()
    mine = [row for row in log if row["request_id"] == "shadowed"]
    assert sorted({(row["route"], row["version"]) for row in mine}) == [
        ("primary", v1), ("shadow", v2)]
    assert len(mine) == 6
    raw_sex = set(served["x"]["sex"].head(3))
    for row in mine:
        assert row["inputs"]["sex"] not in raw_sex  # hashed before it reached the disk
        assert row["inputs"]["race"] == "***"


def test_alias_move_is_picked_up_without_failed_requests(served: dict[str, Any]) -> None:
    v1, v2 = served["versions"]
    body = _split(served["x"].head(1))
    with running(_config(reload_interval_s=0.2)) as url, httpx.Client() as c:
        before = c.post(f"{url}/invocations", json=body).headers["x-airlock-model-version"]
        airlock.set_alias(f"{NAME}@{v2}", "production")
        seen, statuses = [], []
        for _ in range(400):
            r = c.post(f"{url}/invocations", json=body)
            statuses.append(r.status_code)
            seen.append(r.headers["x-airlock-model-version"])
            if seen[-1].endswith(f"@{v2}"):
                break
    assert before == f"{NAME}@{v1}"
    assert set(statuses) == {200}
    assert seen[-1] == f"{NAME}@{v2}"


# -- feedback, metrics, auth, openapi ------------------------------------------------------
def test_feedback_is_stored_and_metrics_are_exported(served: dict[str, Any]) -> None:
    with running(_config()) as url:
        r = httpx.post(f"{url}/invocations", json=_split(served["x"].head(1)))
        rid = r.headers["x-request-id"]
        fb = httpx.post(f"{url}/v1/feedback", json={"request_id": rid, "label": 1})
        bad = httpx.post(f"{url}/v1/feedback", json={"label": 1})
        # an id the endpoint never answered is reported back, never stored as a match
        mixed = httpx.post(f"{url}/v1/feedback", json={"items": [
            {"request_id": "never-seen", "label": 0}, {"request_id": rid, "label": 1},
            {"request_id": "never-seen", "label": 1}]})
        metrics = httpx.get(f"{url}/metrics").text
        spec = httpx.get(f"{url}/openapi.json").json()
    assert fb.status_code == 200 and fb.json() == {"accepted": 1, "unknown": []}
    assert mixed.status_code == 200
    assert mixed.json() == {"accepted": 1, "unknown": ["never-seen"]}
    assert bad.status_code == 400 and "request_id" in bad.json()["error"]
    uri, spool = log_locations()
    labels = read_prediction_log(NAME, artifact_uri=uri, spool_dir=spool, stream="feedback")
    assert labels.column("request_id").to_pylist() == [rid, rid]
    assert (f'airlock_requests_total{{endpoint="{NAME}",model="{NAME}",route="primary",'
            f'status="200",version="{served["versions"][0]}"}} 1.0') in metrics
    assert "airlock_request_latency_seconds_bucket" in metrics
    assert "/v2/models/{name}/infer" in spec["paths"] and "/invocations" in spec["paths"]


def test_bearer_tokens(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AIRLOCK_SERVE_TOKENS", "s3cret-token,other-token")
    monkeypatch.setenv("AIRLOCK_TOKENS", "ops:viewer=admin-token")
    body = _split(served["x"].head(1))
    with running(_config()) as url:
        none = httpx.post(f"{url}/invocations", json=body)
        wrong = httpx.post(f"{url}/invocations", json=body,
                           headers={"Authorization": "Bearer nope"})
        good = httpx.post(f"{url}/invocations", json=body,
                          headers={"Authorization": "Bearer other-token"})
        admin = httpx.get(f"{url}/v1/admin/status",
                          headers={"Authorization": "Bearer admin-token"})
        admin_none = httpx.get(f"{url}/v1/admin/status")
        token = {"Authorization": "Bearer s3cret-token"}
        closed = [httpx.get(f"{url}{p}") for p in METADATA]
        opened = [httpx.get(f"{url}{p}", headers=token) for p in METADATA]
    assert [r.status_code for r in closed] == [401] * len(METADATA), [r.text for r in closed]
    assert all("token" in r.json()["error"] for r in closed)
    assert [r.status_code for r in opened] == [200] * len(METADATA)
    with running(_config(auth={"protect_metadata": False})) as url:
        assert [httpx.get(f"{url}{p}").status_code for p in METADATA] == [200] * len(METADATA)
        assert httpx.post(f"{url}/invocations", json=body).status_code == 401
    assert (none.status_code, wrong.status_code, good.status_code) == (401, 401, 200)
    assert admin.status_code == 200 and admin_none.status_code == 401
    assert "token" in none.json()["error"] and "s3cret" not in wrong.text
    assert "s3cret" not in caplog.text
    monkeypatch.delenv("AIRLOCK_SERVE_TOKENS")
    monkeypatch.delenv("AIRLOCK_TOKENS")
    with running(_config()) as url:  # no tokens at all: admin stays closed, inference open
        assert httpx.get(f"{url}/v1/admin/status").status_code == 401
        assert httpx.post(f"{url}/invocations", json=body).status_code == 200
        assert httpx.get(f"{url}/metrics").status_code == 200
    with pytest.raises(UsageError, match="protect_inference is true but no token"):
        create_app(_config(auth={"protect_inference": True}))


METADATA = [f"/v2/models/{NAME}", f"/v2/models/{NAME}/versions/1", "/metrics", "/openapi.json"]


def test_a_bad_request_in_a_batch_fails_alone_and_the_rest_are_logged(
        served: dict[str, Any]) -> None:
    x = served["x"].head(48)
    bodies = [_split(x.iloc[i:i + 1]) for i in range(len(x))]
    for i in range(0, len(bodies), 6):  # every sixth request has text where age goes
        bodies[i] = _split(x.iloc[i:i + 1].assign(age=["old"]))
    cfg = _config(batching={"max_batch_size": 64, "max_wait_ms": 50})
    with running(cfg) as url:
        answers = _hammer(url, bodies, threads=12)
        metrics = httpx.get(f"{url}/metrics").text
    bad = list(range(0, len(bodies), 6))
    assert [r.status_code for i, r in enumerate(answers) if i in bad] == [422] * len(bad)
    assert all("'age'" in answers[i].json()["error"] for i in bad)
    good = [r for i, r in enumerate(answers) if i not in bad]
    assert {r.status_code for r in good} == {200}
    want = served["expected"]["prediction"].head(48).tolist()
    assert [r.json()["predictions"][0] for r in good] == \
        [w for i, w in enumerate(want) if i not in bad]
    assert _metric(metrics, "airlock_batch_rows_count") < len(bodies)  # batches did form
    uri, spool = log_locations()
    logged = read_prediction_log(NAME, artifact_uri=uri, spool_dir=spool,
                                 columns=["request_id", "status"]).to_pylist()
    # every answered request is logged: the good ones 200, the bad ones with their 422
    assert sorted((r["request_id"], r["status"]) for r in logged) == sorted(
        (r.headers["x-request-id"], r.status_code) for r in answers)


# -- /invocations answers as MLflow's own scoring server does -------------------------------
@contextlib.contextmanager
def _asgi(app: Any) -> Iterator[str]:
    import socket
    import threading

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "MLflow's scoring app did not start"
            thread.join(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_invocations_answer_exactly_as_mlflows_scoring_server(
        served: dict[str, Any], adult_sample: Any, tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.linear_model import Ridge

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.pyfunc
        import mlflow.sklearn
        from mlflow.models import infer_signature
        from mlflow.pyfunc import scoring_server

    x = served["x"].head(9)
    production = airlock.load_model(f"{NAME}@production")
    y = adult_sample["income"].to_numpy()[:200]
    words = _pipeline().fit(served["x"], y)  # string classes
    numeric = served["x"][["age", "education_num", "hours_per_week"]]
    ridge = Ridge().fit(numeric, served["x"]["capital_gain"])
    models = {"labels": (production.predictor.model, x), "words": (words, x),
              "regressor": (ridge, numeric.head(9))}
    monkeypatch.setenv("_MLFLOW_IS_IN_SERVING_ENVIRONMENT", "false")  # init() sets it
    for name, (model, rows) in models.items():
        version = airlock.register_model(f"cmp-{name}", model, input_example=rows).version
        folder = tmp_path / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlflow.sklearn.save_model(model, folder, signature=infer_signature(rows))
            app = scoring_server.init(mlflow.pyfunc.load_model(str(folder)))
        bodies = [{"json": _split(rows)},
                  {"json": {"dataframe_records": rows.to_dict(orient="records")}},
                  {"json": {"instances": rows.to_dict(orient="records")}},
                  {"json": {"inputs": {c: rows[c].tolist() for c in rows.columns}}},
                  {"content": rows.to_csv(index=False),
                   "headers": {"Content-Type": "text/csv"}}]
        cfg = EndpointConfig.model_validate({"name": f"cmp-{name}",
                                             "routes": [{"model": f"cmp-{name}@{version}"}]})
        with _asgi(app) as theirs, running(cfg) as ours:
            for body in bodies:
                want = httpx.post(f"{theirs}/invocations", **body)
                got = httpx.post(f"{ours}/invocations", **body)
                assert want.status_code == 200, (name, want.text)
                assert got.status_code == 200, (name, got.text)
                assert got.json() == want.json(), (name, body, got.text, want.text)
            table = httpx.post(f"{ours}/invocations", json=_split(rows),
                               headers={"X-Airlock-Outputs": "table"}).json()["predictions"]
        expected = airlock.load_model(f"cmp-{name}@{version}").predict(rows)
        assert pd.DataFrame(table).equals(expected), (table, expected)


def _pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from tests.integration.serving_helpers import CATEGORICAL

    prep = ColumnTransformer([("num", StandardScaler(), NUMERIC),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)])
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=300))])
