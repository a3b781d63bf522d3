"""Policies (load-time validation, applicability) and decide() on hand-built evaluations."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import airlock.gates as gates
from airlock.errors import CheckFailed, NotFound, UsageError
from airlock.gates import (
    BaselineRule,
    FairnessRule,
    MetricRule,
    Policy,
    SliceRule,
    decide,
    decision_id,
    load_policy,
)

ROOT = Path(__file__).resolve().parents[2]

ISSUE_POLICY = """\
name: adult-release
rules:
  - metric: roc_auc
    min: 0.85
  - metric: roc_auc          # against the baseline
    max_drop: 0.01
    significance: 0.05
  - metric: recall
    per_slice: true
    min: 0.6
    min_support: 200
  - fairness: demographic_parity_ratio
    feature: sex
    min: 0.8
  - fairness: equalized_odds_difference
    feature: race
    max: 0.1
  - metric: ece
    max: 0.05
    use: ci_high             # value (default), ci_low or ci_high
"""


def policy(*rules: str, name: str = "p") -> Policy:
    """A policy from rule bodies written as YAML flow mappings."""
    return load_policy(f"name: {name}\nrules:\n" + "".join(f"  - {r}\n" for r in rules))


def ci(value: float | None, low: float | None = None, high: float | None = None
       ) -> dict[str, float | None]:
    return {"value": value, "ci_low": value if low is None else low,
            "ci_high": value if high is None else high}


def evaluation(**changes: Any) -> dict[str, Any]:
    """A binary evaluation of adult-income@2 shaped like the orchestrator's output."""
    ev: dict[str, Any] = {
        "id": "ev-0123456789abcdef",
        "model": {"ref": "adult-income@2", "name": "adult-income", "version": 2,
                  "sha256": "a" * 64},
        "dataset": {"name": "adult-test", "digest": "d" * 64, "rows": 16281,
                    "schema": {"education": "string", "sex": "string", "race": "string",
                               "income": "int64"}},
        "task": "binary", "target": "income",
        "config": {"threshold": 0.5, "bootstrap": 1000, "seed": 0, "confidence": 0.95,
                   "min_support": 30, "slices": ["education"], "sensitive": ["sex", "race"]},
        "support": 16281,
        "higher_is_better": {"roc_auc": True, "log_loss": False, "ece": False,
                             "recall": True},
        "overall": {"roc_auc": ci(0.91, 0.90, 0.92), "log_loss": ci(0.30, 0.29, 0.31),
                    "ece": ci(0.02, 0.01, 0.04), "recall": ci(0.65, 0.63, 0.67)},
        "slices": {"education": {
            "Bachelors": {"recall": ci(0.75, 0.70, 0.80), "support": 2670, "flagged": False},
            "HS-grad": {"recall": ci(0.62, 0.58, 0.66), "support": 5283, "flagged": False},
            "Preschool": {"recall": ci(None), "support": 25, "flagged": True},
            "12th": {"recall": ci(0.20, 0.05, 0.40), "support": 150, "flagged": False},
        }},
        "fairness": {
            "sex": {"by_group": {
                "Male": {"selection_rate": 0.25, "tpr": 0.66, "fpr": 0.08, "support": 10860},
                "Female": {"selection_rate": 0.085, "tpr": 0.61, "fpr": 0.02,
                           "support": 5421}},
                "disparities": {"demographic_parity_ratio": ci(0.34, 0.31, 0.37),
                                "equalized_odds_difference": ci(0.06, 0.04, 0.09),
                                "four_fifths_rule": {**ci(0.34, 0.31, 0.37), "bound": 0.8,
                                                     "passed": False}}},
            "race": {"by_group": {}, "disparities": {
                "demographic_parity_ratio": ci(0.22),
                "equalized_odds_difference": ci(0.32, 0.18, 0.45)}},
            "sex & race": {"by_group": {}, "disparities": {
                "demographic_parity_ratio": ci(0.12)}},
        },
        "baseline": {"model": {"ref": "adult-income@1", "sha256": "b" * 64},
                     "deltas": {"roc_auc": {"candidate": 0.91, "baseline": 0.90, "delta": 0.01,
                                            "ci_low": 0.005, "ci_high": 0.015,
                                            "p_value": 0.001}},
                     "regressed_slices": []},
    }
    ev.update(changes)
    return ev


def with_delta(metric: str, delta: float | None, p_value: float | None) -> dict[str, Any]:
    ev = evaluation()
    ev["baseline"]["deltas"][metric] = {"candidate": 0.5, "baseline": 0.5, "delta": delta,
                                        "ci_low": None, "ci_high": None, "p_value": p_value}
    return ev


