"""A prediction-log writer killed with SIGKILL loses no acknowledged row and duplicates none.

The children are separate Python processes that append real Adult rows and print how many
rows they have had acknowledged (``future.result()`` returned), then get killed without any
chance to clean up: mid-stream (with rolls going on), inside a roll (after the segment is
stored, before the spool is deleted), and with a torn last message. Recovery then runs in the
parent, in two racing processes, or in a live sibling log.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airlock.predlog import (
    PredictionLog,
    make_records,
    read_prediction_log,
    recover_spools,
)
from airlock.predlog._spool import SpoolFile

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ADULT = ROOT / "examples" / "data" / "adult.data.gz"

PRELUDE = textwrap.dedent(f"""
    import os, signal, sys, time
    from collections import deque
    import pyarrow as pa
    import pyarrow.csv as csv
    from airlock.predlog import PredictionLog, make_records

    ADULT = csv.read_csv({str(ADULT)!r},
                         read_options=csv.ReadOptions(autogenerate_column_names=True))
    spool, artifacts = sys.argv[1], sys.argv[2]

    def request(i, n=1):
        rows = ADULT.slice((i * n) % 30000, n)
        return make_records(request_id=f"r{{i}}", ts_ms=1_709_251_200_000 + i,
                            endpoint="adult", route="primary", model="adult-income",
                            version=1, status=200, latency_ms=1.0, inputs=rows,
                            outputs=pa.table({{"proba": [0.5] * n}}))
""")

KEEPS_APPENDING = PRELUDE + textwrap.dedent("""
    log = PredictionLog("adult", spool_dir=spool, artifact_uri=artifacts,
                        segment_max_bytes=65_536).open()
    inflight, i = deque(), 0
    while True:  # 16 appends in flight; acknowledged in order
        inflight.append(log.append(request(i)))
        i += 1
        if len(inflight) == 16:
            inflight.popleft().result()
            print(i - 15, flush=True)
""")

DIES_INSIDE_A_ROLL = PRELUDE + textwrap.dedent("""
    from airlock.store import ArtifactStore

    real_put = ArtifactStore.put_file

    def put_then_die(self, src, key):
        out = real_put(self, src, key)
        os.kill(os.getpid(), signal.SIGKILL)  # segment stored, spool not yet deleted
        return out

    ArtifactStore.put_file = put_then_die
    log = PredictionLog("adult", spool_dir=spool, artifact_uri=artifacts).open()
    for i in range(50):
        log.append(request(i, 2)).result()
    print(50, flush=True)
    log.roll()
    print("NOT KILLED", flush=True)
""")

ONE_MESSAGE_EACH = PRELUDE + textwrap.dedent("""
    log = PredictionLog("adult", spool_dir=spool, artifact_uri=artifacts).open()
    for i in range(20):
        log.append(request(i, 2)).result()  # one commit, one IPC message each
    print(20, flush=True)
    while True:
        time.sleep(0.05)
""")

RECOVERS_AT = textwrap.dedent("""
    import json, sys, time
    from airlock.predlog import recover_spools
    start = float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    print(json.dumps(recover_spools(sys.argv[1], sys.argv[2], "predictions", "adult")))
""")


@pytest.fixture
def where(tmp_path: Path) -> dict[str, Any]:
    return {"spool_dir": tmp_path / "spool", "artifact_uri": str(tmp_path / "artifacts")}


def spawn(script: str, where: dict[str, Any], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, str(where["spool_dir"]), where["artifact_uri"], *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def acked_at_least(proc: subprocess.Popen[str], n: int, timeout: float = 60.0) -> int:
    """Read the child's acknowledged counts until one reaches ``n``; return the last."""
    assert proc.stdout is not None
    deadline, last = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if line:
                last = int(line)
                if last >= n:
                    return last
        if proc.poll() is not None:
            break
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"child acknowledged {last} < {n} rows (exit {proc.returncode}):\n{err}")


def kill(proc: subprocess.Popen[str]) -> int:
    """SIGKILL the child; return the last count it printed before dying."""
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return max([int(x) for x in out.split()], default=0)


def ids(where: dict[str, Any], **kw: Any) -> list[tuple[str, int]]:
    t = read_prediction_log("adult", **where, **kw)
    return list(zip(t.column("request_id").to_pylist(), t.column("row").to_pylist(),
                    strict=True))


def spool_folder(where: dict[str, Any]) -> Path:
    return Path(where["spool_dir"]) / "predictions" / "adult"


def segments(where: dict[str, Any]) -> list[Path]:
    return sorted((Path(where["artifact_uri"]) / "predictions" / "adult").rglob("*.parquet"))


@pytest.mark.parametrize("linger", [0.0, 0.15, 0.4])
def test_sigkill_mid_stream_loses_no_acknowledged_row(where: dict[str, Any],
                                                      linger: float) -> None:
    proc, acked = spawn(KEEPS_APPENDING, where), 0
    try:
        acked = acked_at_least(proc, 1500)
        time.sleep(linger)  # kill at a different point of the write / roll cycle each time
    finally:
        if proc.poll() is None:
            acked = max(acked, kill(proc))
    assert len(segments(where)) >= 1  # it rolled before dying
    recover_spools(where["spool_dir"], where["artifact_uri"], "predictions", "adult")
    assert not any(p.suffix in (".arrows", ".sealed") for p in spool_folder(where).iterdir())
    got = ids(where)
    assert len(got) == len(set(got)), "duplicated rows after recovery"
    have = {rid for rid, _ in got}
    missing = [i for i in range(acked) if f"r{i}" not in have]
    assert missing == [], f"{len(missing)} acknowledged rows lost, first {missing[:5]}"


