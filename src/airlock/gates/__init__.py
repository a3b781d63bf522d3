"""Gates: YAML policies, decisions on evaluations, protected aliases and gated promotion.

    policy = load_policy("examples/gate.yaml")          # every rule checked at load time
    load_policy(text, catalogue=my_metrics)             # names checked against a catalogue
    policy.check_applicable(task, columns, slices, sensitive, has_baseline)  # before computing
    decision = gate(evaluation_id, policy)              # decide the stored evaluation, record it
    # `experiment: ENDPOINT` rules judge the endpoint's newest stored A/B analysis
    protect("adult-income", "production", policy)
    promote("adult-income@4", to="production")         # needs a passing decision, or
    promote("adult-income@4", to="production", override=True, reason="…")  # an audited override
    approve("adult-income@4", alias="production", comment="…")  # when the policy requires it
"""

from __future__ import annotations

from ._approvals import ApprovalPolicy, approvals, approve
from ._decide import Decision, RuleOutcome, decide, decision_id
from ._load import load_policy
from ._policy import FAIRNESS_METRICS, TASK_METRICS, Policy, higher_is_better
from ._promote import experiment_status, gate, promote, protect
from ._rules import (
    BaselineRule,
    ContractRule,
    ExperimentRule,
    FairnessRule,
    ImportanceRule,
    MetricRule,
    Rule,
    SliceRule,
)

__all__ = [
    "FAIRNESS_METRICS",
    "TASK_METRICS",
    "ApprovalPolicy",
    "BaselineRule",
    "ContractRule",
    "Decision",
    "ExperimentRule",
    "FairnessRule",
    "ImportanceRule",
    "MetricRule",
    "Policy",
    "Rule",
    "RuleOutcome",
    "SliceRule",
    "approvals",
    "approve",
    "decide",
    "decision_id",
    "experiment_status",
    "gate",
    "higher_is_better",
    "load_policy",
    "promote",
    "protect",
]
