"""Run artifacts on an S3 object store: a real moto server on loopback, reached via s3fs.

airlock is pointed at it the way a user would: AIRLOCK_ARTIFACT_URI=s3://bucket/prefix plus
the standard AWS variables (AWS_ENDPOINT_URL is honoured by botocore and so by s3fs).
"""

from __future__ import annotations

import hashlib
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import s3fs
from moto.server import ThreadedMotoServer

import airlock
from airlock.errors import IntegrityError
from airlock.store import ArtifactStore, get_store

PREFIX = "team/airlock"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch,
       tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A fresh bucket; airlock's artifact URI points under it. Yields (boto3 client, bucket)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"airlock-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    monkeypatch.setenv("AIRLOCK_ARTIFACT_URI", f"s3://{bucket}/{PREFIX}")
    s3fs.S3FileSystem.clear_instance_cache()  # no filesystem cached with another endpoint
    yield client, bucket
    s3fs.S3FileSystem.clear_instance_cache()


def _get(client: Any, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


def _keys(client: Any, bucket: str) -> set[str]:
    listing = client.list_objects_v2(Bucket=bucket)
    return {o["Key"] for o in listing.get("Contents", [])}


def test_store_uses_the_s3_artifact_root(s3: tuple[Any, str]) -> None:
    _, bucket = s3
    store = get_store().artifacts
    assert not store.is_local
    assert store.local_path("x") is None
    assert store.url("runs/r/artifacts/x") == f"s3://{bucket}/{PREFIX}/runs/r/artifacts/x"


def test_log_artifact_file_goes_to_s3_with_its_sha256(s3: tuple[Any, str],
                                                      tmp_path: Path) -> None:
    client, bucket = s3
    payload = b"weights \x00\x01\x02" * 1000
    src = tmp_path / "model.bin"
    src.write_bytes(payload)
    with airlock.start_run("s3") as run:
        assert run.log_artifact(src) == ["model.bin"]
        assert run.log_artifact(src, artifact_path="backup/") == ["backup/model.bin"]

    base = f"{PREFIX}/runs/{run.id}/artifacts"
    head = f"{PREFIX}/audit/head.json"  # the signed audit head, beside the artifacts
    assert _keys(client, bucket) - {head} == {f"{base}/model.bin", f"{base}/backup/model.bin"}
    assert _get(client, bucket, f"{base}/model.bin") == payload
    assert _get(client, bucket, f"{base}/backup/model.bin") == payload
    digest = hashlib.sha256(payload).hexdigest()
    recorded = {a.path: (a.size, a.sha256) for a in airlock.get_run(run.id).artifacts}
    assert recorded == {"model.bin": (len(payload), digest),
                        "backup/model.bin": (len(payload), digest)}
    assert not airlock.get_run(run.id).artifacts[0].path.startswith("s3://")


def test_log_artifact_directory_goes_to_s3(s3: tuple[Any, str], tmp_path: Path) -> None:
    client, bucket = s3
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    files = {"index.html": b"<h1>report</h1>", "plots/roc.svg": b"<svg/>" * 50,
             "plots/data.json": b'{"auc": 0.91}'}
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    with airlock.start_run("s3") as run:
        stored = run.log_artifact(folder)
    assert sorted(stored) == sorted(f"report/{rel}" for rel in files)

    base = f"{PREFIX}/runs/{run.id}/artifacts/report"
    head = f"{PREFIX}/audit/head.json"
    assert _keys(client, bucket) - {head} == {f"{base}/{rel}" for rel in files}
    for rel, data in files.items():
        assert _get(client, bucket, f"{base}/{rel}") == data
    recorded = {a.path: (a.size, a.sha256) for a in airlock.get_run(run.id).artifacts}
    assert recorded == {f"report/{rel}": (len(data), hashlib.sha256(data).hexdigest())
                        for rel, data in files.items()}
    listed = set(get_store().artifacts.list(f"runs/{run.id}/artifacts"))
    assert listed == {f"report/{rel}" for rel in files}


def _logged(tmp_path: Path, data: bytes) -> tuple[str, str, str]:
    src = tmp_path / "weights.bin"
    src.write_bytes(data)
    with airlock.start_run("s3") as run:
        run.log_artifact(src)
    [art] = airlock.get_run(run.id).artifacts
    return run.id, f"runs/{run.id}/artifacts/{art.path}", art.sha256


@pytest.mark.parametrize("tampered", [b"AAAAAAAAAAAAAAAA", b"0123456789abcdef + appended"],
                         ids=["same-size", "other-size"])
def test_verify_detects_a_tampered_object(s3: tuple[Any, str], tmp_path: Path,
                                          tampered: bytes) -> None:
    client, bucket = s3
    _, key, digest = _logged(tmp_path, b"0123456789abcdef")
    store = get_store().artifacts
    store.verify(key, digest)  # untouched: passes

    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=tampered)
    with pytest.raises(IntegrityError) as err:
        store.verify(key, digest)
    assert f"s3://{bucket}/{PREFIX}/{key}" in str(err.value)
    assert "failed its integrity check" in str(err.value)
    assert digest[:12] in str(err.value)
    # another ArtifactStore on the same root agrees
    with pytest.raises(IntegrityError, match=r"weights\.bin"):
        ArtifactStore(f"s3://{bucket}/{PREFIX}").verify(key, digest)


def test_verify_detects_tampering_after_the_folder_was_listed(s3: tuple[Any, str],
                                                              tmp_path: Path) -> None:
    client, bucket = s3
    run_id, key, digest = _logged(tmp_path, b"0123456789abcdef")
    store = get_store().artifacts
    assert list(store.list(f"runs/{run_id}/artifacts")) == ["weights.bin"]
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=b"0123456789abcdef!!")
    with pytest.raises(IntegrityError, match=r"weights\.bin"):
        store.verify(key, digest)


def test_fetch_downloads_verified_files_and_refuses_tampered_ones(
        s3: tuple[Any, str], tmp_path: Path) -> None:
    client, bucket = s3
    run_id, key, digest = _logged(tmp_path, b"model bytes")
    store = get_store().artifacts
    dest = store.fetch(f"runs/{run_id}/artifacts", tmp_path / "got", {"weights.bin": digest})
    assert (dest / "weights.bin").read_bytes() == b"model bytes"

    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=b"evil bytes!")
    with pytest.raises(IntegrityError, match=r"weights\.bin"):
        store.fetch(f"runs/{run_id}/artifacts", tmp_path / "again", {"weights.bin": digest})
    assert not (tmp_path / "again" / "weights.bin").exists()
    assert not any((tmp_path / "again").glob(".*.part"))
