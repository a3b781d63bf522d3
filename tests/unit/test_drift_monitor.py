"""DriftMonitor as a Python user drives it: default methods and thresholds, per-column and
per-kind choices, data-quality changes, inputs (pandas, polars, Arrow, Parquet, CSV, a saved
profile), windows, the HTML report, and every error a caller can cause."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from scipy import stats as sst

import airlock.monitor
from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.monitor import (
    ColumnDrift,
    DriftMonitor,
    DriftResult,
    Profile,
    render_drift_report,
    save_drift_report,
)


def frames(n_ref: int, n_cur: int, *, shift: float = 0.0, seed: int = 0
           ) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)

    def make(n: int, s: float, mix: list[float]) -> pl.DataFrame:
        return pl.DataFrame({
            "x": rng.normal(10 + s, 2, n),
            "level": rng.choice(["low", "mid", "high"], n, p=mix),
            "flag": rng.choice(["yes", "no"], n),
            "code": rng.integers(0, 4, n),
        })
    return make(n_ref, 0.0, [0.5, 0.3, 0.2]), make(n_cur, shift, [0.2, 0.3, 0.5]
                                                   if shift else [0.5, 0.3, 0.2])


def test_public_api_is_explicit() -> None:
    names = airlock.monitor.__all__
    assert names == sorted(names) and len(set(names)) == len(names)
    assert {"DriftMonitor", "DriftResult", "ColumnDrift", "Profile"} <= set(names)
    for name in names:
        assert getattr(airlock.monitor, name) is not None


def test_small_data_uses_ks_chisquare_and_z() -> None:
    ref, cur = frames(800, 600, shift=1.0)
    result = DriftMonitor().fit(ref).score(cur)
    x, level, flag, code = (result.columns[c] for c in ("x", "level", "flag", "code"))
    assert (x.method, level.method, flag.method) == ("ks", "chisquare", "z")
    assert code.kind == "categorical" and code.method == "chisquare"  # int, <= 10 values
    expected = sst.ks_2samp(ref["x"].to_numpy(), cur["x"].to_numpy())
    assert x.statistic == pytest.approx(float(expected.statistic), abs=1e-15)
    assert x.p_value == pytest.approx(float(expected.pvalue), rel=1e-9)
    assert x.drifted and x.threshold == 0.05
    assert level.drifted and level.p_value is not None and level.p_value < 1e-10
    assert not flag.drifted and flag.p_value is not None and flag.p_value >= 0.05
    assert result.drifted_columns[:2] == ["level", "x"] or set(result.drifted_columns[:2]) == {
        "level", "x"}
    assert result.drift_share == pytest.approx(result.n_drifted / 4)


def test_large_data_uses_wasserstein_and_jensenshannon() -> None:
    ref, cur = frames(5000, 3000, shift=0.5)
    result = DriftMonitor().fit(ref).score(cur)
    x = result.columns["x"]
    assert x.method == "wasserstein" and x.threshold == 0.1
    a, b = ref["x"].to_numpy(), cur["x"].to_numpy()
    assert x.statistic == pytest.approx(sst.wasserstein_distance(a, b) / np.std(a), rel=1e-9)
    assert x.drifted  # 0.5 / 2 = 0.25 >= 0.1
    assert result.columns["level"].method == "jensenshannon"
    assert result.columns["flag"].method == "jensenshannon"
    assert not result.columns["flag"].drifted


def test_methods_and_thresholds_by_column_and_kind() -> None:
    ref, cur = frames(3000, 3000, shift=0.15)
    monitor = DriftMonitor(methods={"numerical": "psi", "level": "chisquare",
                                    "categorical": "psi"},
                           thresholds={"x": 0.5, "categorical": 0.01}, drift_share=0.25)
    result = monitor.fit(ref).score(cur)
    x, level, flag = result.columns["x"], result.columns["level"], result.columns["flag"]
    assert (x.method, x.threshold) == ("psi", 0.5) and not x.drifted
    assert (level.method, level.threshold) == ("chisquare", 0.01) and level.drifted
    assert flag.method == "psi" and flag.threshold == 0.01
    assert result.drifted == (result.drift_share >= 0.25)
    single = DriftMonitor(methods="jensenshannon", thresholds=0.9).fit(ref).score(cur)
    assert {c.method for c in single.columns.values()} == {"jensenshannon"}
    assert not single.drifted and single.drift_share == 0.0


def test_missing_rates_out_of_range_and_categories() -> None:
    ref = pl.DataFrame({"x": [1.0, 2.0, 3.0, None, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
                        "k": ["a", "b", "c", "a", "b", "c", "a", "b", None, "c"]})
    cur = pl.DataFrame({"x": [0.0, 2.0, None, None, float("nan"), 6.0, 12.0, 8.0],
                        "k": ["a", "a", "d", "d", None, None, "a", "e"]})
    result = DriftMonitor().fit(ref).score(cur)
    x, k = result.columns["x"], result.columns["k"]
    assert x.reference_missing_rate == pytest.approx(0.1)
    assert x.current_missing_rate == pytest.approx(3 / 8)  # null, null, NaN
    assert x.missing_rate_change == pytest.approx(3 / 8 - 0.1)
    assert x.out_of_range_rate == pytest.approx(2 / 5)  # 0 and 12 outside 1..10
    assert k.new_categories == ("d", "e") and k.vanished_categories == ("b", "c")
    assert k.out_of_range_rate == pytest.approx(3 / 6)
    assert k.statistics["chisquare"] == math.inf and k.drifted
    out = result.to_dict()  # JSON null with a reason, never the text "inf" (issue 12 #13)
    why = "infinite: the reference has no rows in categories 'd', 'e'"
    assert out["columns"]["k"]["statistics"]["chisquare"] is None
    assert out["columns"]["k"]["statistics"]["chisquare_reason"] == why
    assert k.method == "chisquare" and out["columns"]["k"]["statistic"] is None
    assert out["columns"]["k"]["statistic_reason"] == why
    text = json.dumps(out, allow_nan=False)
    assert '"inf"' not in text and "Infinity" not in text
    record = next(r for r in result.records() if r["column"] == "k")
    assert record["stat_chisquare"] is None and record["stat_chisquare_reason"] == why


def test_inputs_of_every_kind_agree(tmp_path: Path) -> None:
    ref, cur = frames(2000, 1500, shift=0.3, seed=4)
    ref.write_parquet(tmp_path / "ref.parquet")
    cur.write_csv(tmp_path / "cur.csv")
    Profile.from_data(ref).save(tmp_path / "ref.profile")
    base = DriftMonitor().fit(ref).score(cur).to_dict(distribution=False)
    variants: list[tuple[Any, Any]] = [
        (ref.to_pandas(), cur.to_pandas()), (ref.to_arrow(), cur.to_arrow()),
        (str(tmp_path / "ref.parquet"), tmp_path / "cur.csv"),
        (tmp_path / "ref.profile", cur.lazy()), (Profile.load(tmp_path / "ref.profile"), cur)]
    for reference, current in variants:
        out = DriftMonitor().fit(reference).score(current).to_dict(distribution=False)
        for name, col in base["columns"].items():
            other = out["columns"][name]
            assert (other["method"], other["drifted"]) == (col["method"], col["drifted"])
            assert other["statistic"] == pytest.approx(col["statistic"], rel=1e-9), name


def test_exact_false_keeps_only_a_profile() -> None:
    rng = np.random.default_rng(8)
    ref = pl.DataFrame({"x": rng.normal(size=30_000)})
    cur = pl.DataFrame({"x": rng.normal(0.05, 1, 20_000)})
    exact = DriftMonitor(methods="ks").fit(ref)
    sketch = DriftMonitor(methods="ks", exact=False).fit(ref)
    assert exact.reference_values_ and not sketch.reference_values_
    e, s = exact.score(cur).columns["x"], sketch.score(cur).columns["x"]
    assert not e.approximate and s.approximate and s.error_bound is not None
    assert e.statistic is not None and s.statistic is not None
    assert 0 <= e.statistic - s.statistic <= s.error_bound


def test_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    ref = pl.DataFrame({"x": rng.normal(size=3000), "k": rng.choice(["a", "b"], 3000)})
    start = datetime(2024, 5, 1)
    n = 3 * 1500
    cur = pl.DataFrame({
        "ts": [start + timedelta(minutes=int(m)) for m in np.sort(rng.integers(0, 3 * 1440, n))],
        "x": rng.normal(size=n), "k": rng.choice(["a", "b"], n)})
    cur = cur.with_columns(pl.when(pl.col("ts") >= datetime(2024, 5, 3))
                           .then(pl.col("x") + 1.0).otherwise(pl.col("x")).alias("x"))
    monitor = DriftMonitor(columns=["x", "k"]).fit(ref)
    windows = monitor.score_windows(cur, "ts", every="1d")
    assert [w.window for w in windows] == ["2024-05-01T00:00:00", "2024-05-02T00:00:00",
                                           "2024-05-03T00:00:00"]
    assert [w.columns["x"].drifted for w in windows] == [False, False, True]
    assert sum(w.current_rows for w in windows) == n
    whole = monitor.score(cur, time_column="ts", every="1d")
    assert len(whole.windows) == 3 and whole.window is None
    assert [w["window"] for w in whole.to_dict()["windows"]] == [w.window for w in windows]
    html = render_drift_report(whole)
    assert "Drift share per window" in html and "2024-05-03T00:00:00" in html
    with pytest.raises(InvalidInput, match="time column 'x' is Float64, not a date"):
        monitor.score_windows(cur, "x")
    with pytest.raises(UsageError, match="invalid window length 'soon'"):
        monitor.score_windows(cur, "ts", every="soon")
    with pytest.raises(NotFound, match="time column 'when' is not in"):
        monitor.score_windows(cur, "when")
    with pytest.raises(UsageError, match="windows need both"):
        monitor.score(cur, time_column="ts")


def test_report_is_offline_well_formed_and_ordered(tmp_path: Path) -> None:
    ref, cur = frames(4000, 4000, shift=0.8, seed=2)
    result = DriftMonitor().fit(ref).score(cur)
    path = save_drift_report(result, tmp_path / "drift.html")
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"https?://|src=|<script", html)
    ET.fromstring(html.split("\n", 1)[1])  # well-formed XML after the doctype
    for name in ("x", "level", "flag", "code"):
        assert f'id="col-{name}"' in html
    table = html[html.index('id="statistics"'):html.index('id="distributions"')]
    order = [m.group(1) for m in re.finditer(r'href="#col-([^"]+)"', table)]
    assert order == [c.column for c in result.by_severity()]
    assert order[-1] == "flag"  # the one column that did not move comes last
    assert "<svg" in html and "DATASET DRIFT" in html


def test_result_types_and_json_shape() -> None:
    ref, cur = frames(1500, 1500, shift=0.4)
    result = DriftMonitor().fit(ref).score(cur)
    assert isinstance(result, DriftResult)
    assert all(isinstance(c, ColumnDrift) for c in result.columns.values())
    out = result.to_dict(distribution=False)
    assert {"drift_share", "drifted", "columns"} <= set(out)
    for col in out["columns"].values():
        assert {"method", "statistic", "p_value", "threshold", "drifted"} <= set(col)
        assert "distribution" not in col
    assert "distribution" in result.to_dict()["columns"]["x"]
    records = result.records()
    assert [r["column"] for r in records] == ["x", "level", "flag", "code"]
    assert all(r["window"] is None and "stat_psi" in r for r in records)
    assert records[0]["drifted"] == result.columns["x"].drifted


def test_caller_errors_are_clear(tmp_path: Path) -> None:
    ref, cur = frames(300, 300)
    with pytest.raises(UsageError, match="unknown drift method 'kl' for 'x'"):
        DriftMonitor(methods={"x": "kl"})
    with pytest.raises(UsageError, match="threshold for '\\*' must be a finite number"):
        DriftMonitor(thresholds=-1.0)
    with pytest.raises(UsageError, match="drift_share must be in"):
        DriftMonitor(drift_share=0)
    with pytest.raises(UsageError, match="not fitted yet"):
        DriftMonitor().score(cur)
    with pytest.raises(NotFound, match="column 'nope' is not in the reference"):
        DriftMonitor(columns=["nope"]).fit(ref)
    with pytest.raises(NotFound, match="column 'x' of the reference is not in the current"):
        DriftMonitor().fit(ref).score(cur.drop("x"))
    with pytest.raises(InvalidInput, match=r"column 'x' is numerical in the reference but "
                                           r"categorical \(large_string\) in the current"):
        DriftMonitor().fit(ref).score(cur.with_columns(pl.col("x").cast(pl.String)))
    with pytest.raises(UsageError, match="column 'level' is categorical: method 'wasserstein'"):
        DriftMonitor(methods={"level": "wasserstein"}).fit(ref).score(cur)
    with pytest.raises(NotFound, match=r"^no such .*file: .*missing\.parquet$"):
        DriftMonitor().fit(tmp_path / "missing.parquet")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(UsageError, match="cannot tell the format"):
        DriftMonitor().fit(tmp_path / "data.xlsx")
    with pytest.raises(InvalidInput, match="has no rows"):
        DriftMonitor().fit(ref).score(cur.head(0))
    with pytest.raises(InvalidInput, match="expected a table"):
        DriftMonitor().fit(42)


def test_empty_column_is_reported_not_crashed() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0], "k": ["a", "b", "a"]})
    cur = pd.DataFrame({"x": [np.nan, np.nan], "k": ["a", "a"]})
    result = DriftMonitor().fit(ref).score(cur)
    x = result.columns["x"]
    # no statistic to compute, but every value going missing is drift (issue 13.24)
    assert x.statistic is None and x.drifted
    assert x.current_missing_rate == 1.0 and x.note and "to 100.0% in the current" in x.note


def test_results_never_import_a_renderer() -> None:
    """Issue 11: results render nothing (no _result ↔ _report, _endpoint ↔ _endpoint_html
    cycle); pages use only what airlock.report's __init__ exports."""
    import ast

    import airlock.monitor as mon

    folder = Path(mon.__file__).parent

    def imports(name: str) -> set[str]:
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        out: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                out.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        return out

    renderers = {"._report", "._endpoint_html", "airlock.report"}
    for result in ("_result.py", "_endpoint.py", "_monitor.py", "_alerts.py"):
        assert not imports(result) & renderers, result
    for page in ("_report.py", "_endpoint_html.py"):
        assert not [m for m in imports(page) if m.startswith("airlock.report.")], page


def test_a_column_going_all_null_is_drift() -> None:
    """Issue 13.24: 0 % → 100 % null is drift (it said "no drift"); so is a large change of
    the missing rate, whatever the remaining values say; a steady one is not."""
    rng = np.random.default_rng(3)
    ref = pa.table({"x": rng.normal(0, 1, 2000), "c": rng.choice(["a", "b"], 2000)})
    gone = pa.table({"x": pa.nulls(500, pa.float64()), "c": pa.nulls(500, pa.string())})
    result = DriftMonitor().fit(ref).score(gone)
    for name in ("x", "c"):
        col = result.columns[name]
        assert col.drifted and col.current_missing_rate == 1.0
        assert col.note == ("missing values went from 0.0% in the reference to 100.0% in "
                            "the current data")
    assert result.drifted
    holes = rng.normal(0, 1, 2000)
    holes[:800] = np.nan  # 40 % missing, the rest from the same distribution
    col = DriftMonitor().fit(ref).score(pa.table({"x": holes, "c": ref.column("c")})) \
        .columns["x"]
    assert col.drifted and col.statistic is not None and col.statistic < 0.1
    same = DriftMonitor().fit(ref).score(ref).columns["x"]
    assert not same.drifted and same.note is None
