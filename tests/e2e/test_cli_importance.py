"""`airlock eval … --importance` as a user runs it: the importances in the JSON and in an
80-column table, in the HTML report, a proxy-discrimination rule gating on them, and the
model card's Explanations section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from sklearn.ensemble import RandomForestClassifier

import airlock
from airlock.store import close_stores

from .test_cli import cli

NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
PROXY = """name: proxy
rules:
  - metric: roc_auc
    min: 0.5
  - importance: {column}
    not_in_top: {top}
"""


def test_eval_importance_gate_and_card(airlock_home: Path, adult_sample: Any,
                                       tmp_path: Path) -> None:
    df = adult_sample.with_columns((pl.col("income") == ">50K").cast(pl.Int64))
    X = df.head(1400).select(NUMERIC).to_pandas()
    model = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0)
    airlock.register_model("m", model.fit(X, df.head(1400)["income"].to_numpy()),
                           input_example=X[:5])
    close_stores()
    data = tmp_path / "test.parquet"
    df.tail(500).write_parquet(data)
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(PROXY.format(column="capital_loss", top=1))
    strict = tmp_path / "strict.yaml"
    strict.write_text(PROXY.format(column="capital_loss", top=len(NUMERIC)))
    base = ("eval", "m@1", "--data", str(data), "--target", "income", "--bootstrap", "50",
            "--slices", "sex")
    res = cli(*base, "--importance", "--importance-repeats", "2", "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    imp = json.loads(res.stdout)["importance"]
    assert set(imp["features"]) == set(NUMERIC) and imp["repeats"] == 2
    assert set(imp["slices"]["sex"]) == {"Female", "Male"}
    assert imp["shap"]["additive"] is True and set(imp["shap"]["mean_abs"]) == set(NUMERIC)
    # a policy with an importance rule computes importance without being asked
    rank = imp["features"]["capital_loss"]["rank"]
    passed = cli(*base, "--policy", str(lenient), "--json", home=airlock_home)
    assert passed.returncode == (0 if rank > 1 else 1), passed.stderr
    failed = cli(*base, "--policy", str(strict), home=airlock_home)
    assert failed.returncode == 1
    assert "capital_loss: not in the top 5 of the features" in failed.stdout
    report = tmp_path / "report.html"
    table = cli(*base, "--importance", "--importance-repeats", "2", "--report", str(report),
                home=airlock_home)
    assert table.returncode == 0, table.stderr
    html = report.read_text()
    section = html[html.index('id="importance"'):html.index('id="baseline"')]
    assert "Importance by sex" in section and "mean |SHAP|" in section
    for name in NUMERIC:
        assert f"<td>{name}</td>" in section
    assert "permutation importance: drop of roc_auc over 2 shuffles" in table.stdout
    assert "mean |SHAP|" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 200
    card = cli("card", "m@1", home=airlock_home)
    assert card.returncode == 0 and "## Explanations" in card.stdout
    assert "SHAP additivity" in card.stdout and "capital_loss" in card.stdout
