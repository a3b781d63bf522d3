"""Rule types of a policy: what each rule checks, its text, and its canonical form.

A rule is a frozen dataclass numbered from 1 (``index``) with the line it was written on;
``rule_dict`` is the rule as YAML data with every default spelled out (what
``Policy.sha256`` covers). The YAML shape of each rule is described in
:mod:`airlock.gates._policy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, TypeAlias

__all__ = ["DEFAULT_SIGNIFICANCE", "EXPERIMENT_USES", "SEVERITIES", "USES", "BaselineRule",
           "ContractRule", "ExperimentRule", "ExperimentUse", "FairnessRule", "ImportanceRule",
           "MetricRule", "Rule", "Severity", "SliceRule", "Use", "rule_dict", "where"]

Use = Literal["value", "ci_low", "ci_high"]
Severity = Literal["fail", "warn"]
USES: tuple[Use, ...] = ("value", "ci_low", "ci_high")
SEVERITIES: tuple[Severity, ...] = ("fail", "warn")
DEFAULT_SIGNIFICANCE = 0.05
ExperimentUse = Literal["lift", "lift_ci_low", "lift_ci_high", "relative_lift"]
EXPERIMENT_USES: tuple[ExperimentUse, ...] = ("lift", "lift_ci_low", "lift_ci_high",
                                              "relative_lift")


def where(src: str, index: int, line: int | None) -> str:
    """``gate.yaml: rule 2 (line 7)``: how every message names a rule."""
    return f"{src}: rule {index}" + (f" (line {line})" if line else "")


def _bounds_text(subject: str, lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g} <= {subject} <= {hi:g}"
    return f"{subject} >= {lo:g}" if lo is not None else f"{subject} <= {hi or 0.0:g}"


def _subject(metric: str, use: Use) -> str:
    return metric if use == "value" else f"{metric} ({use})"


@dataclass(frozen=True)
class MetricRule:
    """An absolute bound on an overall metric: ``roc_auc >= 0.85``."""

    kind: ClassVar[str] = "metric"
    index: int
    metric: str
    min: float | None = None
    max: float | None = None
    use: Use = "value"
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        return _bounds_text(_subject(self.metric, self.use), self.min, self.max)


@dataclass(frozen=True)
class SliceRule:
    """A bound that holds in every slice with enough support (``min_support``; without it,
    every slice the evaluation did not flag for low support)."""

    kind: ClassVar[str] = "slice"
    index: int
    metric: str
    min: float | None = None
    max: float | None = None
    min_support: int | None = None
    columns: tuple[str, ...] | None = None
    use: Use = "value"
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        where = f" of {', '.join(self.columns)}" if self.columns else ""
        support = (f"with support >= {self.min_support}" if self.min_support is not None
                   else "not flagged for low support")
        return (f"{_bounds_text(_subject(self.metric, self.use), self.min, self.max)} "
                f"in every slice{where} {support}")


@dataclass(frozen=True)
class FairnessRule:
    """A bound on a fairness disparity for each listed feature (a feature is one column or
    an intersection of columns, ``("sex", "race")``)."""

    kind: ClassVar[str] = "fairness"
    index: int
    fairness: str
    features: tuple[tuple[str, ...], ...]
    min: float | None = None
    max: float | None = None
    use: Use = "value"
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def metric(self) -> str:
        return self.fairness

    @property
    def feature_text(self) -> str:
        return ", ".join(" & ".join(f) for f in self.features)

    @property
    def text(self) -> str:
        on = "each of " if len(self.features) > 1 else ""
        return _bounds_text(f"{_subject(self.fairness, self.use)} on {on}{self.feature_text}",
                            self.min, self.max)


@dataclass(frozen=True)
class BaselineRule:
    """No statistically significant regression against the baseline beyond ``max_drop``."""

    kind: ClassVar[str] = "baseline"
    index: int
    metric: str
    max_drop: float
    significance: float = DEFAULT_SIGNIFICANCE
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        return (f"{self.metric} worsens by at most {self.max_drop:g} vs baseline "
                f"(significance {self.significance:g})")


@dataclass(frozen=True)
class ContractRule:
    """The evaluated data passed this data contract (the newest stored validation of the
    evaluation's dataset fingerprint under that contract name)."""

    kind: ClassVar[str] = "contract"
    index: int
    contract: str
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        return f"data contract {self.contract!r} passes"


@dataclass(frozen=True)
class ExperimentRule:
    """The newest stored A/B analysis of an endpoint (``airlock ab analyze``) backs the
    candidate: no sample ratio mismatch (``srm``), no breached guardrail (``guardrails``)
    and, with ``metric``, the candidate's lift (``use``: ``lift_ci_low`` by default) within
    ``[min, max]``. ``variant`` defaults to the route that served the candidate version."""

    kind: ClassVar[str] = "experiment"
    index: int
    experiment: str
    metric: str | None = None
    min: float | None = None
    max: float | None = None
    use: ExperimentUse = "lift_ci_low"
    variant: str | None = None
    srm: bool = True
    guardrails: bool = True
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        parts = []
        if self.metric is not None:
            parts.append(_bounds_text(f"{self.metric} {self.use.replace('_', ' ')}",
                                      self.min, self.max))
        if self.srm:
            parts.append("no sample ratio mismatch")
        if self.guardrails:
            parts.append("no guardrail breached")
        who = f" ({self.variant})" if self.variant else ""
        return f"experiment on {self.experiment}{who}: " + (", ".join(parts) or "analysed")


@dataclass(frozen=True)
class ImportanceRule:
    """A proxy-discrimination check on the evaluation's permutation importance: each listed
    column is not among the ``not_in_top`` most important features, and/or its importance
    (the drop of the primary metric when it is shuffled) is at most ``max``."""

    kind: ClassVar[str] = "importance"
    index: int
    features: tuple[str, ...]
    not_in_top: int | None = None
    max: float | None = None
    use: Use = "value"
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def metric(self) -> str:
        return "importance"

    @property
    def text(self) -> str:
        parts = []
        if self.not_in_top is not None:
            parts.append(f"not in the top {self.not_in_top}")
        if self.max is not None:
            parts.append(f"{_subject('importance', self.use)} <= {self.max:g}")
        return f"{', '.join(self.features)}: {' and '.join(parts)} of the features"


Rule: TypeAlias = (MetricRule | SliceRule | FairnessRule | BaselineRule | ContractRule
                   | ExperimentRule | ImportanceRule)


def rule_dict(rule: Rule) -> dict[str, Any]:
    """The rule as YAML data with every default spelled out: what the sha256 covers."""
    out = {f.name: getattr(rule, f.name) for f in fields(rule) if f.name not in ("index", "line")}
    if isinstance(rule, SliceRule):
        out["per_slice"] = True
        out["columns"] = list(rule.columns) if rule.columns else None
    if isinstance(rule, FairnessRule):
        names = [" & ".join(f) for f in out.pop("features")]
        out["feature"] = names[0] if len(names) == 1 else names
    if isinstance(rule, ImportanceRule):
        out["importance"] = list(out.pop("features"))
    return {k: v for k, v in out.items() if v is not None}