# -- loading ------------------------------------------------------------------------------
def test_the_issue_policy_loads_with_typed_rules_and_lines() -> None:
    p = load_policy(ISSUE_POLICY)
    assert p.name == "adult-release"
    assert [type(r) for r in p.rules] == [MetricRule, BaselineRule, SliceRule, FairnessRule,
                                          FairnessRule, MetricRule]
    assert [r.index for r in p.rules] == [1, 2, 3, 4, 5, 6]
    assert [r.line for r in p.rules] == [3, 5, 8, 12, 15, 18]
    assert [r.text for r in p.rules] == [
        "roc_auc >= 0.85",
        "roc_auc worsens by at most 0.01 vs baseline (significance 0.05)",
        "recall >= 0.6 in every slice with support >= 200",
        "demographic_parity_ratio on sex >= 0.8",
        "equalized_odds_difference on race <= 0.1",
        "ece (ci_high) <= 0.05",
    ]
    base = p.rules[1]
    assert isinstance(base, BaselineRule)
    assert (base.max_drop, base.significance) == (0.01, 0.05)
    assert p.rules[5] == MetricRule(index=6, metric="ece", max=0.05, use="ci_high")
    assert p.text == ISSUE_POLICY
    assert len(p.sha256) == 64


def test_the_example_policy_loads(tmp_path: Path) -> None:
    p = load_policy(ROOT / "examples" / "gate.yaml")
    assert p.name == "adult-release" and p.source == "gate.yaml"
    assert [r.kind for r in p.rules] == ["metric", "baseline", "slice", "fairness", "fairness",
                                         "metric", "contract"]
    assert p.contracts() == ["adult-census"]
    assert p.sensitive_features() == ["sex", "race"]
    assert p.slice_columns() == ["workclass", "marital_status"]
    assert p.needs_baseline
    assert load_policy(str(ROOT / "examples" / "gate.yaml")).sha256 == p.sha256


def test_sha256_ignores_layout_comments_and_defaults_but_not_meaning() -> None:
    a = policy("{metric: roc_auc, min: 0.85}", "{metric: roc_auc, max_drop: 0.01}")
    b = load_policy("# a comment\nname: p\ndescription: words\nrules:\n"
                    "  - metric: roc_auc\n    min: 0.850\n    use: value\n    severity: fail\n"
                    "  - {metric: roc_auc, max_drop: 0.01, significance: 0.05}\n")
    assert a.sha256 == b.sha256 and a.canonical == b.canonical
    assert a.text != b.text
    for other in (policy("{metric: roc_auc, min: 0.86}", "{metric: roc_auc, max_drop: 0.01}"),
                  policy("{metric: roc_auc, min: 0.85}", "{metric: roc_auc, max_drop: 0.02}"),
                  policy("{metric: roc_auc, min: 0.85}", "{metric: roc_auc, max_drop: 0.01}",
                         name="q"),
                  policy("{metric: roc_auc, min: 0.85, severity: warn}",
                         "{metric: roc_auc, max_drop: 0.01}")):
        assert other.sha256 != a.sha256
    assert load_policy(a.canonical).sha256 == a.sha256  # canonical text is a fixed point


def test_load_from_path_and_from_policy(tmp_path: Path) -> None:
    path = tmp_path / "release.yml"
    path.write_text("rules:\n  - {metric: roc_auc, min: 0.8}\n")
    p = load_policy(path)
    assert p.name == "release" and p.source == "release.yml"  # name defaults to the stem
    assert load_policy(str(path)) == p
    assert load_policy(p) is p
    with pytest.raises(NotFound, match=r"^no such policy file: .*missing\.yaml$"):
        load_policy(tmp_path / "missing.yaml")
    with pytest.raises(NotFound, match="no such policy file: "):
        load_policy("missing.yaml")


def test_line_numbers_name_the_rule_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text("name: g\nrules:\n  - metric: roc_auc\n    min: 0.8\n"
                    "  - metric: recall\n    per_slice: true\n    mn: 0.3\n")
    with pytest.raises(UsageError) as info:
        load_policy(path)
    assert str(info.value) == ("gate.yaml: rule 2 (line 7): unknown key 'mn' in a slice rule "
                               "(allowed: columns, max, metric, min, min_support, per_slice, "
                               "severity, use)")


