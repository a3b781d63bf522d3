"""The `experiment:` gate rule in a promotion policy: it judges the endpoint's newest stored
A/B analysis (lift CI, SRM, guardrails) for the variant serving the candidate version."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.experiment_helpers import EP, Traffic, write_traffic

import airlock
from airlock.errors import CheckFailed, UsageError
from airlock.experiments import analyze_endpoint, save_experiment
from airlock.gates import gate, load_policy, promote, protect
from airlock.store import get_store

POLICY = f"""\
name: online
rules:
  - experiment: {EP}
    metric: accuracy
    min: 0
"""


def score(df: Any) -> Any:
    return df["x"] * 2


def _evaluation(version: int) -> str:
    eval_id = f"ev-{version}"
    result = {"id": eval_id, "task": "binary",
              "model": {"ref": f"{EP}@{version}", "name": EP, "version": version},
              "overall": {}, "slices": {}, "fairness": {}, "baseline": None}
    get_store().evaluations.save(eval_id=eval_id, name=EP, version=version,
                                 model_sha256=f"{version:064d}", task="binary", result=result,
                                 dataset=None)
    return eval_id


@pytest.fixture
def candidate(backend: str) -> str:
    for _ in range(2):
        airlock.register_model(EP, score)
    airlock.set_alias(f"{EP}@1", "production")
    return _evaluation(2)


def _analyse(**options: Any) -> None:
    save_experiment(analyze_endpoint(EP, since="1d", metrics=["accuracy", "error_rate"],
                                     **options))


def test_a_better_candidate_passes_and_promotes(candidate: str) -> None:
    write_traffic(Traffic(n=3000, accuracy=(0.75, 0.90), labelled=1.0))
    _analyse(guardrails={"error_rate": 0.02})
    protect(EP, "production", POLICY)
    decision = gate(candidate, POLICY)
    rule = decision.rules[0]
    assert decision.passed, rule.evidence
    assert rule.kind == "experiment" and rule.evidence["variant"] == "canary"
    assert rule.value is not None and rule.value > 0 and not rule.evidence["srm_flagged"]
    assert rule.text == (f"experiment on {EP}: accuracy lift ci low >= 0, no sample ratio "
                         "mismatch, no guardrail breached")
    promote(f"{EP}@2", to="production")
    assert airlock.get_model_version(f"{EP}@production").version == 2


def test_a_breached_guardrail_or_no_lift_fails(candidate: str) -> None:
    write_traffic(Traffic(n=3000, accuracy=(0.80, 0.80), error_rate=(0.01, 0.10)))
    _analyse(guardrails={"error_rate": 0.02})
    decision = gate(candidate, POLICY)
    rule = decision.rules[0]
    assert not decision.passed
    assert rule.evidence["breached"] == ["error_rate"]
    assert "guardrail breached: error_rate" in rule.evidence["reason"]
    protect(EP, "production", POLICY)
    with pytest.raises(CheckFailed):
        promote(f"{EP}@2", to="production")


def test_no_stored_analysis_fails_with_a_reason(candidate: str) -> None:
    rule = gate(candidate, POLICY).rules[0]
    assert not rule.passed and rule.value is None
    assert rule.evidence["reason"] == f"no stored experiment analysis of endpoint {EP!r}"


@pytest.mark.parametrize(("rule", "message"), [
    ("  - experiment: x\n    min: 0\n", "`min`/`max` bound a lift: name its `metric`"),
    ("  - experiment: x\n    metric: accuracy\n", "needs `min` or `max`"),
    ("  - experiment: x\n    metric: accuracy\n    min: 0\n    use: value\n",
     "`use` must be one of lift, lift_ci_low, lift_ci_high, relative_lift"),
    ("  - experiment: x\n    srm: maybe\n", "`srm` must be true or false"),
    ("  - experiment: x\n    alpha: 1\n", "unknown key 'alpha' in a experiment rule"),
])
def test_bad_experiment_rules_are_refused_at_load(rule: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("`", "`")):
        load_policy("name: p\nrules:\n" + rule)
