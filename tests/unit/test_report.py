"""The HTML evaluation report and its inline SVG plots, on hand-built evaluation JSON.

Each report must be one self-contained, offline file: no URL anywhere, every data value
escaped, every chart well-formed XML.
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest

from airlock.evaluation import primary_metric, render_report, significant_regression
from airlock.report import (
    Bar,
    Series,
    bar_chart,
    fmt,
    fmt_p,
    line_chart,
    nice_ticks,
    reliability_diagram,
)


def ci(value: float | None, low: float | None = None, high: float | None = None) -> dict[str, Any]:
    return {"value": value, "ci_low": low, "ci_high": high}


def _curves(seed: int = 0) -> dict[str, Any]:
    """ROC, PR and reliability of a synthetic, fairly good scorer (as the engine stores)."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2000)
    score = np.clip(0.5 * y + rng.normal(0.25, 0.2, 2000), 0, 1)
    fpr, tpr, _ = roc_curve(y, score)
    precision, recall, _ = precision_recall_curve(y, score)
    frac, mean = calibration_curve(y, score, n_bins=10)
    edges = np.linspace(0, 1, 11)
    counts = np.histogram(score, edges)[0]
    return {
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
        "pr": {"recall": recall.tolist(), "precision": precision.tolist()},
        "reliability": {"bin_low": edges[:-1].tolist(), "bin_high": edges[1:].tolist(),
                        "mean_predicted": mean.tolist(), "fraction_positive": frac.tolist(),
                        "count": counts.tolist()},
        "confusion_matrix": {"labels": [0, 1], "matrix": [[11360, 1075], [1432, 2414]],
                             "threshold": 0.5},
    }


def binary_evaluation() -> dict[str, Any]:
    return {
        "id": "ev-0123456789abcdef",
        "model": {"ref": "adult-income@2", "name": "adult-income", "version": 2,
                  "sha256": "a" * 64},
        "dataset": {"name": "adult-test", "digest": "d" * 64, "rows": 16281,
                    "schema": {"age": "int64", "education": "string", "income": "string"}},
        "task": "binary", "target": "income",
        "config": {"threshold": 0.5, "bootstrap": 1000, "seed": 0, "confidence": 0.95,
                   "min_support": 30, "slices": ["education"], "sensitive": ["sex"]},
        "support": 16281,
        "higher_is_better": {"roc_auc": True, "recall": True, "log_loss": False},
        "overall": {"roc_auc": ci(0.91234567, 0.9051, 0.9188),
                    "recall": ci(0.6277, 0.6121, 0.6425),
                    "log_loss": ci(0.3201, 0.3102, 0.3309)},
        "slices": {"education": {
            "Bachelors": {"roc_auc": ci(0.8801, 0.8702, 0.8899), "recall": ci(0.7012, 0.68, 0.72),
                          "log_loss": ci(0.41, 0.40, 0.42), "support": 2670, "flagged": False},
            "<script>alert(1)</script>": {"roc_auc": ci(0.75, 0.41, 0.97),
                                          "recall": ci(None), "log_loss": ci(0.9, 0.5, 1.4),
                                          "support": 12, "flagged": True},
            "Masters": {"roc_auc": ci(0.8502, 0.70, 0.93), "recall": ci(0.81, 0.7, 0.9),
                        "log_loss": ci(0.45, 0.40, 0.50), "support": 934, "flagged": False},
        }},
        "fairness": {"sex": {
            "by_group": {
                "Male": {"selection_rate": 0.2531, "tpr": 0.6412, "fpr": 0.0921,
                         "precision": 0.7412, "accuracy": 0.8201, "support": 10860},
                "Female": {"selection_rate": 0.0712, "tpr": 0.5522, "fpr": 0.0213,
                           "precision": 0.7011, "accuracy": 0.9232, "support": 5421},
            },
            "disparities": {
                "demographic_parity_difference": ci(0.1819, 0.171, 0.192),
                "demographic_parity_ratio": ci(0.2813, 0.25, 0.31),
                "equalized_odds_difference": ci(0.089, 0.05, 0.12),
                "equal_opportunity_difference": ci(0.089, 0.05, 0.12),
                "disparate_impact_ratio": ci(0.2813, 0.25, 0.31),
                "four_fifths_rule": {**ci(0.2813, 0.25, 0.31), "bound": 0.8, "passed": False},
            },
        }},
        "extras": _curves(),
        "baseline": {
            "model": {"ref": "adult-income@1", "sha256": "b" * 64},
            "deltas": {
                "roc_auc": {"candidate": 0.9123, "baseline": 0.9301, "delta": -0.0178,
                            "ci_low": -0.024, "ci_high": -0.011, "p_value": 0.0001},
                "log_loss": {"candidate": 0.3201, "baseline": 0.3305, "delta": -0.0104,
                             "ci_low": -0.02, "ci_high": -0.001, "p_value": 0.01},
            },
            "regressed_slices": [{"column": "education", "value": "Masters", "metric": "recall",
                                  "delta": -0.07, "ci_low": -0.12, "ci_high": -0.02,
                                  "p_value": 0.004}],
        },
    }


