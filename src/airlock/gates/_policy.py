"""Policies: a YAML gate, parsed and checked in full before anything is computed.

This module holds the parsed :class:`Policy` and its applicability checks; rule types are
in ``_rules``, reading and YAML in ``_load``, the validation of one rule in ``_parse``.
Metric names, tasks and directions come from a metric catalogue (``airlock.evaluation``).

Rules are numbered from 1 as a person counts them; every load-time error names the rule,
its line and what is wrong::

    name: adult-release
    rules:
      - metric: roc_auc                 # MetricRule: a bound on an overall metric
        min: 0.85
      - metric: roc_auc                 # BaselineRule: no significant regression
        max_drop: 0.01
        significance: 0.05              # default 0.05
      - metric: recall                  # SliceRule: the bound holds in every slice
        per_slice: true                 #   with support >= min_support (else: not flagged)
        min: 0.6
        min_support: 200
        columns: [education]            #   optional: only these slice columns
      - fairness: demographic_parity_ratio   # FairnessRule: a disparity on a feature
        feature: sex                    # or [sex, race] (each), or "sex & race" (intersection)
        min: 0.8
      - metric: ece
        max: 0.05
        use: ci_high                    # value (default), ci_low or ci_high
        severity: warn                  # reported, never fails the gate (default: fail)
      - experiment: adult-income        # ExperimentRule: the endpoint's newest A/B analysis
        metric: accuracy                #   optional: a bound on the candidate's lift
        min: 0                          #   lift_ci_low >= 0 (use: lift, lift_ci_low, …)
        srm: true                       #   no sample ratio mismatch (default true)
        guardrails: true                #   no guardrail breached (default true)
      - importance: [sex, race]         # ImportanceRule (proxy discrimination): each column
        not_in_top: 3                   #   is not among the 3 most important features and
        max: 0.01                       #   shuffling it costs at most 0.01 of the metric

A policy may also require approvals before a promotion (``approvals: {count: 1,
not_author: true, roles: [approver]}``; see :mod:`airlock.gates._approvals`).

Bounds are inclusive; a rule needs ``min``, ``max`` or both, except a baseline rule, which
takes ``max_drop`` (exact semantics in :mod:`airlock.gates._decide`; for a lower-is-better
metric such as log_loss a "drop" is an increase). Fairness names are the binary disparities
(FAIRNESS_METRICS) or, for other tasks, ``<metric>_difference`` (max-min gap over groups).

``Policy.sha256`` is the sha256 of the canonical YAML (name, rules and approvals, defaults
spelled out, keys sorted): comments, layout, ``description`` and omitted defaults do not change it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airlock.errors import UsageError
from airlock.evaluation import METRIC_CATALOGUE, MetricCatalogue

from ._rules import (
    BaselineRule,
    ContractRule,
    ExperimentRule,
    FairnessRule,
    ImportanceRule,
    Rule,
    SliceRule,
    rule_dict,
    where,
)

if TYPE_CHECKING:
    from ._approvals import ApprovalPolicy
    from ._decide import Decision

__all__ = ["FAIRNESS_METRICS", "TASK_METRICS", "Policy", "higher_is_better"]

#: exact metric names per task, from the catalogue
TASK_METRICS: dict[str, frozenset[str]] = {
    task: frozenset(METRIC_CATALOGUE.exact_names(task)) for task in METRIC_CATALOGUE.tasks}
#: the binary disparities a fairness rule can bound, from the catalogue
FAIRNESS_METRICS = frozenset(METRIC_CATALOGUE.exact_names("binary", "disparity"))


def higher_is_better(metric: str) -> bool:
    """The direction of a metric when the evaluation does not record it (the catalogue's)."""
    return METRIC_CATALOGUE.higher_is_better(metric)


@dataclass(frozen=True)
class Policy:
    """A parsed, validated policy. ``text`` is the source as written; ``canonical`` the
    normalised YAML whose sha256 identifies the policy."""

    name: str
    rules: tuple[Rule, ...]
    sha256: str
    text: str
    canonical: str
    description: str | None = None
    source: str = "policy"
    #: the metric names, tasks and directions the rules were checked against
    catalogue: MetricCatalogue = field(default=METRIC_CATALOGUE, compare=False, repr=False)
    #: what a promotion needs besides a passing decision (``approvals:``), if anything
    approvals: ApprovalPolicy | None = None

    def sensitive_features(self) -> list[str]:
        """Columns the fairness rules need as sensitive features (intersections split)."""
        return list(dict.fromkeys(c for r in self.rules if isinstance(r, FairnessRule)
                                  for f in r.features for c in f))

    def intersections(self) -> list[tuple[str, ...]]:
        """Intersections the fairness rules gate on; evaluated under ``" & ".join(...)``."""
        return list(dict.fromkeys(f for r in self.rules if isinstance(r, FairnessRule)
                                  for f in r.features if len(f) > 1))

    def slice_columns(self) -> list[str]:
        """Slice columns the per-slice rules name explicitly (``columns:``)."""
        return list(dict.fromkeys(c for r in self.rules if isinstance(r, SliceRule)
                                  for c in r.columns or ()))

    @property
    def needs_importance(self) -> bool:
        """An importance rule needs permutation importance (evaluate computes it)."""
        return any(isinstance(rule, ImportanceRule) for rule in self.rules)

    @property
    def needs_baseline(self) -> bool:
        return any(isinstance(rule, BaselineRule) for rule in self.rules)

    def contracts(self) -> list[str]:
        """Names of the data contracts the policy requires."""
        return [r.contract for r in self.rules if isinstance(r, ContractRule)]

    def experiments(self) -> list[str]:
        """The endpoints whose stored experiment the policy judges."""
        return list(dict.fromkeys(r.experiment for r in self.rules
                                  if isinstance(r, ExperimentRule)))

    def check_applicable(self, task: str, columns: set[str], slices: list[str],
                         sensitive: list[str], has_baseline: bool) -> None:
        """Raise UsageError naming the first rule that cannot apply to an evaluation of
        ``task`` on data with ``columns`` (slice and sensitive columns also count as
        present), before anything is computed."""
        tasks = self.catalogue.tasks
        if task not in tasks:
            raise UsageError(f"unknown task {task!r} (expected one of {', '.join(tasks)})")
        present = set(columns) | set(slices) | set(sensitive)
        for rule in self.rules:
            problem = _inapplicable(self.catalogue, rule, task, present, bool(slices),
                                    has_baseline)
            if problem:
                raise UsageError(f"{where(self.source, rule.index, rule.line)} "
                                 f"`{rule.text}`: {problem}")

    def check_evaluation(self, evaluation: Mapping[str, Any]) -> None:
        """Like :meth:`check_applicable`, for an evaluation already computed: every column a
        rule names must have been evaluated (as a slice or sensitive feature)."""
        slices = list(evaluation.get("slices") or {})
        evaluated = [part.strip() for key in (evaluation.get("fairness") or {})
                     for part in str(key).split("&")]
        self.check_applicable(str(evaluation.get("task")), set(), slices, evaluated,
                              evaluation.get("baseline") is not None)

    def judge(self, evaluation: Mapping[str, Any], *, record: bool) -> Decision:
        """The decision on ``evaluation`` by every rule; ``record`` stores it beside the
        stored evaluation (:func:`airlock.gates.gate`), else it is only computed."""
        from ._decide import decide
        from ._promote import gate

        return gate(evaluation, self) if record else decide(evaluation, self)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "sha256": self.sha256,
               "rules": [{"index": r.index, "kind": r.kind, "text": r.text, **rule_dict(r)}
                         for r in self.rules]}
        if self.approvals is not None:
            out["approvals"] = self.approvals.to_dict()
        return out


