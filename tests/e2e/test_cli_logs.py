"""`airlock logs read ENDPOINT` as a user drives it: the store's prediction log found by
itself (segments and live spools), filtered by time and status, as a table at 80 columns, as
JSON and as Parquet; one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlock.predlog import PredictionLog, log_locations, make_batch_records, make_records

from .test_cli import one_line_error

EP = "wine"


def logs(*args: str, home: Path, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home), "COLUMNS": str(columns)}
    env.pop("AIRLOCK_STORE_URI", None)
    return subprocess.run([sys.executable, "-m", "airlock", "logs", *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.fixture
def wine_log(airlock_home: Path) -> dict[str, int]:
    """30 answered requests two hours ago (rolled into a segment), then 8 in the last minute
    (5 answered, 3 failed with 503) left in a live spool, as a running server leaves them."""
    uri, spool = log_locations()
    now = int(time.time() * 1000)
    rng = np.random.default_rng(0)

    def batch(n: int, t0: int, prefix: str) -> pa.Table:
        return make_batch_records(
            request_ids=[f"{prefix}{i}" for i in range(n)], row_counts=[1] * n,
            ts_ms=[t0 + i for i in range(n)], latency_ms=[5.0] * n, status=200, endpoint=EP,
            route="primary", model="wine", version=2,
            inputs=pa.table({"alcohol": rng.normal(10, 1, n)}),
            outputs=pa.table({"prediction": rng.integers(0, 3, n)}))

    with PredictionLog(EP, artifact_uri=uri, spool_dir=spool) as plog:
        plog.append(batch(30, now - 2 * 3600_000, "old")).result()
    live = PredictionLog(EP, artifact_uri=uri, spool_dir=spool).open()
    live.append(batch(5, now - 30_000, "new")).result()
    for i in range(3):
        live.append(make_records(
            request_id=f"bad{i}", ts_ms=now - 20_000 + i, endpoint=EP, route="primary",
            model="wine", version=2, status=503, latency_ms=7.0,
            inputs=pa.table({"alcohol": [-1.0]}), outputs=None, error_code="ModelUnavailable",
            error="wine@2 failed: RuntimeError")).result()
    yield {"old": 30, "new": 5, "bad": 3}
    live.close()


def test_read_finds_segments_and_live_spools(wine_log: dict[str, int],
                                             airlock_home: Path, tmp_path: Path) -> None:
    res = logs("read", EP, "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["matched"] == out["rows"] == 38
    assert [r["request_id"] for r in out["records"]][:2] == ["old0", "old1"]
    res = logs("read", EP, "--since", "1h", "--status", "5xx", "--json", home=airlock_home)
    bad = json.loads(res.stdout)["records"]
    assert [r["request_id"] for r in bad] == ["bad0", "bad1", "bad2"]
    assert {(r["status"], r["error_code"]) for r in bad} == {(503, "ModelUnavailable")}
    res = logs("read", EP, "--since", "1h", "--status", "200", "--limit", "2", "--json",
               home=airlock_home)
    assert [r["request_id"] for r in json.loads(res.stdout)["records"]] == ["new3", "new4"]
    target = tmp_path / "wine.parquet"
    res = logs("read", EP, "--status", "2xx", "--parquet", str(target), home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert pq.read_table(target).num_rows == 35 and "35 rows" in res.stdout


def test_read_table_fits_80_columns(wine_log: dict[str, int], airlock_home: Path) -> None:
    res = logs("read", EP, "--status", "503", home=airlock_home)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), res.stdout
    assert "RuntimeError" in res.stdout and "503" in res.stdout and "3 rows" in res.stdout
    res = logs("read", EP, home=airlock_home)
    assert "38 rows (the newest 20; --limit to see more)" in res.stdout


def test_read_errors_are_one_line(wine_log: dict[str, int], airlock_home: Path) -> None:
    assert "endpoint 'beer' has no prediction log here; logged endpoints: wine" in \
        one_line_error(logs("read", "beer", home=airlock_home))
    assert "invalid --status '5x'" in one_line_error(
        logs("read", EP, "--status", "5x", home=airlock_home))
    assert "invalid --since 'yesterday'" in one_line_error(
        logs("read", EP, "--since", "yesterday", home=airlock_home))
    assert one_line_error(logs("read", EP, "--json", "--parquet", "x.parquet",
                               home=airlock_home)) == \
        "error: use either --json or --parquet, not both"