def test_sigkill_between_segment_and_spool_delete_duplicates_nothing(
        where: dict[str, Any]) -> None:
    proc = spawn(DIES_INSIDE_A_ROLL, where)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    assert out.split() == ["50"]
    (segment,) = segments(where)
    (sealed,) = [p for p in spool_folder(where).iterdir() if p.suffix == ".sealed"]
    expected = sorted((f"r{i}", j) for i in range(50) for j in range(2))
    assert sorted(ids(where)) == expected  # the reader skips the already-converted spool
    keys = recover_spools(where["spool_dir"], where["artifact_uri"], "predictions", "adult")
    assert [Path(k).name for k in keys] == [segment.name]  # the same key, overwritten
    assert segments(where) == [segment] and not sealed.exists()
    assert sorted(ids(where)) == expected


def test_a_torn_tail_loses_only_the_torn_message(where: dict[str, Any]) -> None:
    proc = spawn(ONE_MESSAGE_EACH, where)
    try:
        assert acked_at_least(proc, 20) == 20
    finally:
        if proc.poll() is None:
            kill(proc)
    (spool,) = spool_folder(where).glob("*.arrows")
    with open(spool, "r+b") as fh:
        fh.truncate(spool.stat().st_size - 5)  # as if the kill hit the last write
    recover_spools(where["spool_dir"], where["artifact_uri"], "predictions", "adult")
    assert sorted(ids(where)) == sorted((f"r{i}", j) for i in range(19) for j in range(2))


def test_two_racing_recoverers_convert_each_spool_once(where: dict[str, Any]) -> None:
    folder = spool_folder(where)
    folder.mkdir(parents=True)
    expected = []
    for s in range(24):  # spools of dead writers: fsync'd, unlocked
        tables = [make_records(request_id=f"s{s}-{i}", ts_ms=1_709_251_200_000 + s,
                               endpoint="adult", route="primary", model="m", version=1,
                               status=200, latency_ms=1.0,
                               inputs=pa.table({"age": [s, i]}),
                               outputs=pa.table({"proba": [0.1, 0.2]})) for i in range(3)]
        spool = SpoolFile(folder, tables[0].schema)
        for t in tables:
            spool.commit(t)
        os.close(spool.fd)
        expected += [(f"s{s}-{i}", j) for i in range(3) for j in range(2)]
    start = str(time.time() + 2.5)
    procs = [spawn(RECOVERS_AT, where, start) for _ in range(2)]
    keys: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        keys += json.loads(out)
    assert len(keys) == len(set(keys)) == 24  # each spool converted by exactly one of them
    assert len(segments(where)) == 24 and list(folder.glob("*.arrows")) == []
    assert sorted(ids(where)) == sorted(expected)


def test_a_live_sibling_recovers_a_killed_worker_without_restart(where: dict[str, Any]) -> None:
    proc, acked = spawn(KEEPS_APPENDING, where), 0
    try:
        acked = acked_at_least(proc, 200)
    finally:
        if proc.poll() is None:
            acked = max(acked, kill(proc))
    with PredictionLog("adult", **where, segment_max_seconds=1.0) as sibling:
        deadline = time.monotonic() + 20
        while any(p.suffix in (".arrows", ".sealed") for p in spool_folder(where).iterdir()):
            assert time.monotonic() < deadline, "the sibling did not recover the dead spool"
            time.sleep(0.1)
        assert sibling.pending_rows == 0
    got = {rid for rid, _ in ids(where)}
    assert all(f"r{i}" in got for i in range(acked))


# -- the same log on an object store ------------------------------------------------------
@pytest.fixture
def s3_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket on a real moto server on loopback, reached through s3fs."""
    boto3 = pytest.importorskip("boto3")
    s3fs = pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    boto3.client("s3").create_bucket(Bucket="predlog")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        yield "s3://predlog/team"
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def test_segments_on_s3_roll_recover_and_read(s3_uri: str, tmp_path: Path) -> None:
    where = {"spool_dir": tmp_path / "spool", "artifact_uri": s3_uri}
    day = 86_400_000
    with PredictionLog("adult", **where) as plog:
        for d in range(3):
            plog.append(make_records(
                request_id=f"d{d}", ts_ms=1_709_251_200_000 + d * day, endpoint="adult",
                route="primary", model="m", version=1, status=200, latency_ms=1.0,
                inputs=pa.table({"age": [30 + d, 40 + d]}),
                outputs=pa.table({"proba": [0.1, 0.2]}))).result()
            plog.roll()
    import s3fs

    keys = sorted(s3fs.S3FileSystem().find("predlog/team/predictions/adult"))
    assert [k.split("/")[-2] for k in keys] == ["date=2024-03-01", "date=2024-03-02",
                                                "date=2024-03-03"]
    assert sorted(ids(where)) == [(f"d{d}", j) for d in range(3) for j in range(2)]
    since = datetime(2024, 3, 2, tzinfo=UTC)
    assert sorted(ids(where, since=since)) == [(f"d{d}", j) for d in (1, 2) for j in range(2)]
    assert not any(spool_folder(where).iterdir())
