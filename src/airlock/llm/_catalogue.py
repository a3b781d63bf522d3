"""The metrics of ``llm eval``: one :class:`~airlock.evaluation.MetricCatalogue` of task
``llm`` (name, direction, meaning), read by the gate (``gates.load_policy(source,
catalogue=LLM_METRICS)``), the report page and the CLI, in the order they are shown.

Rates and means are ratios of sums over cases with a bootstrap CI; the latencies are timings
(no CI). ``precision.LABEL`` / ``recall.LABEL`` exist for every label a case expects or an
outcome predicts."""

from __future__ import annotations

from airlock.evaluation import MetricCatalogue, MetricInfo

__all__ = ["LLM_METRICS", "LLM_TASK", "TIMED_METRICS"]

LLM_TASK = "llm"
#: metrics measured as timings (no CI, not reproducible): the gate can bound them
TIMED_METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_mean_ms")
_LABEL = r"[a-z0-9][a-z0-9_.-]{0,63}"


def _m(name: str, higher: bool, description: str, pattern: str | None = None) -> MetricInfo:
    return MetricInfo(name=name, task=LLM_TASK, higher_is_better=higher,
                      description=description, pattern=pattern)


LLM_METRICS = MetricCatalogue([
    _m("violation_rate", False, "share of answered cases whose output check raised a "
       "finding other than a refusal"),
    _m("refusal_rate", False, "share of answered cases the model refused"),
    _m("blocked_rate", False, "share of cases whose input the guard blocked"),
    _m("accuracy", True, "share of cases whose outcome is one of their expected outcomes"),
    _m("exact_match", True, "share of served answers equal to the reference "
       "(SQuAD-normalised)"),
    _m("token_f1", True, "mean token F1 of the served answer against the reference"),
    _m("tokens_in_mean", False, "mean prompt tokens per model call"),
    _m("tokens_out_mean", False, "mean completion tokens per model call"),
    _m("cost_per_1k_calls", False, "cost of 1,000 model calls at the given prices per "
       "million tokens"),
    _m("latency_p50_ms", False, "median model-call latency in ms (a timing, no CI)"),
    _m("latency_p95_ms", False, "95th percentile of the model-call latency in ms"),
    _m("latency_mean_ms", False, "mean model-call latency in ms"),
    _m("precision.LABEL", True, "share of cases predicted with the label that expect it",
       pattern=rf"precision\.{_LABEL}"),
    _m("recall.LABEL", True, "share of cases expecting the label that are predicted with it",
       pattern=rf"recall\.{_LABEL}"),
], group_differences=False)