def decision_for(evaluation: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "dec-42", "evaluation_id": evaluation["id"],
        "policy": {"name": "adult-release", "sha256": "c" * 64}, "passed": False,
        "rules": [
            {"index": 0, "text": "roc_auc >= 0.85", "kind": "metric", "metric": "roc_auc",
             "feature": None, "value": 0.91234567, "bound": 0.85, "passed": True,
             "severity": "error", "evidence": {"ci": [0.9051, 0.9188]}},
            {"index": 1, "text": "demographic_parity_ratio on sex >= 0.8", "kind": "fairness",
             "metric": "demographic_parity_ratio", "feature": "sex", "value": 0.2813,
             "bound": 0.8, "passed": False, "severity": "error",
             "evidence": {"groups": {"Male": 0.2531, "Female": 0.0712}, "note": "<b>x</b>"}},
        ],
    }


def regression_evaluation() -> dict[str, Any]:
    return {
        "id": "ev-reg", "model": {"ref": "house@3", "sha256": "e" * 64},
        "dataset": {"name": "houses", "digest": "f" * 64, "rows": 500}, "task": "regression",
        "target": "price", "config": {"bootstrap": 200, "seed": 7, "confidence": 0.9,
                                      "min_support": 30},
        "support": 500, "higher_is_better": {"mae": False, "rmse": False, "r2": True},
        "overall": {"mae": ci(12345.678, 11000.0, 13500.5), "rmse": ci(20001.5, 18000.0, 22000.0),
                    "r2": ci(0.81, 0.78, 0.84), "mape": ci(None)},
        "slices": {"region": {
            "north": {"mae": ci(10000.0, 9000.0, 11000.0), "rmse": ci(15000.0, 14000.0, 16000.0),
                      "r2": ci(0.8, 0.7, 0.9), "support": 300, "flagged": False},
            "south": {"mae": ci(15000.0, 12000.0, 18000.0), "rmse": ci(26000.0, 21000.0, 31000.0),
                      "r2": ci(0.7, 0.5, 0.85), "support": 200, "flagged": False}}},
        "fairness": {},
        "extras": {"residual_quantiles": {"p05": -30000.0, "p50": 120.5, "p95": 31000.0},
                   "residual_histogram": {"edges": [-40000.0, -20000.0, 0.0, 20000.0, 40000.0],
                                          "counts": [20, 230, 220, 30]}},
        "baseline": None,
    }


def multiclass_evaluation() -> dict[str, Any]:
    return {
        "id": "ev-mc", "model": {"ref": "iris@1", "sha256": "1" * 64},
        "dataset": {"name": "iris", "digest": "2" * 64, "rows": 150}, "task": "multiclass",
        "target": "species", "config": {"bootstrap": 100, "seed": 1, "min_support": 30},
        "support": 150,
        "overall": {"accuracy": ci(0.96, 0.93, 0.99), "macro_f1": ci(0.959, 0.92, 0.99),
                    "weighted_f1": ci(0.96, 0.93, 0.99), "log_loss": ci(0.12, 0.08, 0.17)},
        "slices": {"petal_band": {
            "narrow": {"accuracy": ci(1.0, 1.0, 1.0), "support": 50, "flagged": False},
            "wide": {"accuracy": ci(0.9, 0.8, 1.0), "support": 20, "flagged": True}}},
        "extras": {"per_class": {"setosa": {"precision": 1.0, "recall": 1.0},
                                 "virginica": {"precision": 0.94, "recall": 0.92}},
                   "confusion_matrix": {"labels": ["setosa", "versicolor", "virginica"],
                                        "matrix": [[50, 0, 0], [0, 47, 3], [0, 3, 47]]}},
        "baseline": None,
    }


