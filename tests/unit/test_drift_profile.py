"""Reference profiles: the sketch's exactness and merge laws (Hypothesis), the saved format
(size, round trip, refused versions), and profile-based statistics against full-data oracles:
PSI and Jensen-Shannon within 1e-3 of numpy/scipy on exact reference-quantile bins (Adult and
synthetic data), KS and Wasserstein within their documented error bounds."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from scipy import stats as sst
from scipy.spatial.distance import jensenshannon

from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.monitor import CategoricalProfile, DriftMonitor, NumericProfile, Profile
from airlock.monitor._sketch import Sketch, from_ordered, ordered
from airlock.monitor._stats import PSI_EPSILON

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT.parent / "shared" / "datasets"
EXAMPLE_DATA = ROOT / "examples" / "data"

ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
ADULT_NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss",
                 "hours_per_week"]


def read_adult(name: str) -> pl.DataFrame:
    """adult.data or adult.test as typed columns, '?' as null."""
    path = EXAMPLE_DATA / f"{name}.gz"  # shipped with the repository
    if not path.exists():
        path = DATASETS / "adult" / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    df = pl.read_csv(path, has_header=False, new_columns=ADULT_COLUMNS, infer_schema_length=0,
                     skip_rows=1 if name == "adult.test" else 0)
    df = df.with_columns(pl.col(pl.String).str.strip_chars()).filter(pl.col("age") != "")
    text = [c for c in ADULT_COLUMNS if c not in ADULT_NUMERIC]
    return df.with_columns(
        *[pl.col(c).cast(pl.Int64) for c in ADULT_NUMERIC],
        *[pl.when(pl.col(c) == "?").then(None).otherwise(pl.col(c)).alias(c) for c in text])


def quantile_bins_oracle(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> tuple[float, float]:
    """PSI and JS on exact reference-quantile bins, straight from numpy and scipy."""
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins, method="inverted_cdf"))
    r = np.bincount(np.searchsorted(edges, ref, "left"), minlength=edges.size + 1) / ref.size
    c = np.bincount(np.searchsorted(edges, cur, "left"), minlength=edges.size + 1) / cur.size
    rr, cc = np.maximum(r, PSI_EPSILON), np.maximum(c, PSI_EPSILON)
    return float(np.sum((cc - rr) * np.log(cc / rr))), float(jensenshannon(r, c))


# -- the sketch -----------------------------------------------------------------------------
def test_ordered_keys_keep_float_order_and_invert() -> None:
    x = np.array([-np.finfo(float).max, -1e300, -2.5, -1.0, -1e-300, -0.0, 0.0, 5e-324, 1.0,
                  2.5, 1e300, np.finfo(float).max])
    keys = ordered(x)
    assert np.all(np.diff(keys) >= 0)
    assert keys[5] == keys[6]  # -0.0 folds onto +0.0
    back = from_ordered(keys)
    assert np.array_equal(back, x + 0.0)


def test_small_columns_are_exact_and_large_ones_bounded() -> None:
    ints = np.repeat(np.arange(100, dtype=float), 7)
    sk = Sketch.from_values(ints, 64)  # 100 distinct values > 64 buckets: coarsened
    assert not sk.exact and sk.keys.size <= 64 and sk.n == 700
    exact = Sketch.from_values(ints, 128)
    assert exact.exact and np.array_equal(exact.values(), np.arange(100.0))
    assert np.all(exact.counts == 7) and exact.rank_error() == 0.0
    x = np.random.default_rng(0).normal(size=100_000)
    sk = Sketch.from_values(x, 4096)
    assert sk.keys.size <= 4096 and sk.n == x.size
    # every value lies in its bucket, and the CDF at bucket bounds is exact
    lower, upper = sk.lower(), sk.upper()
    assert np.all(lower[1:] >= upper[:-1])
    cum = np.cumsum(sk.counts)
    assert np.array_equal(cum, np.searchsorted(np.sort(x), upper, "left"))
    assert sk.rank_error() < 3e-3  # about 2,700 buckets of 7 mantissa bits for N(0, 1)
    for q in (0.01, 0.25, 0.5, 0.9, 0.999):
        true = np.quantile(x, q, method="inverted_cdf")
        rank = np.searchsorted(np.sort(x), sk.quantile(q), "right") / x.size
        assert abs(rank - np.mean(x <= true)) <= sk.rank_error() + 1e-9


finite = hs.floats(allow_nan=False, allow_infinity=False, width=64)
values = hs.lists(hs.one_of(finite, hs.integers(-50, 50).map(float),
                            hs.floats(-3, 3, allow_nan=False)), min_size=0, max_size=120)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=values, b=values, c=values, budget=hs.sampled_from([16, 24, 64]))
def test_sketch_merge_is_exact_associative_and_commutative(a: list[float], b: list[float],
                                                           c: list[float], budget: int) -> None:
    def sk(v: list[float]) -> Sketch:
        return Sketch.from_values(np.array(v, dtype=float), budget)

    def same(x: Sketch, y: Sketch) -> bool:
        return (x.shift == y.shift and np.array_equal(x.keys, y.keys)
                and np.array_equal(x.counts, y.counts))

    whole = sk(a + b + c)
    assert same(sk(a).merge(sk(b)).merge(sk(c)), whole)
    assert same(sk(a).merge(sk(b).merge(sk(c))), whole)
    assert same(sk(c).merge(sk(a)).merge(sk(b)), whole)
    assert whole.keys.size <= budget or whole.shift == 52


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=hs.lists(hs.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300),
       b=hs.lists(hs.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300),
       cats=hs.lists(hs.sampled_from(["a", "b", "c", "d"]), min_size=2, max_size=200))
def test_merged_profiles_give_the_drift_results_of_the_whole(
        a: list[float], b: list[float], cats: list[str]) -> None:
    cut = len(cats) // 2
    frame_a = pl.DataFrame({"x": a, "k": (cats * len(a))[: len(a)]})
    frame_b = pl.DataFrame({"x": b, "k": (cats[cut:] * len(b))[: len(b)]})
    both = pl.concat([frame_a, frame_b])
    current = pl.DataFrame({"x": [v * 1.5 + 1 for v in a], "k": (cats[::-1] * len(a))[: len(a)]})
    merged = Profile.from_data(frame_a, buckets=32).merge(Profile.from_data(frame_b, buckets=32))
    whole = Profile.from_data(both, buckets=32)
    r1 = DriftMonitor().fit(merged).score(current)
    r2 = DriftMonitor().fit(whole).score(current)
    assert r1.drifted == r2.drifted and r1.drift_share == r2.drift_share
    for name in ("x", "k"):
        c1, c2 = r1.columns[name], r2.columns[name]
        assert (c1.method, c1.drifted) == (c2.method, c2.drifted)
        for key, v1 in c1.statistics.items():
            v2 = c2.statistics[key]
            assert (v1 is None) == (v2 is None)
            if v1 is not None and v2 is not None and math.isfinite(v1):
                assert v1 == pytest.approx(v2, rel=1e-9, abs=1e-12), key


def test_categorical_cap_pools_the_rarest_into_other() -> None:
    counts = {f"v{i:03d}": 1000 - i for i in range(300)}
    prof = CategoricalProfile.from_counts(sum(counts.values()), counts, max_categories=100)
    d = prof.as_dict()
    assert len(d) == 100 and "__other__" in d
    assert d["__other__"] == sum(1000 - i for i in range(99, 300))
    assert prof.count == sum(counts.values())


# -- the saved format -----------------------------------------------------------------------
def test_save_load_round_trip_keeps_every_number(tmp_path: Path) -> None:
    adult = read_adult("adult.data")
    prof = Profile.from_data(adult)
    path = prof.save(tmp_path / "adult.profile")
    assert Profile.is_profile(path)
    back = Profile.load(path)
    assert back.to_json() == prof.to_json()
    assert back.rows == adult.height == 32_561
    age = back.columns["age"]
    assert isinstance(age, NumericProfile) and age.sketch.exact
    assert (age.min, age.max, age.count) == (17.0, 90.0, 32_561)
    assert age.mean == pytest.approx(adult["age"].mean())
    assert age.std == pytest.approx(adult["age"].std(ddof=0))
    work = back.columns["workclass"]
    assert isinstance(work, CategoricalProfile)
    assert work.missing == adult["workclass"].null_count() == 1836


def test_profile_of_100_columns_is_under_1_mb(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = 100_000
    cols: dict[str, Any] = {}
    for i in range(80):
        cols[f"n{i}"] = rng.normal(i, 1 + i % 5, rows) if i % 2 else rng.lognormal(0, 1, rows)
    for i in range(20):
        cols[f"c{i}"] = rng.choice([f"level_{j}" for j in range(50)], rows)
    prof = Profile.from_data(pl.DataFrame(cols))
    size = prof.save(tmp_path / "wide.profile").stat().st_size
    assert size <= 1_000_000, size
    assert all(isinstance(prof.columns[f"n{i}"], NumericProfile) for i in range(80))


@pytest.mark.parametrize(("content", "message"), [
    (b"not json at all", "is not an airlock profile (not JSON)"),
    (b'{"hello": 1}', "is not an airlock profile (no format"),
    (b'{"format":"airlock.profile","version":99,"rows":1,"columns":{}}',
     "has profile format version 99; this airlock reads version 1 only"),
    (b'{"format":"airlock.profile","version":1,"rows":1,"columns":{"x":{"kind":"numerical"}}}',
     "is a damaged airlock profile"),
])
def test_bad_profiles_are_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.profile"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        Profile.load(path)


def test_missing_profile_and_bad_merges() -> None:
    with pytest.raises(NotFound, match="no such profile file: "):
        Profile.load("/nonexistent/ref.profile")
    p1 = Profile.from_data(pl.DataFrame({"x": [1.0, 2.0], "k": ["a", "b"]}))
    p2 = Profile.from_data(pl.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(UsageError, match="only in one: k"):
        p1.merge(p2)
    p3 = Profile.from_data(pl.DataFrame({"x": ["a", "b"], "k": ["a", "b"]}))
    with pytest.raises(UsageError, match="column 'x' is numerical in one profile and "
                                         "categorical in the other"):
        p1.merge(p3)
    with pytest.raises(UsageError, match="different bucket budgets"):
        p1.merge(Profile.from_data(pl.DataFrame({"x": [1.0], "k": ["a"]}), buckets=64))


def test_saved_json_is_versioned_and_compact(tmp_path: Path) -> None:
    prof = Profile.from_data(pl.DataFrame({"x": np.arange(10_000, dtype=float)}))
    doc = json.loads(prof.to_bytes())
    assert doc["format"] == "airlock.profile" and doc["version"] == 1
    assert set(doc["columns"]["x"]["counts"]) == {"dtype", "n", "zlib_b64"}


# -- profile statistics against full-data oracles ------------------------------------------
def _profile_vs_data(reference: pl.DataFrame, current: pl.DataFrame,
                     columns: list[str]) -> None:
    result = DriftMonitor(columns=columns, numerical=columns).fit(
        Profile.from_data(reference, columns=columns, numerical=columns)).score(current)
    for name in columns:
        ref = reference[name].drop_nulls().to_numpy().astype(float)
        cur = current[name].drop_nulls().to_numpy().astype(float)
        stats = result.columns[name].statistics
        psi, js = quantile_bins_oracle(ref, cur)
        assert stats["psi"] == pytest.approx(psi, abs=1e-3), name
        assert stats["jensenshannon"] == pytest.approx(js, abs=1e-3), name
        prof = Profile.from_data(reference, columns=[name]).columns[name]
        assert isinstance(prof, NumericProfile)
        true_ks = float(sst.ks_2samp(ref, cur).statistic)
        true_w = sst.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 1e-3)
        col = result.columns[name]
        if prof.sketch.exact:  # the profile holds every value: exact
            assert stats["ks"] == pytest.approx(true_ks, abs=1e-12)
            assert stats["wasserstein"] == pytest.approx(true_w, rel=1e-9)
            continue
        monitor = DriftMonitor(methods="ks", numerical=[name], columns=[name])
        ks_col = monitor.fit(Profile.from_data(reference, columns=[name])).score(current)
        bound = ks_col.columns[name].error_bound
        assert ks_col.columns[name].approximate and bound is not None
        assert stats["ks"] <= true_ks + 1e-12  # evaluated at bucket bounds: a lower bound
        assert true_ks - stats["ks"] <= bound + 1e-12
        assert col.approximate and col.method == "wasserstein" and col.error_bound is not None
        assert abs(stats["wasserstein"] - true_w) <= col.error_bound + 1e-9


def test_profile_statistics_match_full_data_on_adult() -> None:
    reference, current = read_adult("adult.data"), read_adult("adult.test")
    shifted = current.with_columns(pl.col("age") + 10, pl.col("fnlwgt") * 1.2,
                                   pl.col("hours_per_week") - 5)
    for cur in (current, shifted):
        _profile_vs_data(reference, cur, ADULT_NUMERIC)
    fnlwgt = Profile.from_data(reference).columns["fnlwgt"]
    assert isinstance(fnlwgt, NumericProfile) and not fnlwgt.sketch.exact  # ~21k values


def test_profile_statistics_match_full_data_on_synthetic() -> None:
    rng = np.random.default_rng(11)
    n = 60_000
    reference = pl.DataFrame({"normal": rng.normal(100, 15, n), "skewed": rng.lognormal(0, 1.2, n),
                              "offset": rng.normal(1e6, 1, n), "mixed": rng.integers(0, 30, n)
                              + rng.normal(0, 0.01, n)})
    current = pl.DataFrame({"normal": rng.normal(104, 15, 40_000),
                            "skewed": rng.lognormal(0.3, 1.0, 40_000),
                            "offset": rng.normal(1e6 + 0.3, 1.2, 40_000),
                            "mixed": rng.integers(0, 35, 40_000) + rng.normal(0, 0.01, 40_000)})
    _profile_vs_data(reference, current, list(reference.columns))


def test_undecodable_text_is_an_error_and_unsupported_columns_are_listed(
        tmp_path: Path) -> None:
    """Issue 13.24: a Latin-1 CSV column was silently dropped from a profile: text that is
    not UTF-8 is an error naming the column; other types drift cannot measure are listed."""
    import pyarrow as pa

    from airlock.errors import UsageError
    from airlock.monitor import DriftMonitor, Profile

    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"name,age\nJos\xe9,30\nRen\xe9e,40\nAnn,50\n")
    # the one file reader refuses it first, naming the file (binary columns of an in-memory
    # table are refused by the profile, naming the column)
    with pytest.raises(UsageError, match=r"latin\.csv.*not UTF-8"):
        Profile.from_data(latin)
    with pytest.raises(UsageError, match=r"column 'b' of the .* is bytes that are not UTF-8"):
        Profile.from_data(pa.table({"b": pa.array([b"Jos\xe9", b"x"], pa.binary())}))
    table = pa.table({"n": [1.0, 2.0, 3.0], "tags": pa.array([[1], [2], []])})
    prof = Profile.from_data(table)
    assert list(prof.columns) == ["n"]
    assert prof.skipped == {"tags": "has type list<item: int64>: drift is measured on "
                                    "numeric and categorical columns only"}
    saved = Profile.load(prof.save(tmp_path / "p.profile"))
    assert saved.skipped == prof.skipped and prof.summary()["skipped"] == prof.skipped
    result = DriftMonitor().fit(saved).score(table)
    assert result.skipped == prof.skipped and result.to_dict()["skipped"] == prof.skipped
