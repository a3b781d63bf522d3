"""Model cards from stored evidence: a real registered sklearn model with its run and
training input, a stored evaluation, a gate decision, an audited override and alias moves.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import airlock
from airlock.errors import NotFound, UsageError
from airlock.evidence import model_card
from airlock.store import get_store

NAME = "adult-income"
EVAL_DIGEST = "9" * 64


def ci(value: float | None, low: float | None = None, high: float | None = None) -> dict[str, Any]:
    return {"value": value, "ci_low": low, "ci_high": high}


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame({"age": rng.integers(18, 80, n), "hours": rng.integers(10, 60, n),
                       "sex": rng.choice(["Male", "Female"], n)})
    df["income"] = ((df["age"] + df["hours"] + rng.normal(0, 10, n)) > 90).astype(int)
    return df


def _fit(df: pd.DataFrame) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=200).fit(df[["age", "hours"]], df["income"])


@pytest.fixture
def registered(frame: pd.DataFrame) -> dict[str, Any]:
    """Version 1 trained in a tracked run with a logged input; version 2 without evaluation."""
    model = _fit(frame)
    with airlock.start_run("adult", params={"max_iter": 200}) as run:
        info = run.log_input(frame, name="adult-train")
        run.log_metric("train_auc", 0.87)
        v1 = airlock.register_model(NAME, model, run=run, input_example=frame[["age", "hours"]],
                                    description="Predicts income > 50K for credit pre-screens.")
    v2 = airlock.register_model(NAME, model, input_example=frame[["age", "hours"]].head(5))
    return {"v1": v1, "v2": v2, "train": info, "run": run.id}


def evaluation(ref: str, sha: str) -> dict[str, Any]:
    return {
        "id": "ev-card-1", "model": {"ref": ref, "name": NAME, "version": 1, "sha256": sha},
        "dataset": {"name": "adult-test", "digest": EVAL_DIGEST, "rows": 16281,
                    "schema": {"age": "int64", "hours": "int64"}},
        "task": "binary", "target": "income",
        "config": {"threshold": 0.5, "bootstrap": 1000, "seed": 0, "confidence": 0.95,
                   "min_support": 30, "slices": ["education"], "sensitive": ["sex"]},
        "support": 16281, "higher_is_better": {"roc_auc": True, "recall": True},
        "overall": {"roc_auc": ci(0.91234567, 0.9051, 0.9188),
                    "recall": ci(0.6277, 0.6121, 0.6425)},
        "slices": {"education": {
            "Bachelors": {"roc_auc": ci(0.8801, 0.8702, 0.8899), "recall": ci(0.70, 0.68, 0.72),
                          "support": 2670, "flagged": False},
            "Doctorate": {"roc_auc": ci(0.84, 0.62, 0.95), "recall": ci(0.81, 0.66, 0.93),
                          "support": 180, "flagged": False},
            "<script>x</script>": {"roc_auc": ci(0.7, 0.3, 1.0), "recall": ci(None),
                                   "support": 12, "flagged": True},
        }},
        "fairness": {"sex": {
            "by_group": {
                "Male": {"selection_rate": ci(0.2531, 0.245, 0.261), "tpr": 0.6412,
                         "support": 10860},
                "Female": {"selection_rate": ci(0.0712, 0.02, 0.19), "tpr": 0.5522,
                           "support": 5421},
            },
            "disparities": {"demographic_parity_ratio": ci(0.2813, 0.25, 0.31),
                            "four_fifths_rule": {**ci(0.2813, 0.25, 0.31), "bound": 0.8,
                                                 "passed": False}},
        }},
        "extras": {}, "baseline": None,
    }


def decision(eval_id: str) -> dict[str, Any]:
    return {"id": "dec-1", "evaluation_id": eval_id,
            "policy": {"name": "adult-release", "sha256": "c" * 64}, "passed": False,
            "rules": [
                {"index": 0, "text": "roc_auc >= 0.85", "kind": "metric", "metric": "roc_auc",
                 "feature": None, "value": 0.9123, "bound": 0.85, "passed": True,
                 "severity": "error", "evidence": {}},
                {"index": 1, "text": "demographic_parity_ratio on sex >= 0.8",
                 "kind": "fairness", "metric": "demographic_parity_ratio", "feature": "sex",
                 "value": 0.2813, "bound": 0.8, "passed": False, "severity": "error",
                 "evidence": {}}]}


@pytest.fixture
def evidence(registered: dict[str, Any]) -> dict[str, Any]:
    """Stored evaluation + failing decision + override into production + a staging alias."""
    v1 = registered["v1"]
    evals = get_store().evaluations
    ev = evaluation(v1.ref, v1.manifest["sha256"])
    evals.save(eval_id=ev["id"], name=NAME, version=1, model_sha256=v1.manifest["sha256"],
               task="binary", result=ev, dataset=None)
    dec = decision(ev["id"])
    evals.save_decision(decision_id=dec["id"], evaluation_id=ev["id"],
                        policy_name="adult-release", policy_sha256="c" * 64, passed=False,
                        result=dec)
    evals.protect(NAME, "production", "gate.yaml", "c" * 64)
    evals.promote(NAME, "production", 1, override_reason="hotfix approved by risk team",
                  failing_rules=[{"text": "demographic_parity_ratio on sex >= 0.8"}])
    airlock.set_alias(f"{NAME}@1", "staging")
    return registered


def test_markdown_card_from_stored_evidence(evidence: dict[str, Any]) -> None:
    v1, train = evidence["v1"], evidence["train"]
    card = model_card(f"{NAME}@production")  # an alias resolves to version 1
    assert card.startswith(f"# Model card: {NAME}@1\n")
    # registration, description, intended use
    assert "Predicts income > 50K for credit pre-screens." in card
    assert "skops (not pickle-based)" in card
    assert "Intended use: not recorded at registration." in card
    assert v1.manifest["sha256"] in card
    # training data: the run's input fingerprint, rows and schema; the run itself
    assert train.digest in card and "adult-train" in card and "run input (training)" in card
    assert "| income | int64 |" in card and "| sex |" in card
    assert evidence["run"] in card and "| max_iter | 200 |" in card and "train_auc" in card
    # signature and every file's sha256
    assert "| age | int64 | no |" in card
    for path, digest in v1.manifest["files"].items():
        assert f"| {path} | {digest} |" in card
    # the evaluation: dataset digest, metrics with CIs, slice and fairness tables
    assert EVAL_DIGEST in card and "ev-card-1" in card
    assert "| roc_auc | 0.9123 | [0.9051, 0.9188] |" in card
    assert "| education | Bachelors | 2,670 | 0.8801 [0.8702, 0.8899] | 0.7000 |  |" in card
    assert "| Female | 0.0712 [0.0200, 0.1900] | 0.5522 | 5,421 |" in card
    assert "| four_fifths_rule | 0.2813 | [0.2500, 0.3100] FAILED |" in card
    # gates, override, alias history
    assert "adult-release" in card and "FAILED" in card
    assert "hotfix approved by risk team" in card
    assert re.search(r"\| alias\.(set|moved) \| production \| — \| 1 \|", card)
    assert "| staging |" in card


def test_markdown_card_lists_limitations_and_escapes(evidence: dict[str, Any]) -> None:
    card = model_card(f"{NAME}@1")
    limits = card[card.index("## Limitations found"):]
    assert "Slice education = &lt;script>x&lt;/script>: 12 rows, under the minimum " \
           "support of 30" in limits
    assert "Slice education = Doctorate (180 rows): wide CIs for roc_auc [0.6200, 0.9500], " \
           "recall [0.6600, 0.9300]." in limits
    assert "Group sex = Female (5,421 rows): wide CIs for selection_rate" in limits
    assert "Four-fifths rule failed on sex: the selection-rate ratio 0.2813 is below " \
           "0.8." in limits
    assert "Fairness rule failed under policy adult-release: demographic_parity_ratio on " \
           "sex >= 0.8 (value 0.2813, bound 0.8000)." in limits
    assert "Bachelors" not in limits  # a narrow, well-supported slice is no limitation
    assert "<script>" not in card


def test_html_card_has_the_same_content_self_contained(evidence: dict[str, Any]) -> None:
    html = model_card(f"{NAME}@1", format="html")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    for text in (EVAL_DIGEST, evidence["train"].digest, "[0.9051, 0.9188]",
                 "hotfix approved by risk team", "Limitations found", "under min support",
                 "Four-fifths rule failed on sex", "&lt;script&gt;x&lt;/script&gt;"):
        assert text in html, text
    assert "<script" not in html
    for needle in ("http://", "https://", "//cdn", "<link", "src="):
        assert needle not in html, needle
    root = ET.fromstring(html.removeprefix("<!DOCTYPE html>\n"))  # balanced, well-formed
    headings = [h.text for h in root.iter("h2")]
    assert headings == ["Model", "Description and intended use", "Training data",
                        "Training run", "Signature and files", "Evaluation", "Slices",
                        "Fairness", "Gate decisions and overrides", "Alias history",
                        "Limitations found"]


def test_card_without_evaluation_says_so(evidence: dict[str, Any]) -> None:
    card = model_card(f"{NAME}@2")
    assert f"No evaluation of {NAME}@2 has been stored yet" in card
    assert "No evaluation is stored, so no limitation could be measured." in card
    assert "No gate decision has been recorded for this version." in card
    assert "No gate override has been recorded for this version." in card
    assert "No alias has pointed at this version." in card
    assert "No description was given at registration." in card
    assert "ev-card-1" not in card and "hotfix" not in card  # version 1's evidence only
    html = model_card(f"{NAME}@2", format="html")
    assert "has been stored yet" in html


def test_intended_use_and_training_datasets_from_the_manifest(frame: pd.DataFrame,
                                                              tmp_path: Path) -> None:
    """``intended_use`` is read from the manifest (importers pass it through ``extra``)."""
    from airlock.registry import register_saved
    from airlock.registry.flavors import get_flavor

    fl = get_flavor("sklearn")
    options = fl.save(_fit(frame), tmp_path, serialization=None)
    version = register_saved("scorer", tmp_path, fl, options, datasets=[frame],
                             description="# not a heading | <img src=x>\nsecond line",
                             extra={"intended_use": "Ranking leads; not for credit."})
    card = model_card("scorer")
    # Markdown-safe: no raw HTML, no heading, no table break, one line
    assert "\\# not a heading \\| &lt;img src=x> second line\n" in card
    assert "Intended use: Ranking leads; not for credit." in card
    digest = version.manifest["datasets"][0]["digest"]
    assert f"| dataset | {digest} | 200 | registration | — |" in card
    assert "| hours | int64 |" in card  # the dataset's schema
    assert "No input signature was recorded." in card
    assert "Training run" not in card  # no run was recorded


def test_unknown_model_or_format(registered: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        model_card("no-such-model@1")
    with pytest.raises(NotFound):
        model_card(f"{NAME}@99")
    with pytest.raises(UsageError, match="unknown card format 'pdf'"):
        model_card(f"{NAME}@1", format="pdf")


SLICE_POLICY = """name: slices-20
rules:
  - metric: roc_auc
    per_slice: true
    min: 0.6
    min_support: 20
    columns: [education]
  - metric: roc_auc
    per_slice: true
    min: 0.6
    min_support: 200
    columns: [education]
