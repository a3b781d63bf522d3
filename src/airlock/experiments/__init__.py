"""Experiments: A/B analysis of online traffic (from the prediction log or any table).

``analyze(table, variant="route", metrics=["mean(converted)"], ...) -> ExperimentResult``:
a sample-ratio-mismatch test first (chi-square, flagged at p < 0.001, lifts then withheld
unless ``show_despite_srm``), per variant its units and each metric with a CI, and per
comparison with the control the absolute and relative lift with CIs, a p-value and a
Holm-corrected decision across metrics. ``sequential=True`` gives always-valid confidence
sequences (look as often as you like); ``covariate=`` applies CUPED; ``guardrails=`` adds
non-inferiority tests with a margin. ``result.to_dict()`` is the JSON of ``airlock ab
analyze --json``.

Progressive rollouts (``airlock rollout``): ``start_rollout(endpoint, candidate, steps=…,
interval=…, rules="rollout.yaml")`` puts the candidate's route on its first step;
``run_rollouts(once=True)`` judges every active rollout once (``run_rollouts()`` loops), each
under a lease in the store; ``rollout_status`` and ``abort_rollout`` read and stop one.
``load_rollout_rules`` reads ``rollout.yaml`` (guardrails with margins, success criteria).
"""

from __future__ import annotations

from ._analyze import (
    MSG_CONTROL,
    MSG_COVARIATE_MISSING,
    MSG_METRIC_EMPTY,
    MSG_NO_LABELS,
    MSG_NO_TRAFFIC,
    MSG_ONE_VARIANT,
    MSG_UNIT_MISSING,
    analyze,
)
from ._config import ExperimentConfig, Guardrail
from ._endpoint import MSG_NO_LOG, MSG_ONE_ROUTE, analyze_endpoint, config_hash
from ._metrics import MSG_METRIC, MetricSpec, parse_metric
from ._report import render_experiment_report, save_experiment_report
from ._result import (
    Comparison,
    Estimate,
    ExperimentResult,
    GuardrailOutcome,
    Srm,
    VariantSummary,
)
from ._rollout import (
    RolloutStatus,
    StepOutcome,
    abort_rollout,
    evaluate_rollout,
    rollout_status,
    run_rollouts,
    start_rollout,
)
from ._rollout_rules import RolloutRules, load_rollout_rules
from ._saved import MSG_NO_ENDPOINT, get_experiment, latest_experiment, save_experiment
from ._source import MSG_COLUMN, MSG_COVARIATE, MSG_VARIANT

__all__ = [
    "MSG_COLUMN",
    "MSG_CONTROL",
    "MSG_COVARIATE",
    "MSG_COVARIATE_MISSING",
    "MSG_METRIC",
    "MSG_METRIC_EMPTY",
    "MSG_NO_ENDPOINT",
    "MSG_NO_LABELS",
    "MSG_NO_LOG",
    "MSG_NO_TRAFFIC",
    "MSG_ONE_ROUTE",
    "MSG_ONE_VARIANT",
    "MSG_UNIT_MISSING",
    "MSG_VARIANT",
    "Comparison",
    "Estimate",
    "ExperimentConfig",
    "ExperimentResult",
    "Guardrail",
    "GuardrailOutcome",
    "MetricSpec",
    "RolloutRules",
    "RolloutStatus",
    "Srm",
    "StepOutcome",
    "VariantSummary",
    "abort_rollout",
    "analyze",
    "analyze_endpoint",
    "config_hash",
    "evaluate_rollout",
    "get_experiment",
    "latest_experiment",
    "load_rollout_rules",
    "parse_metric",
    "render_experiment_report",
    "rollout_status",
    "run_rollouts",
    "save_experiment",
    "save_experiment_report",
    "start_rollout",
]