def _inapplicable(cat: MetricCatalogue, rule: Rule, task: str, present: set[str],
                  has_slices: bool, has_baseline: bool) -> str | None:
    if isinstance(rule, ContractRule | ExperimentRule):
        return None  # judged against stored contract results / experiments, any task
    if isinstance(rule, ImportanceRule):  # judged against the features that were explained
        return None if task != "ranking" else "permutation importance needs a binary, " \
            "multiclass or regression task"
    if isinstance(rule, FairnessRule):
        problem = _fairness_task(cat, rule.fairness, task)
        if problem:
            return problem
        missing = [c for f in rule.features for c in f if c not in present]
        return _missing_column("feature", missing[0], present) if missing else None
    if cat.find(rule.metric, task) is None:
        families = cat.families(task)
        return (f"{rule.metric} is not a metric of a {task} task (its metrics: "
                f"{', '.join(sorted(cat.exact_names(task)))}"
                f"{', ' + ', '.join(families) if families else ''})")
    if isinstance(rule, BaselineRule) and not has_baseline:
        return "compares against a baseline, but no baseline was given (--baseline)"
    if isinstance(rule, SliceRule):
        if rule.columns:
            missing = [c for c in rule.columns if c not in present]
            return _missing_column("slice column", missing[0], present) if missing else None
        if not has_slices:
            return "a per-slice rule needs slice columns: pass --slices or list `columns:`"
    return None


def _fairness_task(cat: MetricCatalogue, name: str, task: str) -> str | None:
    tasks = cat.disparity_tasks(name)
    if task in tasks:
        return None
    listed = [t for t in tasks if cat.find(name, t, "disparity") is not None]
    if listed:
        own = sorted(cat.exact_names(task))
        example = f" (e.g. {own[0]}_difference)" if own else ""
        return (f"{name} is a disparity of {_task_text(listed[0])}; a {task} task has "
                f"`<metric>_difference`{example}")
    return f"{name} is not a disparity of a {task} task"


def _task_text(task: str) -> str:
    return "binary classification" if task == "binary" else f"a {task} task"


def _missing_column(what: str, name: str, present: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(present), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{what} {name!r} is not a column of the data{hint}"