"""


def test_the_card_reads_the_support_the_decision_used(registered: dict[str, Any]) -> None:
    """A slice of 27 rows under the evaluation's flag of 30 that a policy's min_support of
    20 gated reads as gated, with the rule's support; a slice a rule's min_support of 200
    skipped says so (issue 12 item 15)."""
    from airlock.gates import decide, load_policy

    v1 = registered["v1"]
    ev = evaluation(v1.ref, v1.manifest["sha256"])
    ev["slices"]["education"]["Masters"] = {"roc_auc": ci(0.81, 0.66, 0.93),
                                            "recall": ci(0.7, 0.5, 0.9), "support": 27,
                                            "flagged": True}
    evals = get_store().evaluations
    evals.save(eval_id=ev["id"], name=NAME, version=1, model_sha256=v1.manifest["sha256"],
               task="binary", result=ev, dataset=None)
    policy = load_policy(SLICE_POLICY)
    dec = decide(ev, policy).to_dict()
    evals.save_decision(decision_id=dec["id"], evaluation_id=ev["id"], policy_name=policy.name,
                        policy_sha256=policy.sha256, passed=dec["passed"], result=dec)
    card = model_card(f"{NAME}@1")
    limits = card[card.index("## Limitations found"):]
    assert "Slice education = Masters: 27 rows, gated by policy slices-20 rule 1 (min " \
           "support 20); the evaluation flags slices under 30 rows." in limits
    assert "27 rows, under the minimum support of 30" not in card
    assert "Slice education = Doctorate: 180 rows, not gated by policy slices-20 rule 2 " \
           "(min support 200)." in limits
    # the 12-row slice: under every rule's support, reported, not gated
    assert "12 rows, under the minimum support of 30 (reported, not gated)" in limits
    assert "| education | Masters | 27 | 0.8100 [0.6600, 0.9300] | 0.7000 | gated by rule 1 " \
           "(min support 20) |" in card
    assert "not gated: rule 2 needs 200 |" in card
