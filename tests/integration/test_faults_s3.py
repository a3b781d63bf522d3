"""The S3 artifact store with faults (issue "Hardening…", not yet covered): a real moto server
behind a small fault-injecting HTTP proxy on 127.0.0.1, which answers chosen requests with
S3's own 500 InternalError or 503 SlowDown instead of passing them on.

Transient faults are retried with a bounded exponential backoff (botocore's standard retry
mode) and the call succeeds; lasting faults end in one StoreUnavailable within a bounded time;
a model version whose upload fails part-way leaves no version row and no file under its
prefix."""

from __future__ import annotations

import http.client
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import s3fs
from moto.server import ThreadedMotoServer

import airlock
from airlock.errors import StoreUnavailable
from airlock.store import get_store

PREFIX = "team/airlock"
_ERRORS = {500: ("InternalError", "We encountered an internal error. Please try again."),
           503: ("SlowDown", "Please reduce your request rate.")}


@dataclass
class Fault:
    """Answer the next ``count`` requests whose method and path match with ``status``."""

    method: str
    path: str  # a regular expression searched in the request path
    status: int
    count: int


@dataclass
class FaultProxy:
    upstream: tuple[str, int]
    faults: list[Fault] = field(default_factory=list)
    seen: list[tuple[float, str, str, int]] = field(default_factory=list)  # t, method, path
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, method: str, path: str, status: int, count: int) -> None:
        with self.lock:
            self.faults.append(Fault(method, path, status, count))

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.seen.clear()

    def fault_for(self, method: str, path: str) -> int | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.method == method and re.search(fault.path, path):
                    fault.count -= 1
                    return fault.status
        return None

    def requests(self, method: str, path: str) -> list[tuple[float, int]]:
        with self.lock:
            return [(t, s) for t, m, p, s in self.seen if m == method and re.search(path, p)]


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _any(self) -> None:
            body = self._body()
            status = proxy.fault_for(self.command, self.path)
            if status is not None:
                code, message = _ERRORS[status]
                out = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                       f"<Message>{message}</Message><RequestId>fault</RequestId></Error>"
                       ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            else:
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("transfer-encoding", "expect", "connection")}
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                out = response.read()
                status = response.status
                self.send_response(status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection",
                                           "content-length"):
                        self.send_header(key, value)
                length = response.getheader("Content-Length") if self.command == "HEAD" \
                    else None  # a HEAD tells the object's size, with no body
                self.send_header("Content-Length", length or str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)
                conn.close()
            with proxy.lock:
                proxy.seen.append((time.monotonic(), self.command, self.path, status))

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

    return Handler


@pytest.fixture(scope="module")
def proxy() -> Iterator[FaultProxy]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    faults = FaultProxy((host, port))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(faults))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    faults.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield faults
    finally:
        server.shutdown()
        server.server_close()
        moto.stop()


@pytest.fixture
def s3(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch,
       tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A fresh bucket behind the proxy; airlock's artifact URI points under it."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_MAX_ATTEMPTS",
                 "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"airlock-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    monkeypatch.setenv("AIRLOCK_ARTIFACT_URI", f"s3://{bucket}/{PREFIX}")
    s3fs.S3FileSystem.clear_instance_cache()
    proxy.clear()
    yield client, bucket
    proxy.clear()
    s3fs.S3FileSystem.clear_instance_cache()


def _keys(client: Any, bucket: str, prefix: str = "") -> set[str]:
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for o in listing.get("Contents", [])}


def _model() -> Any:
    from sklearn.dummy import DummyClassifier

    return DummyClassifier().fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize("status", [500, 503])
def test_transient_faults_are_retried_with_backoff(s3: tuple[Any, str],
                                                             proxy: FaultProxy,
                                                             status: int) -> None:
    """Two faults in a row on the first upload: it goes through on its third try, after
    pauses, and the version is whole."""
    proxy.inject("PUT", r"/models/", status, 2)
    started = time.monotonic()
    version = airlock.register_model("m", _model())
    took = time.monotonic() - started
    tries = proxy.requests("PUT", r"/models/")
    statuses = [s for _, s in tries]
    assert statuses[:3] == [status, status, 200], statuses
    (t1, _), (t2, _), (t3, _) = tries[:3]
    assert t3 - t1 > 0.01 and took < 15, (t2 - t1, t3 - t2, took)
    model = airlock.load_model(f"m@{version.version}")
    assert list(model.predict([[0.0], [1.0]])["prediction"]) in ([0, 0], [1, 1])


def test_lasting_faults_end_in_one_store_unavailable_in_bounded_time(
        s3: tuple[Any, str], proxy: FaultProxy) -> None:
    client, bucket = s3
    proxy.inject("PUT", r"/models/", 503, 10_000)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        airlock.register_model("m", _model())
    took = time.monotonic() - started
    text = str(info.value)
    assert text.startswith("cannot write the artifact store at s3://"), text
    assert "\n" not in text
    tries = len(proxy.requests("PUT", r"/models/"))
    assert 2 <= tries <= 12, tries  # retried, and not for ever
    assert took < 60, took
    assert _keys(client, bucket, f"{PREFIX}/models/") == set()
    assert airlock.list_models() == []


def test_an_upload_that_fails_part_way_leaves_no_half_written_version(
        s3: tuple[Any, str], proxy: FaultProxy) -> None:
    """The manifest goes up, then the model file's upload keeps failing: no version row,
    and nothing left under the version's prefix (what went up is removed)."""
    client, bucket = s3
    proxy.inject("PUT", r"/model\.skops", 500, 10_000)
    with pytest.raises(StoreUnavailable) as info:
        airlock.register_model("m", _model())
    assert "model.skops" in str(info.value)
    uploaded = [p for _, m, p, s in proxy.seen if m == "PUT" and s == 200 and "/models/" in p]
    assert any("airlock-manifest.json" in p for p in uploaded), uploaded
    assert _keys(client, bucket, f"{PREFIX}/models/") == set()
    assert airlock.list_models() == []
    proxy.clear()
    assert airlock.register_model("m", _model()).version == 1  # and then it works


def test_reads_retry_too(s3: tuple[Any, str], proxy: FaultProxy, tmp_path: Path) -> None:
    version = airlock.register_model("m", _model())
    s3fs.S3FileSystem.clear_instance_cache()
    proxy.inject("GET", r"/models/", 503, 2)
    cache = Path(get_store().artifacts.fetch(
        version.artifact_uri, tmp_path / "got", version.manifest["files"]))
    assert sorted(p.name for p in cache.iterdir()) == sorted(version.manifest["files"])
    assert [s for _, s in proxy.requests("GET", r"/models/")][:2] == [503, 503]
