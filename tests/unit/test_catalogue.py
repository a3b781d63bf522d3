"""The one metric catalogue: read by the calculators and the gates, and complete in both
directions (every name it lists is emitted by a calculator, every emitted name is listed)."""

from __future__ import annotations

import numpy as np
import pytest

from airlock.errors import UsageError
from airlock.evaluation import METRIC_CATALOGUE, MetricCatalogue, MetricInfo
from airlock.evaluation._binary import BinaryTask
from airlock.evaluation._fairness import fairness_binary
from airlock.evaluation._multiclass import MulticlassTask
from airlock.evaluation._ranking import RankingTask
from airlock.evaluation._regression import RegressionTask
from airlock.evaluation._sections import _generic_fairness
from airlock.evaluation._types import Target
from airlock.gates import MetricRule, load_policy


def _emitted() -> dict[str, dict[str, set[str]]]:
    """{task: {kind: names}} of what the calculators put in an evaluation."""
    rng = np.random.default_rng(0)
    n = 200
    codes = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.5).astype(np.int8)
    p = rng.random(n)
    binary = Target(y=y, pred=p)
    probs = rng.dirichlet(np.ones(3), n)
    multi = Target(y=rng.integers(0, 3, n), pred=probs, classes=["a", "b", "c"])
    reg = Target(y=rng.normal(size=n), pred=rng.normal(size=n))
    rank = Target(y=rng.integers(0, 3, n).astype(float), pred=rng.random(n),
                  query=np.repeat(np.arange(20), 10))
    out: dict[str, dict[str, set[str]]] = {}
    for task, calc, t in [("binary", BinaryTask(), binary),
                          ("multiclass", MulticlassTask(classes=["a", "b", "c"]), multi),
                          ("regression", RegressionTask(), reg),
                          ("ranking", RankingTask(k=5), rank)]:
        metrics = set(calc.grouped(t, codes, 2, n_boot=0, seed=0, confidence=0.9)[0])
        assert metrics == set(calc.metric_names()) or task == "multiclass"
        if task == "binary":
            fair = fairness_binary(t, 0.5, codes, 2, ["x", "y"], n_boot=0)["disparities"]
        else:
            fair = _generic_fairness(calc, t, codes, ["x", "y"], {"n_boot": 0, "seed": 0,
                                                                  "confidence": 0.9})["disparities"]
        out[task] = {"metric": metrics, "disparity": set(fair)}
    return out


def test_every_emitted_metric_is_catalogued_with_its_task() -> None:
    for task, kinds in _emitted().items():
        for name in kinds["metric"]:
            assert METRIC_CATALOGUE.find(name, task) is not None, (task, name)
            assert METRIC_CATALOGUE.describe(name, task), (task, name)
        for name in kinds["disparity"]:
            known = (task in METRIC_CATALOGUE.disparity_tasks(name)
                     or METRIC_CATALOGUE.find(name, task, "verdict") is not None)
            assert known, (task, name)


def test_every_catalogued_name_is_emitted_by_a_calculator() -> None:
    emitted = _emitted()
    for info in METRIC_CATALOGUE:
        kind = "disparity" if info.kind == "verdict" else info.kind
        names = emitted[info.task][kind]
        assert any(info.matches(n) for n in names), (info.task, info.name)


def test_calculators_take_their_direction_from_the_catalogue() -> None:
    for task, calc in [("binary", BinaryTask()), ("multiclass", MulticlassTask(classes=["a"])),
                       ("regression", RegressionTask()), ("ranking", RankingTask(k=3))]:
        for name in calc.metric_names():
            assert calc.higher_is_better(name) == METRIC_CATALOGUE.higher_is_better(name, task)
    assert not METRIC_CATALOGUE.higher_is_better("mae_difference")
    assert METRIC_CATALOGUE.higher_is_better("demographic_parity_ratio")


def test_a_catalogue_lists_a_metric_of_a_task_once() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        MetricCatalogue([MetricInfo("a", "t", True, "x"), MetricInfo("a", "t", False, "y")])


LLM = MetricCatalogue([
    MetricInfo("violation_rate", "llm", False, "share of answers that broke a rule"),
    MetricInfo("accuracy", "llm", True, "share of correct answers"),
    MetricInfo("precision.LABEL", "llm", True, "precision of a label",
               pattern=r"precision\.[a-z0-9][a-z0-9_.-]{0,63}"),
], group_differences=False)


def test_load_policy_checks_names_against_the_given_catalogue() -> None:
    policy = load_policy("name: g\nrules:\n  - {metric: violation_rate, max: 0.05}\n"
                         "  - {metric: precision.pii, min: 0.9}\n", catalogue=LLM)
    assert [type(r) for r in policy.rules] == [MetricRule, MetricRule]
    assert policy.catalogue is LLM
    policy.check_applicable("llm", set(), [], [], False)
    with pytest.raises(UsageError) as info:
        load_policy("name: g\nrules:\n  - {metric: roc_auc, min: 0.9}\n", catalogue=LLM)
    assert str(info.value) == ("policy: rule 1 (line 3): unknown metric 'roc_auc' (known: "
                               "accuracy, violation_rate, precision.LABEL)")
    with pytest.raises(UsageError, match="did you mean 'violation_rate'"):
        load_policy("name: g\nrules:\n  - {metric: violation_rat, max: 0.1}\n", catalogue=LLM)
    with pytest.raises(UsageError, match="unknown metric 'violation_rate'"):
        load_policy("name: g\nrules:\n  - {metric: violation_rate, max: 0.1}\n")
