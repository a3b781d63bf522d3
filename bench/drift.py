#!/usr/bin/env python
"""airlock data drift vs Evidently's DataDriftPreset, on the same Parquet files.

    python bench/drift.py [--rows N] [--repeats N] [--evidently-repeats N] [--quick] [--json PATH]

Data: a synthetic reference and current table of ``--rows`` rows each (1,000,000 by default),
20 numeric and 5 categorical columns, seeded; 5 numeric columns are shifted in the current
table (mean +0.25 sd, or scale x1.3) and 2 categorical columns change their mix. Both are
written to Parquet first, and every tool reads those files.

Cases, each in a fresh subprocess so that its peak RSS (measured inside that process: VmHWM on
Linux, where ``ru_maxrss`` would also count the parent's peak at fork; ``ru_maxrss`` elsewhere)
is its own:

- ``fit+score``: ``DriftMonitor().fit(reference.parquet).score(current.parquet)``;
- ``profile score``: ``DriftMonitor().fit(reference.profile).score(current.parquet)``
  (the profile is built once beforehand; its size is printed);
- Evidently 0.7 ``Report([DataDriftPreset()]).run(current, reference)`` in the interpreter of
  ``.venv-evidently`` (evidently 0.7 does not import with pandas 3; create it with
  ``python3 -m venv .venv-evidently && .venv-evidently/bin/pip install "evidently==0.7.*"
  "pandas<3" pyarrow``, or point ``AIRLOCK_EVIDENTLY_PYTHON`` at another interpreter),
  timed from reading the Parquet files to the finished report, with explicit column types.

Timings are medians of ``--repeats`` runs (Evidently: ``--evidently-repeats``, default 1).
``ratio`` = Evidently's seconds / airlock's (target >= 20x); peak RSS target <= 1 GB. The
per-column drift decisions of airlock and Evidently are compared and the agreement printed.
``--quick`` runs 20,000 rows and skips Evidently (with a note) when its interpreter is absent.

The script is also its own worker: ``--worker airlock|evidently`` runs one case and prints
one JSON line (the integration tests reuse the Evidently worker).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVIDENTLY_PYTHON = Path(os.environ.get("AIRLOCK_EVIDENTLY_PYTHON",
                                       ROOT / ".venv-evidently" / "bin" / "python"))
TARGET_RATIO = 20.0
TARGET_RSS_MB = 1024.0
NUMERIC, CATEGORICAL = 20, 5
CATS = [f"cat_{i:02d}" for i in range(12)]


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM on Linux (``ru_maxrss`` there also counts the
    parent's peak at fork, which exec does not reset), ``ru_maxrss`` elsewhere."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


# -- workers (run in their own process) -----------------------------------------------------
def airlock_worker(reference: str, current: str) -> dict[str, Any]:
    import scipy.stats  # noqa: F401  (imported before the clock, as evidently imports it)

    from airlock.monitor import DriftMonitor

    start = time.perf_counter()
    result = DriftMonitor().fit(reference).score(current)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "drift_share": result.drift_share,
            "columns": {n: {"drifted": c.drifted, "method": c.method,
                            "statistic": c.statistic if c.statistic is None
                            or abs(c.statistic) != float("inf") else None}
                        for n, c in result.columns.items()}}


def evidently_worker(reference: str, current: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Evidently's DataDriftPreset on two Parquet files; explicit column types from ``spec``
    ({"numerical": [...], "categorical": [...], "drift_share": 0.5})."""
    import warnings

    warnings.filterwarnings("ignore")
    import evidently
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    columns = [*spec["numerical"], *spec["categorical"]]
    ref = pd.read_parquet(reference, columns=columns)
    cur = pd.read_parquet(current, columns=columns)
    definition = DataDefinition(numerical_columns=spec["numerical"],
                                categorical_columns=spec["categorical"])
    report = Report([DataDriftPreset(drift_share=spec.get("drift_share", 0.5))],
                    include_tests=True)
    snapshot = report.run(Dataset.from_pandas(cur, data_definition=definition),
                          Dataset.from_pandas(ref, data_definition=definition))
    seconds = time.perf_counter() - start
    out = snapshot.dict()
    cols: dict[str, Any] = {}
    for metric in out["metrics"]:
        cfg = metric.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            cols[cfg["column"]] = {"method": cfg.get("method"), "statistic": metric["value"]}
    share = None
    for metric in out["metrics"]:
        if metric.get("config", {}).get("type", "").endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    for test in out.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith("ValueDrift") and params.get("column") in cols:
            cols[params["column"]]["drifted"] = test.get("status") == "FAIL"
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "drift_share": share,
            "columns": cols, "version": evidently.__version__}


