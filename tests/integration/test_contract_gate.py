"""A gate can require that the evaluated data passed a data contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression

import airlock
from airlock.errors import UsageError

NUMERIC = ["age", "education_num", "hours_per_week"]
POLICY = ("name: with-contract\nrules:\n  - contract: adult-eval\n"
          "  - metric: roc_auc\n    min: 0.5\n")
CONTRACT = """name: adult-eval
columns:
  age: {type: int, min: 17, max: 90, nullable: false}
  hours_per_week: {type: int, min: 1, max: 99}
"""


@pytest.fixture
def setup(adult_sample: Any, tmp_path: Path) -> dict[str, Any]:
    df = adult_sample.with_columns((pl.col("income") == ">50K").cast(pl.Int64))
    X = df.select(NUMERIC).to_pandas()
    v = airlock.register_model("m", LogisticRegression(max_iter=300).fit(X, df["income"]),
                               input_example=X[:5])
    data = tmp_path / "eval.parquet"
    df.write_parquet(data)
    (tmp_path / "contract.yaml").write_text(CONTRACT)
    return {"ref": v.ref, "data": data, "contract": tmp_path / "contract.yaml"}


def test_gate_requires_a_passing_contract_on_the_same_data(setup: dict[str, Any]) -> None:
    ev = airlock.evaluate(setup["ref"], setup["data"], target="income", bootstrap=0,
                          policy=POLICY)
    rule = ev.decision.rules[0]
    assert not ev.passed and not rule.passed
    assert "no validation" in rule.evidence["reason"]

    result = airlock.Contract.from_yaml(setup["contract"]).validate(setup["data"])
    assert result.passed
    decision = airlock.gate(ev.id, POLICY)
    assert decision.passed
    assert decision.rules[0].evidence["result_id"].startswith("cr-")
    assert decision.id != ev.decision.id  # a new contract result, a new decision


def test_a_failing_contract_fails_the_gate(setup: dict[str, Any], tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(CONTRACT.replace("max: 90", "max: 30"))
    ev = airlock.evaluate(setup["ref"], setup["data"], target="income", bootstrap=0)
    assert not airlock.Contract.from_yaml(strict).validate(setup["data"]).passed
    assert not airlock.gate(ev.id, POLICY).passed


def test_contract_rule_errors_name_the_rule() -> None:
    with pytest.raises(UsageError, match=r"rule 1 .*unknown key 'min'"):
        airlock.load_policy("name: p\nrules:\n  - contract: x\n    min: 1\n")
    with pytest.raises(UsageError, match="rule 1"):
        airlock.load_policy("name: p\nrules:\n  - contract: ''\n")