# -- helpers ------------------------------------------------------------------------------
def svgs(document: str) -> list[ET.Element]:
    """Every inline chart, parsed as XML (raises on malformed markup)."""
    found = re.findall(r"<svg\b.*?</svg>", document, flags=re.S)
    return [ET.fromstring(s) for s in found]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href")]


def assert_offline(document: str) -> None:
    parser = _Links()
    parser.feed(document)
    assert not [r for r in parser.refs if not r.startswith("#")], parser.refs
    assert "script" not in parser.tags and "link" not in parser.tags
    for needle in ("http://", "https://", "//cdn", "@import", "url("):
        assert needle not in document, needle


# -- the report ---------------------------------------------------------------------------
def test_binary_report_has_every_section_with_numbers() -> None:
    ev = binary_evaluation()
    out = render_report(ev, decision_for(ev))
    assert out.startswith("<!DOCTYPE html>")
    for heading in ("Metrics", "Curves and diagnostics", "Slices", "Fairness",
                    "Baseline comparison", "Gate decision"):
        assert f">{heading}</h2>" in out, heading
    # header: model, sha, dataset digest, rows, task, seed, bootstrap
    for text in ("adult-income@2", "a" * 64, "d" * 64, "16,281", "binary", ">1,000<"):
        assert text in out, text
    # metrics formatted to 4 decimals with their CI
    assert "0.9123" in out and "0.91234567" not in out
    assert "[0.9051, 0.9188]" in out
    # the three binary plots and one bar chart per slice column and per sensitive feature
    titles = [s.findtext("title") for s in svgs(out)]
    assert titles[:3] == ["ROC curve", "Precision-recall curve", "Reliability diagram"]
    assert "roc_auc by education" in titles and "Disparities by sex" in titles
    # slices: flagged one marked, the CI table lists every metric with support
    assert "under min support" in out and "2,670" in out
    assert "Confusion matrix at threshold 0.5000" in out and "11,360" in out
    # fairness: groups, disparities, four-fifths failure
    assert "Female" in out and "demographic_parity_ratio" in out and "four_fifths_rule" in out
    rule = out[out.index("<td>four_fifths_rule</td>"):]
    rule = rule[:rule.index("</tr>")]  # the rule in the shape of every disparity, with its bound
    assert "0.2813" in rule and "[0.2500, 0.3100]" in rule and "FAILED" in rule
    assert "needs ≥ 0.8" in rule
    assert "10,860" in out


def test_baseline_regressions_are_highlighted() -> None:
    out = render_report(binary_evaluation())
    section = out[out.index('id="baseline"'):out.index('id="decision"')]
    rows = re.findall(r"<tr[^>]*>.*?</tr>", section, flags=re.S)
    roc = next(r for r in rows if ">roc_auc<" in r)
    loss = next(r for r in rows if ">log_loss<" in r)
    assert 'class="bad"' in roc and "significant regression" in roc
    # log loss went down: an improvement (lower is better), not a regression
    assert 'class="bad"' not in loss and "significant regression" not in loss
    assert "Regressed slices (1)" in section and "Masters" in section and "0.004" in section
    assert "b" * 64 in section


def test_decision_section_lists_rules_with_evidence() -> None:
    ev = binary_evaluation()
    out = render_report(ev, decision_for(ev))
    section = out[out.index('id="decision"'):]
    assert "adult-release" in section and "c" * 64 in section
    assert "2 (1 failed)" in section
    assert "roc_auc &gt;= 0.85" in section
    assert "demographic_parity_ratio on sex &gt;= 0.8" in section
    assert section.count('class="badge pass"') == 1
    assert section.count('class="badge fail"') == 2  # the outcome and the failed rule
    assert "&lt;b&gt;x&lt;/b&gt;" in section and "<b>x</b>" not in section
    assert "Gate adult-release:" in out  # the outcome is also stated in the header


