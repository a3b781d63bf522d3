"""The one metric catalogue: every metric a calculator emits, with its task, its direction
and what it means. Calculators take their names and directions from it, gates check policy
names against it, and reports explain metrics with it.

A metric is an exact name (``roc_auc``) or a family written with a placeholder
(``precision[CLASS]``, ``ndcg@K``) that a regular expression matches. Disparities (kind
``"disparity"``) are the fairness figures of a task a policy can bound; a verdict (the
four-fifths rule) is reported with them; every non-binary task also has the
max-min gap over groups of each of its metrics, ``<metric>_difference`` (lower is better).

Other evaluations (LLM features, guards) build their own :class:`MetricCatalogue` and hand
it to ``airlock.gates.load_policy(source, catalogue=...)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CATALOGUE", "DIFFERENCE_SUFFIX", "CatalogueMeaning", "MetricCatalogue", "MetricInfo"]

Kind = Literal["metric", "disparity", "verdict"]
DIFFERENCE_SUFFIX = "_difference"
UNDEFINED = "undefined on these rows"


@dataclass(frozen=True)
class MetricInfo:
    """One metric (or family of metrics) of one task."""

    name: str  # exact name, or the family's template ("precision[CLASS]")
    task: str
    higher_is_better: bool
    description: str
    kind: Kind = "metric"
    pattern: str | None = None  # regular expression (fullmatch) of a family
    undefined: str = "undefined on these rows"  # why the value can be None
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False,
                                           compare=False)

    def __post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "_regex", re.compile(self.pattern))

    def matches(self, name: str) -> bool:
        return name == self.name if self._regex is None else bool(self._regex.fullmatch(name))


class MetricCatalogue:
    """Look-ups over a set of :class:`MetricInfo` (task order as given)."""

    def __init__(self, metrics: Iterable[MetricInfo], *, group_differences: bool = True) -> None:
        self._metrics = tuple(metrics)
        self.group_differences = group_differences
        seen: set[tuple[str, str]] = set()
        for m in self._metrics:
            if (m.task, m.name) in seen:
                raise ValueError(f"metric {m.name!r} of task {m.task!r} is listed twice")
            seen.add((m.task, m.name))

    def __iter__(self) -> Iterator[MetricInfo]:
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(m.task for m in self._metrics))

    def find(self, name: str, task: str | None = None, kind: Kind = "metric"
             ) -> MetricInfo | None:
        """The entry of ``name`` (of ``task`` when given): exact names before families."""
        entries = [m for m in self._metrics
                   if m.kind == kind and (task is None or m.task == task)]
        exact = next((m for m in entries if m.pattern is None and m.name == name), None)
        return exact or next((m for m in entries if m.pattern and m.matches(name)), None)

    def names(self, task: str, kind: Kind = "metric") -> list[str]:
        """The names of a task (families by their template), catalogue order."""
        return [m.name for m in self._metrics if m.task == task and m.kind == kind]

    def exact_names(self, task: str | None = None, kind: Kind = "metric") -> list[str]:
        return list(dict.fromkeys(m.name for m in self._metrics if m.kind == kind
                                  and m.pattern is None and (task is None or m.task == task)))

    def families(self, task: str) -> list[str]:
        return [m.name for m in self._metrics
                if m.task == task and m.kind == "metric" and m.pattern]

    def tasks_of(self, name: str) -> list[str]:
        """The tasks that compute metric ``name`` (empty when none does)."""
        return [t for t in self.tasks if self.find(name, t) is not None]

    def disparity_tasks(self, name: str) -> list[str]:
        """The tasks that have disparity ``name``: a listed disparity, or the group gap
        ``<metric>_difference`` of a metric of a task without listed disparities."""
        listed = [t for t in self.tasks if self.find(name, t, "disparity") is not None]
        if listed or not self.group_differences or not name.endswith(DIFFERENCE_SUFFIX):
            return listed
        metric = name[:-len(DIFFERENCE_SUFFIX)]
        return [t for t in self.tasks_of(metric) if not self.names(t, "disparity")]

    def is_disparity(self, name: str) -> bool:
        return bool(self.disparity_tasks(name))

    def higher_is_better(self, name: str, task: str | None = None) -> bool:
        """The direction of a metric or disparity (unknown names: higher is better; a group
        gap ``<metric>_difference``: lower is better)."""
        info = (self.find(name, task) or self.find(name, task, "disparity")
                or self.find(name, task, "verdict"))
        if info is not None:
            return info.higher_is_better
        return not (self.group_differences and name.endswith(DIFFERENCE_SUFFIX))

    def undefined_reason(self, name: str, task: str | None = None) -> str:
        """Why ``name`` has no value on some rows (the stored ``reason`` of a None)."""
        info = (self.find(name, task) or self.find(name, task, "disparity")
                or self.find(name, task, "verdict"))
        return info.undefined if info is not None else UNDEFINED

    def describe(self, name: str, task: str | None = None) -> str | None:
        info = (self.find(name, task) or self.find(name, task, "disparity")
                or self.find(name, task, "verdict"))
        if info is not None:
            return info.description
        if self.group_differences and name.endswith(DIFFERENCE_SUFFIX):
            inner = self.find(name[:-len(DIFFERENCE_SUFFIX)], task)
            if inner is not None:
                return f"largest minus smallest {inner.name} over the groups"
        return None


def _m(task: str, name: str, higher: bool, description: str, *, kind: Kind = "metric",
       pattern: str | None = None, undefined: str = UNDEFINED) -> MetricInfo:
    return MetricInfo(name=name, task=task, higher_is_better=higher, description=description,
                      kind=kind, pattern=pattern, undefined=undefined)


#: The metrics of airlock's model evaluation: binary, multiclass, regression, ranking.
CATALOGUE = MetricCatalogue([
    _m("binary", "accuracy", True, "share of rows classified correctly"),
    _m("binary", "precision", True, "share of predicted positives that are positive",
       undefined="no row is predicted positive"),
    _m("binary", "recall", True, "share of positives predicted positive (true positive rate)",
       undefined="no positive rows"),
    _m("binary", "f1", True, "harmonic mean of precision and recall",
       undefined="no positive rows and none predicted positive"),
    _m("binary", "roc_auc", True,
       "probability that a random positive scores above a random negative",
       undefined="only one class in these rows"),
    _m("binary", "pr_auc", True, "average precision over the recall levels",
       undefined="no positive rows"),
    _m("binary", "log_loss", False, "mean negative log-likelihood of the true label"),
    _m("binary", "brier", False, "mean squared error of the predicted probability"),
    _m("binary", "ece", False,
       "expected calibration error: mean gap between predicted and observed rates"),
    _m("binary", "selection_rate", True, "share of rows predicted positive"),
    _m("binary", "demographic_parity_difference", False,
       "largest minus smallest selection rate over the groups", kind="disparity"),
    _m("binary", "demographic_parity_ratio", True,
       "smallest over largest selection rate over the groups", kind="disparity",
       undefined="no group has a positive selection rate (nobody was selected)"),
    _m("binary", "equalized_odds_difference", False,
       "largest group gap of the true or the false positive rate", kind="disparity"),
    _m("binary", "equal_opportunity_difference", False,
       "largest minus smallest true positive rate over the groups", kind="disparity",
       undefined="no group has positive rows (the true positive rate is undefined)"),
    _m("binary", "disparate_impact_ratio", True,
       "smallest over largest selection rate (the four-fifths rule's ratio)",
       kind="disparity",
       undefined="no group has a positive selection rate (nobody was selected)"),
    _m("binary", "four_fifths_rule", True,
       "smallest over largest selection rate, passed when at least 0.8 (reported with the "
       "disparities; gate on disparate_impact_ratio)", kind="verdict",
       undefined="no group has a positive selection rate (nobody was selected: passed)"),
    _m("multiclass", "accuracy", True, "share of rows classified correctly"),
    _m("multiclass", "macro_f1", True, "mean F1 over the classes present"),
    _m("multiclass", "weighted_f1", True, "F1 per class weighted by the class's support"),
    _m("multiclass", "log_loss", False, "mean negative log-likelihood of the true class"),
    _m("multiclass", "precision[CLASS]", True,
       "share of rows predicted as the class that belong to it",
       pattern=r"precision\[.+\]", undefined="no row is predicted as the class"),
    _m("multiclass", "recall[CLASS]", True,
       "share of the class's rows predicted as the class", pattern=r"recall\[.+\]",
       undefined="no row of the class"),
    _m("regression", "mae", False, "mean absolute error"),
    _m("regression", "rmse", False, "root mean squared error"),
    _m("regression", "r2", True, "share of the target's variance explained",
       undefined="fewer than 2 rows"),
    _m("regression", "mape", False, "mean absolute error relative to the target"),
    _m("ranking", "ndcg@K", True, "normalised discounted cumulative gain of the top K",
       pattern=r"ndcg@[1-9][0-9]*"),
    _m("ranking", "mrr", True, "mean reciprocal rank of the first relevant result"),
    _m("ranking", "recall@K", True, "share of the relevant results in the top K",
       pattern=r"recall@[1-9][0-9]*", undefined="no query with a relevant result"),
])


class CatalogueMeaning:
    """What a task calculator's metrics mean, read from the one catalogue by the task's
    ``name``: each calculator inherits these instead of keeping its own list."""

    name: str

    def higher_is_better(self, metric: str) -> bool:
        return CATALOGUE.higher_is_better(metric, self.name)

    def undefined_reason(self, metric: str) -> str:
        """Why ``metric`` can have no value (stored as ``reason`` beside a None)."""
        return CATALOGUE.undefined_reason(metric, self.name)

