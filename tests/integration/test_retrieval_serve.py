"""`airlock serve kb@1` as a process answers retrieval requests: ``/invocations`` with a
``query`` column and OIP v2 with a BYTES ``query`` input, one answer per query (its top k
chunks as lists, best first, equal to a direct query; k per query from a ``k`` column or an
INT64 input); the prediction log holds each
query with its top scores, and ``monitor endpoint`` reads retrieval drift from them (the
top-1 score's distribution, the hit count: 0 is an empty result, the query embedding's
coordinates on the corpus's principal axes) against a profile of reference queries; a
request without a query column is a 4xx with an error."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from tests.integration.serving_helpers import serving_process
from tests.integration.test_retrieval_index import make_docs

from airlock.llm import build_index, query_index
from airlock.monitor import Profile, monitor_endpoint
from airlock.predlog import read_prediction_log
from airlock.registry import load_model
from airlock.store import close_stores

pytestmark = pytest.mark.slow


def test_serve_answers_retrieval_requests(tmp_path: Path) -> None:
    build_index("kb", make_docs(tmp_path / "docs"), chunk=120, overlap=20, k=3)
    want = query_index("kb@1", "baking bread", k=3)
    close_stores()
    with serving_process("kb@1") as (url, _proc):
        res = httpx.post(f"{url}/invocations", timeout=60, json={
            "dataframe_split": {"columns": ["query"],
                                "data": [["baking bread"], ["drift alerts"]]}})
        assert res.status_code == 200, res.text
        first, second = res.json()["predictions"]
        assert first["query"] == "baking bread" and first["rank"] == [1, 2, 3]
        assert first["doc_id"] == [h["doc_id"] for h in want]
        assert first["chunk_id"] == [h["chunk_id"] for h in want]
        assert first["score"] == pytest.approx([h["score"] for h in want], abs=1e-5)
        assert second["doc_id"][0] == "monitor.md"
        oip = httpx.post(f"{url}/v2/models/kb/infer", timeout=60, json={
            "inputs": [{"name": "query", "datatype": "BYTES", "shape": [1],
                        "data": ["who may move a protected alias?"]}]})
        assert oip.status_code == 200, oip.text
        outputs = {o["name"]: o["data"] for o in oip.json()["outputs"]}
        assert outputs["doc_id"][0][0] == "gates/policy.md"
        bad = httpx.post(f"{url}/invocations", timeout=60, json={
            "dataframe_split": {"columns": ["text"], "data": [["x"]]}})
        assert 400 <= bad.status_code < 500 and "query" in bad.json()["error"]
        # k per query: a k column (null: the version's), or an OIP INT64 input
        per = httpx.post(f"{url}/invocations", timeout=60, json={
            "dataframe_split": {"columns": ["query", "k"],
                                "data": [["baking bread", 1], ["drift alerts", None],
                                         ["gates", 5]]}})
        assert per.status_code == 200, per.text
        assert [len(p["rank"]) for p in per.json()["predictions"]] == [1, 3, 5]
        oip_k = httpx.post(f"{url}/v2/models/kb/infer", timeout=60, json={
            "inputs": [{"name": "query", "datatype": "BYTES", "shape": [2],
                        "data": ["bread", "aliases"]},
                       {"name": "k", "datatype": "INT64", "shape": [2], "data": [2, 4]}]})
        assert oip_k.status_code == 200, oip_k.text
        ranks = {o["name"]: o["data"] for o in oip_k.json()["outputs"]}["rank"]
        assert [len(r) for r in ranks] == [2, 4]
        for k, says in ((0, "k of query row 0 must be a whole number from 1 to 1,000"),
                        (1001, "(got 1001)"), (2.5, "input column 'k' must be int64"),
                        ("two", "input column 'k' must be int64")):
            wrong = httpx.post(f"{url}/invocations", timeout=60, json={
                "dataframe_split": {"columns": ["query", "k"], "data": [["bread", k]]}})
            assert wrong.status_code == 422 and says in wrong.json()["error"], wrong.text
    rows = [r for r in read_prediction_log("kb").to_pylist() if r["status"] == 200]
    queries = [r["inputs"]["query"] for r in rows]
    assert queries[:2] == ["baking bread", "drift alerts"]
    assert rows[0]["outputs"]["score"] == pytest.approx(first["score"])
    assert rows[0]["outputs"]["top_score"] == pytest.approx(first["score"][0])
    assert rows[0]["outputs"]["hits"] == 3
    direct = load_model("kb@1").predict(pd.DataFrame({"query": ["baking bread"]}))
    assert rows[0]["outputs"]["query_pc1"] == pytest.approx(direct["query_pc1"][0], abs=1e-5)

    # retrieval drift: today's queries against a profile of the answers to reference queries
    answers = load_model("kb@1").predict(pd.DataFrame({"query": [
        "bread and flour", "ovens", "drift", "alerts", "gate policy", "aliases"]}))
    axes = [c for c in answers if c.startswith("query_pc")]
    reference = Profile.from_data({c: np.asarray(answers[c]).tolist()
                                   for c in ["top_score", "hits", *axes]})
    report = monitor_endpoint("kb", prediction_reference=reference).to_dict()
    window = report["windows"][0]
    assert report["totals"]["requests"] >= 3
    drift = window["prediction_drift"]
    assert drift is not None, window.get("missing")
    assert {"top_score", "hits", "query_pc1", "query_pc2"} <= set(drift["columns"]), drift
    assert drift["reference"] == "the prediction reference"