LOAD_ERRORS = [
    # (policy text, exact message)
    # YAML-level faults are the one config loader's messages (airlock._yaml)
    ("rules: [\n", "<policy>: malformed YAML: expected the node content, but found "
                   "'<stream end>' (line 2)"),
    ("name: x\nrules:\n  - metric: roc_auc\n   min: 1\n",
     "<policy>: malformed YAML: expected <block end>, but found '<block mapping start>' "
     "(line 4)"),
    ("name: x\nbase: &b {metric: roc_auc, min: 0.8}\nrules:\n  - *b\n",
     "<policy>: YAML anchors and aliases (&name, *name) are not allowed (line 2)"),
    ("", "policy: the policy is empty"),
    ("- metric: roc_auc\n", "policy: a policy must be a mapping with `name` and `rules` "
                            "(got a list)"),
    ("name: x\n", "policy: the policy needs a non-empty `rules` list"),
    ("name: x\nrules: []\n", "policy: the policy needs a non-empty `rules` list"),
    ("name: x\nrule:\n  - {metric: roc_auc, min: 1}\n",
     "policy: unknown top-level key 'rule' (line 2) (allowed: name, description, rules, "
     "approvals)"),
    ("name: ''\nrules:\n  - {metric: roc_auc, min: 1}\n",
     "policy: `name` must be a non-empty string"),
    ("name: x\nrules:\n  - roc_auc >= 0.85\n",
     "policy: rule 1 (line 3): a rule must be a mapping like `metric: roc_auc` with `min:` "
     "(got a string)"),
    ("name: x\nrules:\n  - {metric: roc_auc, min: 0.8}\n  - {metric: roc_auc, mni: 0.8}\n",
     "policy: rule 2 (line 4): unknown key 'mni' in a metric rule (allowed: max, metric, min, "
     "per_slice, severity, use)"),
    ("name: x\nrules:\n  - metric: roc_auc\n    min: 0.8\n    min: 0.9\n",
     "<policy>: rules[0]: duplicate key 'min' (line 5)"),
    ("name: x\nrules:\n  - {metric: roc-auc, min: 0.8}\n",
     "policy: rule 1 (line 3): unknown metric 'roc-auc' (did you mean 'roc_auc'?)"),
    ("name: x\nrules:\n  - {metric: demographic_parity_ratio, min: 0.8}\n",
     "policy: rule 1 (line 3): 'demographic_parity_ratio' is a fairness metric: write "
     "`fairness: demographic_parity_ratio` with `feature: COLUMN`"),
    ("name: x\nrules:\n  - {fairness: demographic_parity, feature: sex, min: 0.8}\n",
     "policy: rule 1 (line 3): unknown fairness metric 'demographic_parity' (did you mean "
     "'demographic_parity_ratio'?)"),
    ("name: x\nrules:\n  - {fairness: recall, feature: sex, min: 0.8}\n",
     "policy: rule 1 (line 3): 'recall' is not a fairness metric: write `metric: recall` (or "
     "`fairness: recall_difference` for its gap between groups)"),
    ("name: x\nrules:\n  - {fairness: speed_difference, feature: sex, max: 0.8}\n",
     "policy: rule 1 (line 3): unknown fairness metric 'speed_difference' (known: "
     "demographic_parity_difference, demographic_parity_ratio, disparate_impact_ratio, "
     "equal_opportunity_difference, equalized_odds_difference, or METRIC_difference)"),
    ("name: x\nrules:\n  - {metric: roc_auc, fairness: demographic_parity_ratio, min: 1}\n",
     "policy: rule 1 (line 3): a rule has either `metric` or `fairness`, not both"),
    ("name: x\nrules:\n  - {min: 0.8}\n",
     "policy: rule 1 (line 3): needs `metric`, `fairness` or `contract` naming what it checks"),
    ("name: x\nrules:\n  - {metric: roc_auc}\n", "policy: rule 1 (line 3): needs `min` or `max`"),
    ("name: x\nrules:\n  - metric: roc_auc\n    min: 0.9\n    max: 0.8\n",
     "policy: rule 1 (line 4): min 0.9 is greater than max 0.8"),
    ("name: x\nrules:\n  - {metric: roc_auc, min: high}\n",
     "policy: rule 1 (line 3): `min` must be a finite number (got 'high')"),
    ("name: x\nrules:\n  - {metric: roc_auc, min: .nan}\n",
     "policy: rule 1 (line 3): `min` must be a finite number (got nan)"),
    ("name: x\nrules:\n  - {metric: roc_auc, min: true}\n",
     "policy: rule 1 (line 3): `min` must be a finite number (got True)"),
    ("name: x\nrules:\n  - metric: roc_auc\n    max_drop: -0.01\n",
     "policy: rule 1 (line 4): `max_drop` must be a number >= 0 (got -0.01)"),
    ("name: x\nrules:\n  - metric: roc_auc\n    max_drop: 0.01\n    significance: 0\n",
     "policy: rule 1 (line 5): `significance` must be between 0 and 1, exclusive (got 0)"),
    ("name: x\nrules:\n  - metric: roc_auc\n    max_drop: 0.01\n    significance: 1\n",
     "policy: rule 1 (line 5): `significance` must be between 0 and 1, exclusive (got 1)"),
    ("name: x\nrules:\n  - {metric: roc_auc, max_drop: 0.01, min: 0.8}\n",
     "policy: rule 1 (line 3): unknown key 'min' in a baseline rule (allowed: max_drop, "
     "metric, severity, significance) (a baseline rule bounds the drop with max_drop, not "
     "min/max)"),
    ("name: x\nrules:\n  - metric: ece\n    max: 0.05\n    use: upper\n",
     "policy: rule 1 (line 5): `use` must be one of value, ci_low, ci_high (got 'upper')"),
    ("name: x\nrules:\n  - {metric: ece, max: 0.05, severity: info}\n",
     "policy: rule 1 (line 3): `severity` must be fail or warn (got 'info')"),
    ("name: x\nrules:\n  - {metric: recall, min: 0.3, min_support: 200}\n",
     "policy: rule 1 (line 3): unknown key 'min_support' in a metric rule (allowed: max, "
     "metric, min, per_slice, severity, use) (min_support goes with per_slice: true)"),
    ("name: x\nrules:\n  - {metric: recall, per_slice: yes please, min: 0.3}\n",
     "policy: rule 1 (line 3): `per_slice` must be true or false (got 'yes please')"),
    ("name: x\nrules:\n  - {metric: recall, per_slice: true, min: 0.3, min_support: -1}\n",
     "policy: rule 1 (line 3): `min_support` must be a whole number >= 0 (got -1)"),
    ("name: x\nrules:\n  - {metric: recall, per_slice: true, min: 0.3, columns: []}\n",
     "policy: rule 1 (line 3): `columns` must be a column or a non-empty list of them "
     "(got [])"),
    ("name: x\nrules:\n  - {fairness: demographic_parity_ratio, min: 0.8}\n",
     "policy: rule 1 (line 3): `feature` must be a column or a non-empty list of them "
     "(got None)"),
    ("name: x\nrules:\n  - {fairness: demographic_parity_ratio, feature: [sex, sex], min: 1}\n",
     "policy: rule 1 (line 3): `feature` lists a column twice"),
    ("name: x\nrules:\n  - {fairness: demographic_parity_ratio, feature: 'sex &', min: 1}\n",
     "policy: rule 1 (line 3): feature 'sex &': an intersection is written `sex & race`"),
    ("name: x\nrules:\n  - {fairness: demographic_parity_ratio, feature: 'sex & sex', min: 1}\n",
     "policy: rule 1 (line 3): feature 'sex & sex' repeats a column"),
]