def test_data_values_are_escaped_everywhere() -> None:
    ev = binary_evaluation()
    ev["fairness"]["sex"]["by_group"]['"><img src=x>'] = {"selection_rate": 0.1,
                                                           "support": 40}
    ev["model"]["ref"] = "m<&>@1"
    out = render_report(ev, decision_for(ev))
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<img" not in out and "&quot;&gt;&lt;img src=x&gt;" in out
    assert "m&lt;&amp;&gt;@1" in out
    svgs(out)  # the escaped slice label also lives in the bar chart: still valid XML
    assert_offline(out)


def test_report_is_self_contained_and_every_svg_is_xml() -> None:
    ev = binary_evaluation()
    out = render_report(ev, decision_for(ev))
    charts = svgs(out)
    assert len(charts) == 5
    for chart in charts:
        assert chart.tag == "svg" and chart.get("viewBox")
        assert chart.findall(".//polyline") or chart.findall(".//rect")
    assert_offline(out)
    assert "<style>" in out
    root = ET.fromstring(out.removeprefix("<!DOCTYPE html>\n"))  # the whole page is balanced
    assert [h.get("id") for h in root.iter("h2")] == [
        "metrics", "curves", "slices", "fairness", "importance", "baseline", "decision"]


@pytest.mark.parametrize("make", [regression_evaluation, multiclass_evaluation])
def test_other_tasks_render_generically(make: Any) -> None:
    ev = make()
    out = render_report(ev)
    assert_offline(out)
    charts = svgs(out)
    titles = [c.findtext("title") for c in charts]
    assert "ROC curve" not in titles
    if ev["task"] == "regression":
        assert "rmse by region" in titles  # rmse is the primary metric of regression
        assert "Residual histogram (actual - predicted)" in titles
        assert "12,345.68" in out and "20,001.50" in out  # large values keep 2 decimals
        assert "p95" in out and "31,000.00" in out  # residual quantiles as a table
        assert "-40k to -20k" in out  # histogram bins labelled compactly
    else:
        assert "accuracy by petal_band" in titles
        assert "versicolor" in out and "per class" in out
    assert "No baseline was compared." in out
    assert "No policy was applied to this evaluation." in out


def test_minimal_evaluation_does_not_fail() -> None:
    out = render_report({"id": "ev-empty", "model": {}, "task": "ranking"})
    assert_offline(out)
    assert "No overall metrics were stored." in out
    assert "No slice columns were evaluated." in out
    assert "No sensitive columns were evaluated." in out
    assert svgs(out) == []


def _importance() -> dict[str, Any]:
    def feature(rank: int, value: float, low: float, high: float) -> dict[str, Any]:
        return {"rank": rank, "value": value, "std": 0.002, "ci_low": low, "ci_high": high,
                "repeats": [value, value]}

    return {"method": "permutation", "metric": "roc_auc", "higher_is_better": True,
            "baseline": 0.9123, "repeats": 2, "seed": 7,
            "features": {"capital_gain": feature(1, 0.0812, 0.0761, 0.0857),
                         "<b>age</b>": feature(2, 0.0231, 0.0207, 0.0254)},
            "slices": {"sex": {"Female": {"capital_gain": 0.0455, "<b>age</b>": 0.0118},
                               "Male": {"capital_gain": 0.0901, "<b>age</b>": 0.0269}}},
            "shap": {"method": "tree_shap", "rows": 600, "model_output": "raw",
                     "mean_abs": {"capital_gain": 0.6543, "<b>age</b>": 0.3210},
                     "additivity_error": 1e-9, "additive": True}}


