"""experiments.analyze on tables: the result shape, SRM, CUPED, guardrails, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from airlock.errors import InvalidInput, UsageError
from airlock.experiments import (
    MSG_COVARIATE,
    MSG_NO_TRAFFIC,
    MSG_ONE_VARIANT,
    analyze,
)


def _table(n: int = 20_000, lift: float = 0.02, seed: int = 0,
           share: float = 0.5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    variant = np.where(rng.random(n) < share, "primary", "canary")
    age = rng.normal(40, 10, n)
    p = 0.80 + np.where(variant == "canary", lift, 0.0)
    ok = (rng.random(n) < p).astype(np.int64)
    spend = 10 + 0.5 * age + rng.normal(0, 2, n) + np.where(variant == "canary", 0.3, 0.0)
    latency = rng.lognormal(3, 0.5, n) * np.where(variant == "canary", 1.2, 1.0)
    status = np.where(rng.random(n) < 0.01, 500, 200)
    return pl.DataFrame({"route": variant, "ok": ok, "spend": spend, "age": age,
                         "latency_ms": latency, "status": status,
                         "user": rng.integers(0, n // 3, n).astype(str)})


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return _table()


def test_result_shape_is_the_documented_one(table: pl.DataFrame) -> None:
    out = analyze(table, metrics=["mean(ok)", "latency_p95"]).to_dict()
    assert set(out["srm"]) >= {"p_value", "flagged", "expected", "observed"}
    assert set(out["variants"]) == {"primary", "canary"}
    for v in out["variants"].values():
        assert v["units"] > 0
        for m in ("mean(ok)", "latency_p95"):
            assert set(v[m]) >= {"value", "ci_low", "ci_high"}
            assert v[m]["ci_low"] <= v[m]["value"] <= v[m]["ci_high"]
    keys = {"variant", "control", "metric", "lift", "lift_ci_low", "lift_ci_high",
            "relative_lift", "p_value", "significant", "method"}
    assert len(out["comparisons"]) == 2
    for c in out["comparisons"]:
        assert keys <= set(c)
        assert c["control"] == "primary" and c["variant"] == "canary"
    lat = next(c for c in out["comparisons"] if c["metric"] == "latency_p95")
    assert lat["method"] == "bootstrap percentile" and lat["significant"] is True
    assert lat["lift_ci_low"] > 0  # the canary is 20% slower


def test_any_table_kind_gives_the_same_numbers(table: pl.DataFrame) -> None:
    a = analyze(table, metrics=["mean(ok)"]).to_dict()
    b = analyze(table.to_pandas(), metrics=["mean(ok)"]).to_dict()
    c = analyze(table.to_arrow(), metrics=["mean(ok)"]).to_dict()
    assert a["comparisons"] == b["comparisons"] == c["comparisons"]
    assert isinstance(table.to_pandas(), pd.DataFrame) and isinstance(table.to_arrow(), pa.Table)


def test_lift_is_found_and_relative_lift_is_lift_over_control(table: pl.DataFrame) -> None:
    r = analyze(table, metrics=["mean(ok)"])
    c = r.comparison("mean(ok)")
    control = r.variants["primary"].metrics["mean(ok)"].value
    assert c.lift is not None and c.relative_lift is not None and control
    assert c.relative_lift == pytest.approx(c.lift / control)
    assert c.lift_ci_low is not None and c.lift_ci_low > 0 and c.significant


def test_srm_flags_and_withholds_lifts() -> None:
    t = _table(share=0.52, seed=3)
    r = analyze(t, metrics=["mean(ok)"], expected_split={"primary": 0.5, "canary": 0.5})
    assert r.srm.flagged and r.srm.p_value < 0.001
    c = r.comparison("mean(ok)")
    assert c.lift is None and c.significant is None and c.reason
    shown = analyze(t, metrics=["mean(ok)"], expected_split={"primary": 0.5, "canary": 0.5},
                    show_despite_srm=True)
    assert shown.srm.flagged and shown.comparison("mean(ok)").lift is not None


def test_cuped_reduces_variance_and_keeps_the_estimate(table: pl.DataFrame) -> None:
    raw = analyze(table, metrics=["mean(spend)"]).comparison("mean(spend)")
    r = analyze(table, metrics=["mean(spend)"], covariate="age")
    adj = r.comparison("mean(spend)")
    assert r.cuped is not None
    assert r.cuped["metrics"]["mean(spend)"]["variance_reduction"] > 0.5
    assert adj.lift == pytest.approx(0.3, abs=0.1)
    assert raw.lift_ci_high is not None and raw.lift_ci_low is not None
    assert adj.lift_ci_high is not None and adj.lift_ci_low is not None
    assert (adj.lift_ci_high - adj.lift_ci_low) < 0.7 * (raw.lift_ci_high - raw.lift_ci_low)


def test_guardrails_non_inferiority(table: pl.DataFrame) -> None:
    r = analyze(table, metrics=["mean(ok)"],
                guardrails={"error_rate": 0.01, "latency_p95": "5%"})
    err = r.comparison("error_rate").guardrail
    lat = r.comparison("latency_p95").guardrail
    assert err is not None and err.non_inferior and not err.breached
    assert lat is not None and lat.breached and not lat.non_inferior  # 20% slower > 5%
    assert r.guardrail_breached


def test_units_make_ratio_metrics(table: pl.DataFrame) -> None:
    r = analyze(table, metrics=["mean(ok)"], unit="user")
    assert r.unit == "user"
    assert r.variants["primary"].units < table.filter(pl.col("route") == "primary").height
    assert "delta method" in r.comparison("mean(ok)").method
    assert any("more than one variant" in n for n in r.notes)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"covariate": "nope"}, MSG_COVARIATE.format(name="nope", columns="")),
])
def test_bad_input_is_invalid_input(table: pl.DataFrame, kwargs: dict[str, str],
                                    message: str) -> None:
    with pytest.raises(InvalidInput, match=message.split(";")[0]):
        analyze(table, metrics=["mean(ok)"], **kwargs)


def test_one_variant_and_no_traffic(table: pl.DataFrame) -> None:
    with pytest.raises(InvalidInput) as one:
        analyze(table.filter(pl.col("route") == "primary"), metrics=["mean(ok)"])
    assert str(one.value) == MSG_ONE_VARIANT.format(name="primary")
    with pytest.raises(InvalidInput) as none:
        analyze(table.head(0), metrics=["mean(ok)"])
    assert str(none.value) == MSG_NO_TRAFFIC.format(where="the table")


def test_bad_options_are_usage_errors(table: pl.DataFrame) -> None:
    with pytest.raises(UsageError, match="unknown metric 'median"):
        analyze(table, metrics=["median(ok)"])
    with pytest.raises(UsageError, match="alpha"):
        analyze(table, metrics=["mean(ok)"], alpha=0.9)