@pytest.mark.parametrize(("text", "message"), LOAD_ERRORS,
                         ids=[m.partition(": ")[2][:40] for _, m in LOAD_ERRORS])
def test_load_time_errors_name_the_rule_line_and_problem(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        load_policy(text)
    assert str(info.value) == message
    assert info.value.exit_code == 2


def test_parameterised_metric_names_are_known() -> None:
    p = policy("{metric: 'precision[>50K]', min: 0.5}", "{metric: ndcg@10, min: 0.3}",
               "{metric: recall@5, min: 0.3}", "{metric: mrr, min: 0.3}")
    assert [r.metric for r in p.rules] == ["precision[>50K]", "ndcg@10", "recall@5", "mrr"]
    with pytest.raises(UsageError, match=r"unknown metric 'ndcg@0'"):
        policy("{metric: ndcg@0, min: 0.3}")


def test_numbers_written_as_exponents_are_read() -> None:
    rule = policy("{metric: ece, max: 5e-2}").rules[0]
    assert isinstance(rule, MetricRule) and rule.max == 0.05


def test_feature_forms_single_list_and_intersection() -> None:
    p = policy("{fairness: demographic_parity_ratio, feature: [sex, race], min: 0.3}",
               "{fairness: demographic_parity_ratio, feature: ' race &  sex ', min: 0.1}")
    each, both = p.rules
    assert isinstance(each, FairnessRule) and isinstance(both, FairnessRule)
    assert each.features == (("sex",), ("race",))
    assert each.text == "demographic_parity_ratio on each of sex, race >= 0.3"
    assert both.features == (("race", "sex"),)
    assert both.text == "demographic_parity_ratio on race & sex >= 0.1"
    assert p.sensitive_features() == ["sex", "race"]
    assert p.intersections() == [("race", "sex")]


# -- applicability (before computing) -------------------------------------------------------
COLUMNS = {"education", "workclass", "sex", "race", "income"}


def test_applicable_policy_passes_the_check() -> None:
    load_policy(ISSUE_POLICY).check_applicable("binary", COLUMNS, ["education"], ["sex"], True)


@pytest.mark.parametrize(("rule", "task", "slices", "baseline", "problem"), [
    ("{metric: roc_auc, min: 0.8}", "regression", ["education"], True,
     "rule 1 (line 3) `roc_auc >= 0.8`: roc_auc is not a metric of a regression task "
     "(its metrics: mae, mape, r2, rmse)"),
    ("{metric: recall, min: 0.8}", "multiclass", [], True,
     "recall is not a metric of a multiclass task (its metrics: accuracy, log_loss, macro_f1, "
     "weighted_f1, precision[CLASS], recall[CLASS])"),
    ("{metric: roc_auc, max_drop: 0.01}", "binary", [], False,
     "compares against a baseline, but no baseline was given (--baseline)"),
    ("{fairness: demographic_parity_ratio, feature: rase, min: 0.8}", "binary", [], True,
     "feature 'rase' is not a column of the data (did you mean 'race'?)"),
    ("{fairness: demographic_parity_ratio, feature: 'sex & age', min: 0.8}", "binary", [],
     True, "feature 'age' is not a column of the data"),
    ("{fairness: demographic_parity_ratio, feature: sex, min: 0.8}", "regression", [], True,
     "demographic_parity_ratio is a disparity of binary classification; a regression task "
     "has `<metric>_difference` (e.g. mae_difference)"),
    ("{fairness: accuracy_difference, feature: sex, max: 0.1}", "binary", [], True,
     "accuracy_difference is not a disparity of a binary task"),
    ("{fairness: mae_difference, feature: sex, max: 0.1}", "multiclass", [], True,
     "mae_difference is not a disparity of a multiclass task"),
    ("{metric: recall, per_slice: true, min: 0.3}", "binary", [], True,
     "a per-slice rule needs slice columns: pass --slices or list `columns:`"),
    ("{metric: recall, per_slice: true, min: 0.3, columns: [workclas]}", "binary", [], True,
     "slice column 'workclas' is not a column of the data (did you mean 'workclass'?)"),
])
def test_inapplicable_rules_are_named_before_computing(rule: str, task: str, slices: list[str],
                                                       baseline: bool, problem: str) -> None:
    p = policy(rule)
    with pytest.raises(UsageError) as info:
        p.check_applicable(task, COLUMNS, slices, [], baseline)
    assert str(info.value).startswith("policy: rule 1 (line 3) `")
    assert str(info.value).endswith(problem)


def test_non_binary_tasks_gate_on_metric_differences_between_groups() -> None:
    p = policy("{fairness: mae_difference, feature: sex, max: 1.0}",
               "{fairness: 'recall[>50K]_difference', feature: sex, max: 0.1}")
    policy("{fairness: mae_difference, feature: sex, max: 1.0}").check_applicable(
        "regression", COLUMNS, [], [], False)
    policy("{fairness: 'recall[>50K]_difference', feature: sex, max: 0.1}").check_applicable(
        "multiclass", COLUMNS, [], [], False)
    ev = evaluation(task="regression", fairness={"sex": {
        "by_group": {"Female": {"mae": 2.0, "rmse": 3.0, "support": 40},
                     "Male": {"mae": 3.5, "rmse": 4.0, "support": 60}},
        "disparities": {"mae_difference": {"value": 1.5, "ci_low": None, "ci_high": None}}}})
    (out,) = decide(ev, policy("{fairness: mae_difference, feature: sex, max: 1.0}")).rules
    assert not out.passed and (out.value, out.bound) == (1.5, 1.0)
    assert out.evidence["features"][0]["by_group"] == {
        "Female": {"support": 40, "mae": 2.0}, "Male": {"support": 60, "mae": 3.5}}
    assert [r.metric for r in p.rules] == ["mae_difference", "recall[>50K]_difference"]


def test_unknown_task_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown task 'clustering'"):
        policy("{metric: roc_auc, min: 0.8}").check_applicable("clustering", COLUMNS, [], [],
                                                               False)


def test_slice_and_sensitive_columns_count_as_present() -> None:
    p = policy("{metric: recall, per_slice: true, min: 0.3, columns: [edu_band]}",
               "{fairness: demographic_parity_ratio, feature: age_band, min: 0.3}")
    p.check_applicable("binary", set(), ["edu_band"], ["age_band"], False)


def test_check_evaluation_needs_what_the_rules_name() -> None:
    ev = evaluation()
    load_policy(ISSUE_POLICY).check_evaluation(ev)
    policy("{fairness: demographic_parity_ratio, feature: 'race & sex', min: 0.1}"
           ).check_evaluation(ev)
    with pytest.raises(UsageError, match="feature 'age' is not a column of the data"):
        policy("{fairness: demographic_parity_ratio, feature: age, min: 0.1}"
               ).check_evaluation(ev)
    with pytest.raises(UsageError, match="no baseline was given"):
        policy("{metric: roc_auc, max_drop: 0.01}").check_evaluation(evaluation(baseline=None))
    with pytest.raises(UsageError, match="needs slice columns"):
        policy("{metric: recall, per_slice: true, min: 0.3}").check_evaluation(
            evaluation(slices={}))


# -- decide: metric rules ------------------------------------------------------------------------
def test_metric_rule_pass_fail_and_inclusive_bounds() -> None:
    ev = evaluation()
    d = decide(ev, policy("{metric: roc_auc, min: 0.91}", "{metric: roc_auc, min: 0.95}",
                          "{metric: log_loss, max: 0.3}", "{metric: log_loss, max: 0.2}",
                          "{metric: roc_auc, min: 0.8, max: 0.9}"))
    assert [o.passed for o in d.rules] == [True, False, True, False, False]
    assert not d.passed
    first, second = d.rules[0], d.rules[1]
    assert (first.value, first.bound, first.kind, first.metric) == (0.91, 0.91, "metric",
                                                                    "roc_auc")
    assert first.evidence == {"value": 0.91, "ci_low": 0.90, "ci_high": 0.92}
    assert (second.value, second.bound, second.status) == (0.91, 0.95, "fail")
    assert d.rules[4].bound == 0.9  # the violated bound
    assert [o.index for o in d.failed] == [2, 4, 5]


def test_use_ci_low_and_ci_high() -> None:
    ev = evaluation()
    d = decide(ev, policy("{metric: roc_auc, min: 0.905, use: ci_low}",
                          "{metric: roc_auc, min: 0.905}",
                          "{metric: ece, max: 0.03}",
                          "{metric: ece, max: 0.03, use: ci_high}"))
    assert [(o.value, o.passed) for o in d.rules] == [(0.90, False), (0.91, True),
                                                       (0.02, True), (0.04, False)]
    assert d.rules[0].use == "ci_low" and d.rules[0].text == "roc_auc (ci_low) >= 0.905"


def test_undefined_or_missing_values_fail() -> None:
    ev = evaluation()
    ev["overall"]["recall"] = ci(None)
    ev["overall"]["brier"] = {"value": float("nan"), "ci_low": None, "ci_high": None}
    d = decide(ev, policy("{metric: recall, min: 0.1}", "{metric: brier, max: 1}",
                          "{metric: pr_auc, min: 0.1}", "{metric: roc_auc, max: 1, use: ci_high}"))
    recall, brier, pr_auc, ok = d.rules
    assert not recall.passed and recall.value is None and recall.evidence["reason"] == "undefined"
    assert not brier.passed and brier.evidence["reason"] == "undefined"
    assert not pr_auc.passed and pr_auc.evidence["reason"] == "metric 'pr_auc' is not in the " \
                                                             "evaluation"
    assert ok.passed
    assert "rule 1 `recall >= 0.1`: undefined" in d.summary()


def test_severity_warn_reports_but_never_fails() -> None:
    d = decide(evaluation(), policy("{metric: roc_auc, min: 0.8}",
                                    "{metric: roc_auc, min: 0.95, severity: warn}"))
    assert d.passed
    warn = d.rules[1]
    assert (warn.passed, warn.severity, warn.status, warn.blocking) == (False, "warn", "warn",
                                                                        False)
    assert d.failed == [] and d.warnings == [warn]
    assert d.to_dict()["summary"] == {"rules": 2, "failed": 0, "warnings": 1}
    assert d.summary() == "policy 'p' passed for adult-income@2 (1/2 rules passed, 1 warning(s))"
    d.raise_if_failed()  # no error
    failing = decide(evaluation(), policy("{metric: roc_auc, min: 0.95}"))
    with pytest.raises(CheckFailed) as info:
        failing.raise_if_failed()
    assert str(info.value) == ("policy 'p' FAILED for adult-income@2 (0/1 rules passed): "
                               "rule 1 `roc_auc >= 0.95`: value 0.91")


# -- decide: slices -----------------------------------------------------------------------------
def test_slice_rule_gates_every_supported_slice() -> None:
    d = decide(evaluation(), policy("{metric: recall, per_slice: true, min: 0.6, "
                                    "min_support: 200}"))
    (out,) = d.rules
    assert out.passed and d.passed and out.kind == "slice"
    assert out.text == "recall >= 0.6 in every slice with support >= 200"
    assert out.value == 0.62 and out.bound == 0.6  # the worst gated slice, which passes
    assert out.evidence["failing"] == [] and out.evidence["undefined"] == []
    assert out.evidence["gated"] == 2
    assert out.evidence["skipped"] == [
        {"column": "education", "value": "Preschool", "support": 25},
        {"column": "education", "value": "12th", "support": 150}]


def test_slice_rule_lists_failing_slices_worst_first() -> None:
    d = decide(evaluation(), policy("{metric: recall, per_slice: true, min: 0.7, "
                                    "min_support: 100}"))
    (out,) = d.rules
    assert not out.passed and not d.passed
    assert out.value == 0.20
    assert out.evidence["failing"] == [
        {"column": "education", "value": "12th", "support": 150, "metric_value": 0.20},
        {"column": "education", "value": "HS-grad", "support": 5283, "metric_value": 0.62}]
    assert out.evidence["skipped"] == [{"column": "education", "value": "Preschool",
                                        "support": 25}]


def test_slice_rule_without_min_support_skips_flagged_slices() -> None:
    d = decide(evaluation(), policy("{metric: recall, per_slice: true, min: 0.1}"))
    (out,) = d.rules
    assert out.passed and out.value == 0.20  # 12th is not flagged, so it is gated
    assert out.text == "recall >= 0.1 in every slice not flagged for low support"
    assert [s["value"] for s in out.evidence["skipped"]] == ["Preschool"]


def test_slice_rule_min_support_changes_the_verdict() -> None:
    strict = policy("{metric: recall, per_slice: true, min: 0.5, min_support: 100}")
    lenient = policy("{metric: recall, per_slice: true, min: 0.5, min_support: 200}")
    assert not decide(evaluation(), strict).passed
    assert decide(evaluation(), lenient).passed


def test_slice_rule_use_and_undefined_slices() -> None:
    ev = evaluation()
    d = decide(ev, policy("{metric: recall, per_slice: true, min: 0.6, min_support: 200, "
                          "use: ci_high}",
                          "{metric: recall, per_slice: true, min: 0.6, min_support: 200, "
                          "use: ci_low}"))
    assert [o.passed for o in d.rules] == [True, False]
    assert d.rules[1].value == 0.58
    ev["slices"]["education"]["Bachelors"]["recall"] = ci(None)
    (out,) = decide(ev, policy("{metric: recall, per_slice: true, min: 0.1, "
                               "min_support: 200}")).rules
    assert not out.passed and out.evidence["reason"] == "undefined"
    assert [s["value"] for s in out.evidence["undefined"]] == ["Bachelors"]


def test_slice_rule_columns_restrict_and_missing_columns_fail() -> None:
    ev = evaluation()
    ev["slices"]["workclass"] = {"Private": {"recall": ci(0.9), "support": 9000,
                                             "flagged": False}}
    ok = decide(ev, policy("{metric: recall, per_slice: true, min: 0.8, columns: workclass}"))
    assert ok.passed and ok.rules[0].value == 0.9
    missing = decide(ev, policy("{metric: recall, per_slice: true, min: 0.1, "
                                "columns: [workclass, occupation]}"))
    assert not missing.passed
    assert missing.rules[0].evidence["reason"] == ("slice column(s) not in the evaluation: "
                                                   "occupation")


def test_slice_rule_with_nothing_to_gate_passes_and_says_so() -> None:
    (out,) = decide(evaluation(), policy("{metric: recall, per_slice: true, min: 0.9, "
                                         "min_support: 100000}")).rules
    assert out.passed and out.value is None and out.evidence["gated"] == 0
    assert out.evidence["note"] == "no slice had enough support to gate"


# -- decide: fairness -------------------------------------------------------------------------
def test_fairness_rule_reads_the_disparity_with_group_evidence() -> None:
    d = decide(evaluation(), policy(
        "{fairness: demographic_parity_ratio, feature: sex, min: 0.3}",
        "{fairness: demographic_parity_ratio, feature: sex, min: 0.8}",
        "{fairness: equalized_odds_difference, feature: race, max: 0.2}",
        "{fairness: equalized_odds_difference, feature: race, max: 0.2, use: ci_low}"))
    assert [(o.value, o.passed) for o in d.rules] == [(0.34, True), (0.34, False),
                                                       (0.32, False), (0.18, True)]
    sex = d.rules[0]
    assert (sex.kind, sex.metric, sex.feature, sex.bound) == ("fairness",
                                                              "demographic_parity_ratio",
                                                              "sex", 0.3)
    (ev_sex,) = sex.evidence["features"]
    assert ev_sex["by_group"] == {"Male": {"support": 10860, "selection_rate": 0.25},
                                  "Female": {"support": 5421, "selection_rate": 0.085}}
    assert (ev_sex["ci_low"], ev_sex["ci_high"]) == (0.31, 0.37)


def test_fairness_rule_over_several_features_and_an_intersection() -> None:
    d = decide(evaluation(), policy(
        "{fairness: demographic_parity_ratio, feature: [sex, race], min: 0.2}",
        "{fairness: demographic_parity_ratio, feature: [sex, race], min: 0.3}",
        "{fairness: demographic_parity_ratio, feature: 'race & sex', min: 0.1}",
        "{fairness: demographic_parity_ratio, feature: 'sex & race', min: 0.2}"))
    each_ok, each_bad, inter_ok, inter_bad = d.rules
    assert each_ok.passed and each_ok.value == 0.22  # the worst feature
    assert not each_bad.passed and each_bad.value == 0.22
    assert [(f["feature"], f["passed"]) for f in each_bad.evidence["features"]] == [
        ("sex", True), ("race", False)]
    assert inter_ok.passed and inter_ok.value == 0.12 and inter_ok.feature == "race & sex"
    assert not inter_bad.passed


def test_fairness_rule_missing_feature_or_disparity_or_undefined_fails() -> None:
    ev = evaluation()
    ev["fairness"]["race"]["disparities"]["demographic_parity_ratio"] = ci(None)
    d = decide(ev, policy(
        "{fairness: demographic_parity_ratio, feature: age, min: 0.1}",
        "{fairness: disparate_impact_ratio, feature: sex, min: 0.1}",
        "{fairness: demographic_parity_ratio, feature: [sex, race], min: 0.1}"))
    assert not any(o.passed for o in d.rules)
    assert d.rules[0].evidence["reason"] == "feature 'age' was not evaluated"
    assert d.rules[1].evidence["reason"] == "disparate_impact_ratio was not computed for 'sex'"
    assert d.rules[2].evidence["reason"] == "undefined" and d.rules[2].value is None


# -- decide: baseline -------------------------------------------------------------------------
@pytest.mark.parametrize(("delta", "p_value", "passed"), [
    (0.01, 0.001, True),      # better
    (-0.005, 0.001, True),    # significantly worse, but within max_drop
    (-0.01, 0.001, True),     # exactly max_drop: allowed
    (-0.02, 0.20, True),      # worse beyond max_drop, but not significant
    (-0.02, 0.05, True),      # p equal to significance is not significant
    (-0.02, 0.049, False),    # worse beyond max_drop and significant
    (-0.5, 0.0, False),
])
def test_baseline_rule_fails_only_on_a_significant_drop_beyond_max_drop(
        delta: float, p_value: float, passed: bool) -> None:
    p = policy("{metric: roc_auc, max_drop: 0.01, significance: 0.05}")
    (out,) = decide(with_delta("roc_auc", delta, p_value), p).rules
    assert out.passed is passed
    assert (out.kind, out.value, out.bound, out.use) == ("baseline", delta, -0.01, "delta")
    assert out.evidence["p_value"] == p_value
    assert out.evidence["worse_by"] == -delta
    assert out.evidence["significant"] is (p_value < 0.05)
    assert out.evidence["baseline_model"] == "adult-income@1"


@pytest.mark.parametrize(("delta", "p_value", "passed"), [
    (-0.05, 0.001, True),     # log loss went down: better
    (0.005, 0.001, True),     # up, within max_drop
    (0.05, 0.30, True),       # up beyond max_drop, not significant
    (0.05, 0.01, False),      # up beyond max_drop, significant
])
def test_baseline_rule_for_a_lower_is_better_metric(delta: float, p_value: float,
                                                    passed: bool) -> None:
    p = policy("{metric: log_loss, max_drop: 0.01}")
    (out,) = decide(with_delta("log_loss", delta, p_value), p).rules
    assert out.passed is passed
    assert out.bound == 0.01 and out.evidence["higher_is_better"] is False
    assert out.evidence["worse_by"] == delta


def test_baseline_direction_falls_back_to_the_known_direction() -> None:
    ev = with_delta("brier", 0.05, 0.001)
    del ev["higher_is_better"]
    (out,) = decide(ev, policy("{metric: brier, max_drop: 0.01}")).rules
    assert not out.passed and out.evidence["higher_is_better"] is False


def test_baseline_rule_without_baseline_or_values_fails() -> None:
    p = policy("{metric: roc_auc, max_drop: 0.01}", "{metric: log_loss, max_drop: 0.01}")
    none = decide(evaluation(baseline=None), p)
    assert [o.evidence["reason"] for o in none.rules] == [
        "the evaluation has no baseline comparison"] * 2
    d = decide(with_delta("roc_auc", None, 0.01), p)
    assert d.rules[0].evidence["reason"] == "undefined" and not d.rules[0].passed
    assert d.rules[1].evidence["reason"] == "metric 'log_loss' was not compared with the baseline"


def test_baseline_evidence_lists_regressed_slices_of_the_metric() -> None:
    ev = evaluation()
    reg = {"column": "education", "value": "HS-grad", "metric": "roc_auc", "delta": -0.03,
           "ci_low": -0.05, "ci_high": -0.01, "p_value": 0.01}
    ev["baseline"]["regressed_slices"] = [reg, {**reg, "metric": "recall"}]
    (out,) = decide(ev, policy("{metric: roc_auc, max_drop: 0.01}")).rules
    assert out.passed and out.evidence["regressed_slices"] == [reg]


# -- the decision as a whole ----------------------------------------------------------------------
def test_decision_is_deterministic_serialisable_and_pure() -> None:
    ev = evaluation()
    before = copy.deepcopy(ev)
    p = load_policy(ISSUE_POLICY)
    a, b = decide(ev, p), decide(ev, p)
    assert a == b and a.to_dict() == b.to_dict()
    assert ev == before  # decide does not touch its input
    out = a.to_dict()
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert a.id == decision_id(ev["id"], p.sha256) and a.id.startswith("dc-")
    assert len(a.id) == 19
    assert out["policy"] == {"name": "adult-release", "sha256": p.sha256}
    assert (out["evaluation"], out["model"]) == (ev["id"], "adult-income@2")
    assert [r["index"] for r in out["rules"]] == [1, 2, 3, 4, 5, 6]
    assert set(out["rules"][0]) == {"index", "kind", "text", "metric", "feature", "use",
                                    "value", "bound", "passed", "status", "severity",
                                    "evidence"}
    # the issue's policy on this evaluation: the two fairness rules fail
    assert [r["passed"] for r in out["rules"]] == [True, True, True, False, False, True]
    assert decision_id("ev-other", p.sha256) != a.id


def test_gates_all_is_curated() -> None:
    assert len(gates.__all__) == len(set(gates.__all__))
    for name in gates.__all__:
        assert getattr(gates, name) is not None, name
    assert not [n for n in gates.__all__ if n.startswith("_")]
    assert {"load_policy", "decide", "gate", "promote", "protect", "Policy",
            "Decision"} <= set(gates.__all__)
