"""The typed, serialisable result of an experiment analysis (it never renders itself:
:mod:`airlock.experiments._report` renders it, the CLI prints it).

``to_dict()`` is the JSON shape of ``airlock ab analyze --json``::

    {"srm": {"p_value", "flagged", "expected", "observed"},
     "variants": {name: {"units", metric: {"value", "ci_low", "ci_high"}}},
     "comparisons": [{"variant", "control", "metric", "lift", "lift_ci_low",
                      "lift_ci_high", "relative_lift", "p_value", "significant", "method"}],
     ...}

plus what it was computed with (``control``, ``alpha``, ``sequential``, ``method``,
``cuped``, ``guardrails``, ``window``, ``versions``, ``timeline``, ``notes``). A value that
could not be computed is null and comes with a ``reason``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Comparison", "Estimate", "ExperimentResult", "GuardrailOutcome", "Srm",
           "VariantSummary", "clean"]


def clean(x: Any) -> Any:
    """JSON-ready numbers: NaN and inf become None, numpy scalars plain Python."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str | bytes):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@dataclass(frozen=True)
class Srm:
    p_value: float
    flagged: bool
    expected: dict[str, float]
    observed: dict[str, int]
    threshold: float = 0.001


@dataclass(frozen=True)
class Estimate:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class VariantSummary:
    units: int
    metrics: dict[str, Estimate]
    versions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"units": self.units}
        for name, est in self.metrics.items():
            d = asdict(est)
            if d["reason"] is None:
                del d["reason"]
            out[name] = d
        if self.versions:
            out["versions"] = dict(self.versions)
        return out


@dataclass(frozen=True)
class GuardrailOutcome:
    """A non-inferiority test: the harm (in the metric's units) is below ``margin``."""

    margin: float
    lower_is_better: bool
    p_value: float | None
    bound: float | None
    non_inferior: bool | None
    breached: bool | None


@dataclass(frozen=True)
class Comparison:
    variant: str
    control: str
    metric: str
    lift: float | None
    lift_ci_low: float | None
    lift_ci_high: float | None
    relative_lift: float | None
    relative_ci_low: float | None
    relative_ci_high: float | None
    p_value: float | None
    significant: bool | None
    method: str
    p_value_raw: float | None = None
    needed_per_variant: int | None = None
    guardrail: GuardrailOutcome | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ExperimentResult:
    srm: Srm
    variants: dict[str, VariantSummary]
    comparisons: list[Comparison]
    control: str
    alpha: float
    sequential: bool
    method: dict[str, Any]
    unit: str
    cuped: dict[str, Any] | None = None
    endpoint: str | None = None
    window: dict[str, Any] | None = None
    config_hash: str | None = None
    timeline: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    srm_withheld: bool = False

    @property
    def guardrail_breached(self) -> bool:
        return any(c.guardrail is not None and c.guardrail.breached for c in self.comparisons)

    def comparison(self, metric: str, variant: str | None = None) -> Comparison:
        """The comparison of ``metric`` (of ``variant``; the first non-control by default)."""
        for c in self.comparisons:
            if c.metric == metric and (variant is None or c.variant == variant):
                return c
        raise KeyError(f"no comparison of {metric!r}"
                       + (f" for variant {variant!r}" if variant else ""))

    def to_dict(self) -> dict[str, Any]:
        comps = []
        for c in self.comparisons:
            d = asdict(c)
            if d["reason"] is None:
                del d["reason"]
            comps.append(d)
        out: dict[str, Any] = clean({
            "srm": asdict(self.srm),
            "variants": {k: v.to_dict() for k, v in self.variants.items()},
            "comparisons": comps,
            "control": self.control, "alpha": self.alpha, "sequential": self.sequential,
            "method": self.method, "unit": self.unit, "cuped": self.cuped,
            "guardrail_breached": self.guardrail_breached,
            "srm_withheld": self.srm_withheld,
            "endpoint": self.endpoint, "window": self.window,
            "config_hash": self.config_hash, "timeline": self.timeline,
            "notes": list(self.notes),
        })
        return out