def test_importance_section_shows_every_feature_with_its_ci_and_slices() -> None:
    ev = binary_evaluation()
    out = render_report(ev)
    assert ">Feature importance</h2>" in out and "with --importance" in out  # not computed
    ev["importance"] = _importance()
    out = render_report(ev)
    assert_offline(out)
    assert '<a href="#importance">Importance</a>' in out
    section = out[out.index('id="importance"'):out.index('id="baseline"')]
    assert "drop of roc_auc" in section and "mean of 2 shuffles (seed 7)" in section
    rows = re.findall(r"<tr>.*?</tr>", section, flags=re.S)
    first = next(r for r in rows if "capital_gain" in r)
    for text in ("0.0812", "[0.0761, 0.0857]", "0.6543"):  # value, CI, mean |SHAP|
        assert text in first, text
    assert "&lt;b&gt;age&lt;/b&gt;" in section and "<b>age</b>" not in section  # escaped
    assert section.index("capital_gain") < section.index("&lt;b&gt;age")  # rank order
    titles = [s.findtext("title") for s in svgs(section)]
    assert titles == ["Permutation importance (drop of roc_auc)"]
    # per slice: the drop within each slice, one row per value
    assert "Importance by sex" in section
    female = next(r for r in rows if "Female" in r)
    assert "0.0455" in female and "0.0118" in female
    assert "additivity check: additive" in section
    # a regression's importance is a rise of rmse; a SHAP that did not apply says why
    ev["importance"] = {**_importance(), "metric": "rmse", "higher_is_better": False,
                        "shap": {"reason": "SHAP values are computed for tree models only"}}
    section = render_report(ev)
    assert "rise of rmse" in section and "mean |SHAP|</th>" not in section
    assert "not computed (SHAP values are computed for tree models only)" in section


def test_undefined_values_show_as_dash() -> None:
    ev = binary_evaluation()
    ev["slices"]["education"]["Masters"]["roc_auc"] = ci(None)
    out = render_report(ev)
    section = out[out.index('id="slices"'):out.index('id="fairness"')]
    row = next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", section, flags=re.S)
               if "alert(1)" in r)
    assert "—" in row and 'class="warn"' in row
    assert ">n/a<" in section  # the bar of an undefined roc_auc is marked, not drawn


def test_render_does_not_modify_the_evaluation() -> None:
    ev = binary_evaluation()
    before = copy.deepcopy(ev)
    render_report(ev, decision_for(ev))
    assert ev == before


# -- formatting and plots -----------------------------------------------------------------
def test_number_formatting() -> None:
    assert fmt(None) == "—"
    assert fmt(float("nan")) == "—"
    assert fmt(True) == "yes"
    assert fmt(16281) == "16,281"
    assert fmt(0.912345) == "0.9123"
    assert fmt(0.0) == "0.0000"
    assert fmt(0.00012) == "1.20e-04"
    assert fmt(12345.678) == "12,345.68"
    assert fmt(1234567.8) == "1,234,568"
    assert fmt_p(0.0004) == "<0.001" and fmt_p(0.04) == "0.040" and fmt_p(None) == "—"


def test_primary_metric_per_task() -> None:
    assert primary_metric(binary_evaluation()) == "roc_auc"
    assert primary_metric(multiclass_evaluation()) == "accuracy"
    assert primary_metric(regression_evaluation()) == "rmse"
    assert primary_metric({"task": "ranking", "overall": {"ndcg@10": ci(0.5)}}) == "ndcg@10"
    assert primary_metric({"task": "binary", "overall": {}}) is None


def test_significance_follows_the_metric_direction() -> None:
    ev = binary_evaluation()
    worse = {"delta": -0.02, "ci_low": -0.03, "ci_high": -0.01, "p_value": 0.001}
    noisy = {"delta": -0.02, "ci_low": -0.05, "ci_high": 0.01, "p_value": 0.2}
    assert significant_regression(ev, "roc_auc", worse)
    assert not significant_regression(ev, "roc_auc", noisy)
    assert not significant_regression(ev, "log_loss", worse)  # lower loss is better
    up = {"delta": 0.02, "ci_low": 0.01, "ci_high": 0.03, "p_value": 0.001}
    assert significant_regression(ev, "log_loss", up)
    assert significant_regression(ev, "ece", up)  # not declared: known lower-is-better
    assert not significant_regression(ev, "roc_auc", {"delta": None})


def test_nice_ticks_cover_the_range() -> None:
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = nice_ticks(-0.13, 0.47)
    assert ticks[0] <= -0.13 and ticks[-1] >= 0.47 and len(ticks) <= 8
    assert nice_ticks(5.0, 5.0)[0] <= 5.0


