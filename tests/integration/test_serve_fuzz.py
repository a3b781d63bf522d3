"""Fuzzing a live server: schemathesis from its /openapi.json, and raw bytes on a socket
(malformed request lines and headers, request smuggling, nested bodies, huge numbers, binary
tensors whose sizes lie). No answer is a 5xx and none takes a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from tests.integration.serving_helpers import NAME, register_adult, running

from airlock.serve import EndpointConfig


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import polars as pl
    from tests.conftest import EXAMPLE_DATA

    from airlock.store import close_stores

    mp = pytest.MonkeyPatch()
    mp.setenv("AIRLOCK_HOME", str(tmp_path_factory.mktemp("fuzz") / "home"))
    mp.setenv("AIRLOCK_SERVE_TOKENS", "fuzz-token-123")
    cols = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
            "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
            "hours_per_week", "native_country", "income"]
    df = pl.read_csv(EXAMPLE_DATA / "adult.data.gz", has_header=False, new_columns=cols,
                     n_rows=500).with_columns(pl.col(pl.String).str.strip_chars())
    register_adult(df, versions=1)
    config = EndpointConfig.model_validate({
        "name": NAME, "routes": [{"model": f"{NAME}@production"}],
        "auth": {"protect_inference": False}, "max_body_bytes": 65536,
        "reload_interval_s": 3600})
    try:
        with running(config) as url:
            yield url
    finally:
        close_stores()
        mp.undo()


@pytest.fixture(scope="module")
def api_schema(live_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_url}/openapi.json")


def test_no_generated_request_gets_a_server_error(api_schema: Any) -> None:
    from hypothesis import given

    operations = [r.ok() for r in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /invocations", "POST /v2/models/{name}/infer"} <= labels
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        check()


# -- raw HTTP on a socket ----------------------------------------------------------------------
INFER = f"/v2/models/{NAME}/infer"


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            *, length: bool = True) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def binary_infer(declared: int, blob: bytes, header_len: int | None = None) -> bytes:
    import json

    head = json.dumps({"inputs": [{"name": "age", "shape": [2], "datatype": "INT64",
                                   "parameters": {"binary_data_size": declared}}]}).encode()
    hlen = len(head) if header_len is None else header_len
    return request("POST", INFER, head + blob,
                   {"Inference-Header-Content-Length": str(hlen),
                    "Content-Type": "application/octet-stream"})


def _deep(n: int) -> str:
    return "[" * n + "1" + "]" * n


def _records(value: str) -> bytes:
    return ('{"dataframe_records": [{"age": ' + value + ', "sex": "Male"}]}').encode()


def _oip(data: str, datatype: str = "FP64", shape: str = "[1]") -> bytes:
    return ('{"inputs": [{"name": "age", "shape": ' + shape + ', "datatype": "' + datatype
            + '", "data": ' + data + '}]}').encode()


NUMBERS = ["1e400", "-1e400", str(2**64), str(-(2**63) - 1), "1" * 400, "-0", "1e-400",
           "NaN", "Infinity", "0x10", "1.", ".5", "01", "1_000"]
CASES: list[tuple[str, bytes]] = [
    ("garbage", b"\x00\xff\xfe garbage\r\n\r\n"),
    ("no version", b"GET /v2\r\n\r\n"),
    ("bad version", b"GET /v2 HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("header without colon", b"GET /v2 HTTP/1.1\r\nHost x\r\n\r\n"),
    ("space before colon", b"GET /v2 HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("obs-fold", b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"),
    ("NUL in header", b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    ("non-ascii header name", "GET /v2 HTTP/1.1\r\nHöst: x\r\n\r\n".encode()),
    ("huge header", b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"),
    ("many headers", b"GET /v2 HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(3000))
     + b"\r\n"),
    ("long path", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("percent junk path", b"GET /v2/models/%ZZ%00%C2%B2/ready HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("two content-lengths", b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
     b"Content-Length: 40\r\n\r\n{}"),
    ("negative content-length", b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: -1\r\n\r\n{}"),
    ("superscript content-length", "POST /invocations HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: \u00b2\r\n\r\n{}".encode()),
    ("5000-digit content-length", b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n{}"),
    ("CL.TE smuggling", b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("TE.CL smuggling", b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
     b"\r\nContent-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 15\r\n\r\nx=1\r\n0\r\n\r\n"),
    ("TE obfuscated", b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
    ("bad chunk size", b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
     b"\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
    ("huge chunk size", b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
     b"\r\n\r\nffffffffffffffffff\r\n{}\r\n0\r\n\r\n"),
    ("chunked over the limit", b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
     b"chunked\r\n\r\n" + b"".join(b"1000\r\n" + b"a" * 4096 + b"\r\n" for _ in range(20))
     + b"0\r\n\r\n"),
    ("nested oip 1000", request("POST", INFER, _oip(_deep(1000)))),
    ("nested oip 5000", request("POST", INFER, _oip(_deep(5000)))),
    ("nested records", request("POST", "/invocations", _records(_deep(1000)))),
    ("nested records object", request("POST", "/invocations",
                                      _records('{"a":' * 500 + "1" + "}" * 500))),
    ("huge shape", request("POST", INFER, _oip("[1]", shape="[" + ",".join(
        [str(2**62)] * 300) + "]"))),
    ("huge dims", request("POST", INFER, _oip("[1]", shape=f"[{2**64}]"))),
    ("binary size too big", binary_infer(10**12, b"\0" * 16)),
    ("binary size negative", binary_infer(-8, b"\0" * 16)),
    ("binary size odd", binary_infer(15, b"\0" * 16)),
    ("binary header length past body", binary_infer(16, b"\0" * 16, header_len=10**6)),
    ("binary header length zero", binary_infer(16, b"\0" * 16, header_len=0)),
    ("binary header cuts json", binary_infer(16, b"\0" * 16, header_len=7)),
    ("binary bytes truncated", request("POST", INFER, b'{"inputs":[{"name":"sex","shape":[1],'
                                       b'"datatype":"BYTES","parameters":{"binary_data_size":6}}]}'
                                       + b"\xff\xff\xff\x7fab",
                                       {"Inference-Header-Content-Length": "85"})),
    ("csv duplicate header", request("POST", "/invocations", b"age,age\n1,2\n",
                                     {"Content-Type": "text/csv"})),
    ("csv binary", request("POST", "/invocations", b"\xff\xfe\x00\n\x00\x01",
                           {"Content-Type": "text/csv"})),
    ("invalid utf-8 json", request("POST", "/invocations", b'{"instances": ["\xff"]}')),
    ("version 5000 digits", request("POST", f"/v2/models/{NAME}/versions/{'9' * 5000}/infer",
                                    _oip("[1]"))),
    ("expect 100-continue", request("POST", "/invocations", b"{}",
                                    {"Expect": "100-continue"})),
    ("upgrade websocket", request("GET", "/v2", b"", {"Connection": "Upgrade",
                                                     "Upgrade": "websocket"})),
    ("absolute-form target", b"GET http://evil.example/v2 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("TRACE", b"TRACE /v2 HTTP/1.1\r\nHost: x\r\n\r\n"),
] + [(f"number {n}", request("POST", "/invocations", _records(n))) for n in NUMBERS] + [
    (f"oip number {n}", request("POST", INFER, _oip(f"[{n}]", dt)))
    for n in NUMBERS for dt in ("FP64", "INT64", "UINT8", "BOOL")]


def _exchange(port: int, raw: bytes, *, every: bool = False) -> tuple[list[int], float]:
    """Send ``raw`` on a fresh connection; the statuses of the first answer (``every``: of
    every answer until the server closes or stays silent for a second) and the time the
    first answer took (0 when the server waits for the rest of an incomplete request)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        started = time.perf_counter()
        s.sendall(raw)
        statuses: list[int] = []
        buf = b""
        first = 0.0
        s.settimeout(1.0)
        while True:
            try:
                chunk = s.recv(1 << 16)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                if status == 100:  # 100-continue: the real answer follows
                    buf = rest
                    continue
                if not first:
                    first = time.perf_counter() - started
                statuses.append(status)
                lengths = [line.split(b":", 1)[1] for line in head.split(b"\r\n")[1:]
                           if line.lower().startswith(b"content-length:")]
                n = int(lengths[0]) if lengths else 0
                if len(rest) < n:
                    break
                buf = rest[n:]
            if statuses and not every:
                break
    return statuses, first


@pytest.mark.parametrize(("label", "raw"), CASES, ids=[c[0] for c in CASES])
def test_raw_http_gets_no_5xx_and_no_slow_answer(live_url: str, label: str, raw: bytes) -> None:
    port = int(live_url.rsplit(":", 1)[1])
    statuses, took = _exchange(port, raw, every="smuggling" in label)
    assert all(s < 500 for s in statuses), (label, statuses)
    assert took < 1.0, (label, took)
    if "smuggling" in label:  # the hidden GET /smuggled is never answered on its own
        assert len(statuses) <= 1 and statuses != [404], statuses


@given(junk=st.binary(max_size=300), where=st.integers(0, 3))
@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_random_bytes_in_requests_get_no_5xx(live_url: str, junk: bytes, where: int) -> None:
    port = int(live_url.rsplit(":", 1)[1])
    body = _oip("[1.5]")
    raw = [junk + b"\r\n\r\n",
           b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: x\r\nX-J: " + junk
           + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
           request("POST", "/invocations", junk, {"Content-Type": "application/json"}),
           request("POST", INFER, body[:40] + junk + body[40:])][where]
    statuses, took = _exchange(port, raw)
    assert all(s < 500 for s in statuses), statuses
    assert took < 1.0, took