def run_worker(python: str | Path, kind: str, reference: Path, current: Path,
               spec: dict[str, Any] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """One worker in a fresh process; returns its JSON."""
    args = [str(python), str(Path(__file__).resolve()), "--worker", kind, str(reference),
            str(current)]
    if spec is not None:
        args += ["--spec", json.dumps(spec)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- data -----------------------------------------------------------------------------------
def make_tables(rows: int, folder: Path, seed: int = 7) -> dict[str, Any]:
    """Write reference.parquet and current.parquet; returns the column spec."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    numerical = [f"num_{i:02d}" for i in range(NUMERIC)]
    categorical = [f"cat_{i}" for i in range(CATEGORICAL)]
    for name, shifted in (("reference", False), ("current", True)):
        rng = np.random.default_rng(seed + shifted)
        cols: dict[str, Any] = {}
        for i, col in enumerate(numerical):
            scale = 1.0 + i % 4
            x = rng.normal(10.0 * i, scale, rows) if i % 3 else rng.lognormal(1.0, 0.6, rows)
            if shifted and i % 4 == 0:
                x = x + 0.25 * scale if i % 8 == 0 else x * 1.3
            cols[col] = x
        for i, col in enumerate(categorical):
            p = np.linspace(1.0, 1.0 + i, len(CATS))
            if shifted and i % 2 == 0 and i < 4:
                p = p[::-1] ** 2
            idx = rng.choice(len(CATS), size=rows, p=p / p.sum())
            cols[col] = pa.DictionaryArray.from_arrays(pa.array(idx.astype("int32")),
                                                       pa.array(CATS)).cast(pa.string())
        pq.write_table(pa.table(cols), folder / f"{name}.parquet", row_group_size=250_000)
    return {"numerical": numerical, "categorical": categorical, "drift_share": 0.5}


# -- main -----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--rows", type=int, default=None, help="rows per table (1,000,000)")
    p.add_argument("--repeats", type=int, default=3, help="airlock runs; the median counts")
    p.add_argument("--evidently-repeats", type=int, default=1, help="Evidently runs (1)")
    p.add_argument("--quick", action="store_true", help="20,000 rows; a smoke run")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the figures as JSON to PATH")
    p.add_argument("--worker", choices=["airlock", "evidently"], help=argparse.SUPPRESS)
    p.add_argument("--spec", default=None, help=argparse.SUPPRESS)
    p.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats < 1 or args.evidently_repeats < 1:
        p.error("--repeats and --evidently-repeats must be at least 1")
    if args.rows is not None and args.rows < 1000:
        p.error("--rows must be at least 1000")
    return args


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def _agreement(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[int, int, list[str]]:
    common = [c for c in ours["columns"] if "drifted" in theirs["columns"].get(c, {})]
    differ = [c for c in common
              if ours["columns"][c]["drifted"] != theirs["columns"][c]["drifted"]]
    return len(common) - len(differ), len(common), differ


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        reference, current = args.files
        if args.worker == "airlock":
            out = airlock_worker(reference, current)
        else:
            out = evidently_worker(reference, current, json.loads(args.spec))
        print(json.dumps(out))
        return 0
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    have_evidently = EVIDENTLY_PYTHON.exists()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = make_tables(rows, folder)
        ref, cur = folder / "reference.parquet", folder / "current.parquet"
        from airlock.monitor import Profile

        start = time.perf_counter()
        profile_path = Profile.from_data(ref).save(folder / "reference.profile")
        profile_s = time.perf_counter() - start
        profile_bytes = profile_path.stat().st_size
        data_runs = [run_worker(sys.executable, "airlock", ref, cur)
                     for _ in range(args.repeats)]
        prof_runs = [run_worker(sys.executable, "airlock", profile_path, cur)
                     for _ in range(args.repeats)]
        ev_runs = [run_worker(EVIDENTLY_PYTHON, "evidently", ref, cur, spec)
                   for _ in range(args.evidently_repeats)] if have_evidently else []
    return report(args, rows, spec, data_runs, prof_runs, ev_runs, profile_s, profile_bytes)


def report(args: argparse.Namespace, rows: int, spec: dict[str, Any],
           data_runs: list[dict[str, Any]], prof_runs: list[dict[str, Any]],
           ev_runs: list[dict[str, Any]], profile_s: float, profile_bytes: int) -> int:
    ours_s, prof_s = _median(data_runs, "seconds"), _median(prof_runs, "seconds")
    ours_rss = max(r["peak_rss_mb"] for r in data_runs)
    prof_rss = max(r["peak_rss_mb"] for r in prof_runs)
    quick = " (QUICK: sizes too small to mean anything)" if args.quick else ""
    print(f"airlock drift bench: {rows:,} vs {rows:,} rows, {NUMERIC} numeric + {CATEGORICAL} "
          f"categorical columns; airlock median of {args.repeats}{quick}")
    figures: dict[str, Any] = {
        "rows": rows, "quick": args.quick, "repeats": args.repeats,
        "airlock_s": ours_s, "airlock_profile_s": prof_s, "airlock_rss_mb": ours_rss,
        "airlock_profile_rss_mb": prof_rss, "profile_build_s": profile_s,
        "profile_bytes": profile_bytes, "airlock_drifted": sorted(
            c for c, v in data_runs[-1]["columns"].items() if v["drifted"]),
        "python": platform.python_version(), "cpus": os.cpu_count()}
    if ev_runs:
        ev_s, ev_rss = _median(ev_runs, "seconds"), max(r["peak_rss_mb"] for r in ev_runs)
        agree, total, differ = _agreement(data_runs[-1], ev_runs[-1])
        ratio, prof_ratio = ev_s / ours_s, ev_s / prof_s
        figures.update(evidently_s=ev_s, evidently_rss_mb=ev_rss, ratio=ratio,
                       profile_ratio=prof_ratio, agree=agree, compared=total, differ=differ,
                       evidently_version=ev_runs[-1].get("version"))
        print(f"case fit+score: airlock {ours_s:.2f} s | evidently {ev_s:.2f} s | ratio "
              f"{ratio:,.1f}x | target >= {TARGET_RATIO:.0f}x | met? "
              f"{_yes(ratio >= TARGET_RATIO)}")
        print(f"case profile score: airlock {prof_s:.2f} s | evidently {ev_s:.2f} s | ratio "
              f"{prof_ratio:,.1f}x | faster than fit+score? {_yes(prof_s < ours_s)}")
        print(f"case peak_rss: airlock {ours_rss:,.0f} MB | profile {prof_rss:,.0f} MB | "
              f"evidently {ev_rss:,.0f} MB | ratio {ev_rss / ours_rss:.1f}x | target <= "
              f"{TARGET_RSS_MB:,.0f} MB | met? {_yes(ours_rss <= TARGET_RSS_MB)}")
        print(f"case agreement: {agree}/{total} columns with the same drift decision"
              + (f" (differ: {', '.join(differ)})" if differ else ""))
    else:
        print(f"note: Evidently skipped: no interpreter at {EVIDENTLY_PYTHON} (see --help)")
        print(f"case fit+score: airlock {ours_s:.2f} s | evidently n/a")
        print(f"case profile score: airlock {prof_s:.2f} s | faster than fit+score? "
              f"{_yes(prof_s < ours_s)}")
        print(f"case peak_rss: airlock {ours_rss:,.0f} MB | profile {prof_rss:,.0f} MB | "
              f"target <= {TARGET_RSS_MB:,.0f} MB | met? {_yes(ours_rss <= TARGET_RSS_MB)}")
    print(f"info profile: built in {profile_s:.2f} s, {profile_bytes:,} bytes for "
          f"{NUMERIC + CATEGORICAL} columns; airlock drifted: "
          f"{', '.join(figures['airlock_drifted']) or 'none'}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
