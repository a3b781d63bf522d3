"""Online experiments: A/B analysis from the prediction log, and progressive rollouts.

Progressive rollouts (``airlock rollout``): ``start_rollout(endpoint, candidate, steps=…,
interval=…, rules="rollout.yaml")`` puts the candidate's route on its first step;
``run_rollouts(once=True)`` judges every active rollout once (``run_rollouts()`` loops), each
under a lease in the store; ``rollout_status`` and ``abort_rollout`` read and stop one.
``load_rollout_rules`` reads ``rollout.yaml`` (guardrails with margins, success criteria).
"""

from __future__ import annotations

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

__all__ = ["RolloutRules", "RolloutStatus", "StepOutcome", "abort_rollout", "evaluate_rollout",
           "load_rollout_rules", "rollout_status", "run_rollouts", "start_rollout"]
