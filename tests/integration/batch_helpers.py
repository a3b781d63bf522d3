"""Shared pieces of the batch scoring tests: a real model, real input files, and checks of
what a job wrote (every input row scored or rejected exactly once)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import airlock

FEATURES = ["x", "y", "z", "c"]
CATEGORIES = np.array(["red", "green", "blue", "grey"])


def frame(n: int, seed: int, *, first_id: int = 0) -> pd.DataFrame:
    """``n`` rows: an id, three numeric features and one categorical one."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": np.arange(first_id, first_id + n, dtype=np.int64),
        "x": rng.normal(size=n), "y": rng.normal(size=n),
        "z": rng.integers(0, 100, size=n).astype(np.int64),
        "c": CATEGORIES[rng.integers(0, len(CATEGORIES), size=n)],
    })


def train_pipeline(seed: int = 0, iters: int = 15) -> Any:
    """A gradient-boosted pipeline (the demo's kind of model) on synthetic data."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    df = frame(3000, 1000 + seed)
    label = ((df.x + (df.c == "red") + df.z / 100 + 0.3 * np.random.default_rng(seed)
              .normal(size=len(df))) > 1).astype(int)
    prep = ColumnTransformer([("cat", OrdinalEncoder(), ["c"])], remainder="passthrough")
    pipe = Pipeline([("prep", prep), ("clf", HistGradientBoostingClassifier(
        max_iter=iters, random_state=seed))])
    return pipe.fit(df[FEATURES], label), df


def register(name: str = "scorer", seed: int = 0) -> str:
    """Register the pipeline (its signature: no nulls allowed); returns NAME@VERSION."""
    pipe, df = train_pipeline(seed)
    version = airlock.register_model(name, pipe, input_example=df[FEATURES].head(100))
    return version.ref


def write_inputs(folder: Path, *, files: int, rows: int, seed: int = 7,
                 nan_every: int | None = None, partition: str | None = "day=2026-12-01",
                 row_group: int = 4096) -> list[Path]:
    """``files`` Parquet files of ``rows`` rows (ids unique across files) under
    ``folder[/partition]``; every ``nan_every``-th row gets a NaN in ``x`` (a reject)."""
    base = folder / partition if partition else folder
    base.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        df = frame(rows, seed + i, first_id=i * rows)
        if nan_every:
            df.loc[df.index % nan_every == 3, "x"] = np.nan
        df["tier"] = pd.Categorical(np.where(df.z > 50, "high", "low"))  # Parquet dictionary
        path = base / f"events-{i:03d}.parquet"
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path,
                       row_group_size=row_group, compression="zstd")
        paths.append(path)
    return paths


def corrupt_a_page(path: Path) -> None:
    """Overwrite the header of one data page in the middle of ``path`` with bytes no Thrift
    decoder accepts (0xFF: field type 15), leaving the footer intact: the file plans like any
    other and fails when that row group is read. Deterministic, unlike random bytes, which
    can decode as a valid page by chance."""
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(meta.num_row_groups // 2).column(1)
    offset = column.dictionary_page_offset or column.data_page_offset
    raw = bytearray(path.read_bytes())
    raw[offset:offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(raw))


def output_files(folder: Path) -> dict[str, str]:
    """relative path → sha256 of every file a job left (hidden temporary files excluded)."""
    out = {}
    for root, _dirs, names in os.walk(folder):
        for n in names:
            if n.startswith("."):
                continue
            p = Path(root) / n
            out[p.relative_to(folder).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def scored_ids(folder: Path) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(ids in the output files, ids in the rejects), each as one sorted array."""
    parts = sorted(folder.glob("part-*.parquet"))
    ids = np.concatenate([pq.read_table(p, columns=["id"]).column("id").to_numpy()
                          for p in parts]) if parts else np.array([], dtype=np.int64)
    rejects = sorted((folder / "_rejects").glob("part-*.parquet"))
    rej = np.concatenate([pq.read_table(p, columns=["id"]).column("id").to_numpy()
                          for p in rejects]) if rejects else np.array([], dtype=np.int64)
    return np.sort(ids), np.sort(rej)


def assert_exactly_once(folder: Path, total: int) -> None:
    """Every input id 0..total-1 is in the output or the rejects, and only once."""
    ids, rej = scored_ids(folder)
    both = np.sort(np.concatenate([ids, rej]))
    assert both.size == total, (both.size, total)
    assert np.array_equal(both, np.arange(total)), "a row is missing or scored twice"


def run_cli(args: Sequence[str], env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airlock", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout,
                          check=False)


def recorded() -> int:
    """Fragments the store's manifests record as done (any job)."""
    import sqlalchemy as sa

    from airlock.store import get_store

    with get_store().engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT COUNT(*) FROM batch_fragments WHERE status = 'done'")).scalar() or 0)


def only_job() -> str:
    """The id of the one batch job in the store."""
    import sqlalchemy as sa

    from airlock.store import get_store

    with get_store().engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM batch_jobs"))]
    assert len(ids) == 1, ids
    return str(ids[0])


def kill_midway(args: Sequence[str], out: Path, *, env: dict[str, str] | None = None,
                parts: int = 2, timeout: float = 240) -> int:
    """Start ``airlock`` with ``args``, SIGKILL it (and its workers) once its manifest
    records ``parts`` fragments done; returns how many output files were there. Fails if the
    job ends first."""
    proc = subprocess.Popen([sys.executable, "-m", "airlock", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if recorded() >= parts:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
                return len(list(out.glob("part-*.parquet")))
            if proc.poll() is not None:
                raise AssertionError(f"the job ended before it was killed:\n"
                                     f"{proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.05)
        raise AssertionError("no fragment was recorded in time")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
