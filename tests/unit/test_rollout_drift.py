"""The rollout's drift guardrail compares two samples of one window: an equal candidate is
not rolled back by chance (the guardrail is judged on every poll), a real shift is caught."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from airlock.experiments._rollout_stats import Window, window_drift

WORK = ["Private", "Self-emp", "Local-gov", "State-gov", "Federal-gov", "Without-pay"]
SHARES = [0.70, 0.14, 0.08, 0.05, 0.025, 0.005]  # a category most small windows never see


def _rows(rng: np.random.Generator, n: int, *, age_shift: float = 0.0,
          work: list[float] | None = None) -> pa.Table:
    return pa.table({"age": rng.normal(40 + age_shift, 12, n).round(),
                     "sex": rng.choice(["Male", "Female"], n, p=[0.67, 0.33]),
                     "workclass": rng.choice(WORK, n, p=work or SHARES)})


def _drift(control: pa.Table, candidate: pa.Table, **kw: object) -> dict[str, object]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    window = Window(at, at, {}, {"primary": [control], "canary": [candidate]},
                    {"primary": [], "canary": []})
    return window_drift(window, control="primary", candidate="canary", part="inputs",
                        min_rows=10, **kw)  # type: ignore[arg-type]


def test_an_equal_candidate_is_not_drift_by_chance() -> None:
    rng = np.random.default_rng(7)
    flagged = []
    for _ in range(300):  # small windows, as early polls of a step see them
        n_control, n_candidate = rng.integers(10, 60, 2)
        d = _drift(_rows(rng, int(n_control)), _rows(rng, int(n_candidate)))
        assert d["drifted"] is not None, d
        if d["drifted"]:
            flagged.append(d["drifted_columns"])
    # 0.001 over three columns: ~0.3 expected in 300; the reference-as-truth chi-square at
    # 0.05 flags a category seen by the candidate only, dozens of times here
    assert len(flagged) <= 2, flagged


def test_a_real_shift_is_drift_and_says_against_what() -> None:
    rng = np.random.default_rng(8)
    d = _drift(_rows(rng, 200), _rows(rng, 200, age_shift=15))
    assert d["drifted"] is True and d["drifted_columns"] == ["age"]
    assert d["column_p_value"] == 0.001 / 3
    assert "p-value below 0.000333 (0.001 over 3 columns)" in str(d["reason"])
    new_work = [0.4, 0.1, 0.05, 0.05, 0.0, 0.4]  # a rare category became common
    d = _drift(_rows(rng, 200), _rows(rng, 200, work=new_work), columns=["workclass"])
    assert d["drifted"] is True and d["drifted_columns"] == ["workclass"]
    assert d["column_p_value"] == 0.001


def test_too_few_rows_is_inconclusive() -> None:
    rng = np.random.default_rng(9)
    d = _drift(_rows(rng, 9), _rows(rng, 50))
    assert d["drifted"] is None and "fewer than 10 answered rows" in str(d["reason"])


def test_a_drift_p_value_out_of_range_is_refused_with_its_field() -> None:
    import pytest

    from airlock.errors import UsageError
    from airlock.experiments._rollout_rules import load_rollout_rules

    drift = load_rollout_rules({"guardrails": {"drift": {}}}).guardrails.drift
    assert drift is not None and drift.p_value == 0.001
    for bad in (0, 1, -0.1, "often"):
        with pytest.raises(UsageError, match=r"guardrails\.drift\.p_value"):
            load_rollout_rules({"guardrails": {"drift": {"p_value": bad}}})
