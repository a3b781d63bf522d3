"""Gating an LLM evaluation: a policy of metric rules (``{metric, min?, max?, use?,
severity?}``) loaded by the one policy loader, ``airlock.gates.load_policy``, with the LLM
metrics as its catalogue, and decided by the gates' ``decide`` on the evaluation's metrics
(as ``overall``). Slice, fairness, baseline and contract rules do not apply to an LLM
evaluation and are refused when the gate is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airlock.errors import UsageError

from ._catalogue import LLM_METRICS

if TYPE_CHECKING:
    from airlock.evaluation import MetricCatalogue
    from airlock.gates import Decision, Policy

    from ._result import LlmEvaluation

__all__ = ["MSG_METRIC_RULES_ONLY", "decide_llm", "load_llm_gate", "load_metric_gate"]

MSG_METRIC_RULES_ONLY = ("{src}: rule {index}{line} is a {kind} rule; an LLM evaluation is "
                         "gated by metric rules only")


def load_llm_gate(source: str | Path | Policy) -> Policy:
    """``gates.load_policy(source, catalogue=LLM_METRICS)`` (a YAML path or text; a Policy
    is checked as it is), refusing any rule other than a metric rule."""
    return load_metric_gate(source, LLM_METRICS)


def load_metric_gate(source: str | Path | Policy, catalogue: MetricCatalogue) -> Policy:
    """``gates.load_policy(source, catalogue=catalogue)``, refusing any rule other than a
    metric rule (the LLM and RAG evaluations are gated by metric rules only)."""
    from airlock.gates import MetricRule, load_policy

    policy = load_policy(source, catalogue=catalogue)
    for rule in policy.rules:
        if not isinstance(rule, MetricRule):
            raise UsageError(MSG_METRIC_RULES_ONLY.format(
                src=policy.source, index=rule.index, kind=rule.kind,
                line=f" (line {rule.line})" if rule.line else ""))
    return policy


def decide_llm(evaluation: LlmEvaluation, policy: str | Path | Policy) -> Decision:
    """The gates' ``decide`` on an evaluation's ``metrics`` (as ``overall``)."""
    from airlock.gates import decide

    policy = load_llm_gate(policy)
    return decide({"id": evaluation.id, "overall": evaluation.metrics,
                   "model": {"ref": evaluation.model_name or evaluation.model}}, policy)