def test_svg_primitives_escape_and_parse() -> None:
    evil = 'a<b>&"c\''
    charts = [
        line_chart([Series(evil, [0, 0.5, None, 1], [0, 0.7, 0.2, 1])], title=evil,
                   x_label=evil, y_label=evil, diagonal=True),
        line_chart([], title="empty"),
        bar_chart([Bar(evil, 0.5, 0.4, 0.6, note=evil), Bar("neg", -0.2, -0.3, -0.1),
                   Bar("none", None), Bar("x" * 60, 0.9, flagged=True)],
                  title=evil, y_label=evil, refs=[(0.8, evil)]),
        bar_chart([], title="no bars"),
        reliability_diagram({"bin_low": [0, 0.5], "bin_high": [0.5, 1],
                             "mean_predicted": [0.2, None], "fraction_positive": [0.3, None],
                             "count": [10, 0]}),
    ]
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.tag == "svg"
        assert "<b>" not in chart
    bars = ET.fromstring(charts[2])
    assert bars.findtext("title") == evil  # escaped in markup, intact once parsed
    assert "…" in charts[2]  # a long label is shortened under the axis


def test_long_curves_are_thinned() -> None:
    xs = np.linspace(0, 1, 20_000).tolist()
    chart = line_chart([Series("roc", xs, xs)], title="big")
    points = ET.fromstring(chart).find("polyline")
    assert points is not None
    coords = (points.get("points") or "").split()
    assert 100 < len(coords) <= 601
    assert coords[0] == "52.0,282.0" and coords[-1] == "406.0,28.0"  # both ends are kept


def test_multiclass_confusion_matrix_shows_its_classes() -> None:
    """Issue 12 item 14: the multiclass result names its classes under ``classes``."""
    ev = {"id": "ev-m", "task": "multiclass", "overall": {"accuracy": {"value": 0.5}},
          "extras": {"confusion_matrix": {"classes": ["cat", "dog"],
                                          "matrix": [[3, 1], [2, 4]]}}}
    html = render_report(ev)
    for text in ("predicted cat", "predicted dog", "actual cat", "actual dog"):
        assert text in html, text
    assert "<td class=\"num\">4</td>" in html


def test_the_page_reads_directions_and_meanings_from_the_catalogue() -> None:
    from airlock.evaluation import METRIC_CATALOGUE, higher_is_better

    for info in METRIC_CATALOGUE:
        name = info.name.replace("[CLASS]", "[a]").replace("@K", "@5")
        ev = {"task": info.task}
        assert higher_is_better(ev, name) == info.higher_is_better, name
    ev = {"id": "ev-r", "task": "regression", "overall": {"mae": {"value": 1.0},
                                                        "r2": {"value": 0.5}}}
    html = render_report(ev)
    from html import escape

    for name in ("mae", "r2"):
        assert escape(METRIC_CATALOGUE.describe(name, "regression") or "?") in html, name


def test_slice_status_reads_the_support_the_decision_used() -> None:
    """A slice the evaluation flagged but a rule's lower min_support gated reads as gated;
    a slice a rule's higher min_support skipped says so (issue 12 item 15). Decisions
    stored before the evidence named columns and min_support are read from the text."""
    from airlock.evaluation import slice_gates

    ev = binary_evaluation()
    text = "roc_auc >= 0.7 in every slice of education with support >= {}"
    rules = [
        {"index": 2, "kind": "slice", "text": text.format(10), "passed": True,
         "evidence": {"columns": ["education"], "min_support": 10, "skipped": [],
                      "failing": []}},
        {"index": 3, "kind": "slice", "text": text.format(1000), "passed": True,
         "evidence": {"skipped": [{"column": "education", "value": "Masters",
                                   "support": 934}]}},  # an older decision: text only
    ]
    decision = {**decision_for(ev), "rules": rules}
    gates = slice_gates(decision)
    assert [(g.rule, g.columns, g.min_support) for g in gates] == [
        (2, ("education",), 10), (3, ("education",), 1000)]
    out = render_report(ev, decision)
    row = out[out.index("&lt;script&gt;alert(1)&lt;/script&gt;</td>"):]
    row = row[:row.index("</tr>")]
    assert "under min support" in row and "gated by rule 2 (min support 10)" in row
    masters = out[out.index("<td>Masters</td>"):]
    assert "not gated: rule 3 needs 1000" in masters[:masters.index("</tr>")]
    bachelors = out[out.index("<td>Bachelors</td>"):]
    assert "gated" not in bachelors[:bachelors.index("</tr>")]  # gated by both: no note
