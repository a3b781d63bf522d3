"""The options of one analysis: a frozen pydantic model (``analyze(**options)`` builds it)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airlock.errors import UsageError

from ._metrics import MetricSpec, parse_metric
from ._stats import DEFAULT_TUNING

__all__ = ["DEFAULT_METRICS", "ExperimentConfig", "Guardrail", "make_config"]

DEFAULT_METRICS = ("accuracy", "error_rate", "latency_p95")
_PCT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


class Guardrail(BaseModel):
    """A non-inferiority margin on one metric: the variant may be worse than the control by
    less than ``margin`` (in the metric's units; ``relative``: a share of the control's
    value). ``lower_is_better`` defaults to the metric's direction."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str
    margin: float = Field(ge=0)
    relative: bool = False
    lower_is_better: bool | None = None

    def spec(self) -> MetricSpec:
        return parse_metric(self.metric)

    def harm_lower(self) -> bool:
        return self.spec().lower_is_better if self.lower_is_better is None \
            else self.lower_is_better


class ExperimentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    variant: str = "route"
    metrics: tuple[str, ...] = DEFAULT_METRICS
    control: str | None = None
    expected_split: dict[str, float] | None = None
    sequential: bool = False
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    unit: str | None = None
    covariate: str | None = None
    guardrails: tuple[Guardrail, ...] = ()
    show_despite_srm: bool = False
    mde: float | None = Field(default=None, gt=0)
    power: float = Field(default=0.8, gt=0, lt=1)
    tuning: float = Field(default=DEFAULT_TUNING, gt=0)
    n_boot: int = Field(default=2000, ge=100, le=100_000)
    seed: int = 0
    time_column: str | None = None

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("give at least one metric")
        for name in v:
            parse_metric(name)
        return tuple(dict.fromkeys(m.strip() for m in v))

    @field_validator("expected_split")
    @classmethod
    def _split(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        if len(v) < 2 or any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("expected_split needs two or more variants with weights >= 0")
        return v

    def specs(self) -> list[MetricSpec]:
        names = list(self.metrics) + [g.metric for g in self.guardrails
                                      if g.metric not in self.metrics]
        return [parse_metric(n) for n in names]


def _guardrail(item: object) -> Guardrail:
    if isinstance(item, Guardrail):
        return item
    if isinstance(item, dict):
        return Guardrail(**item)
    raise UsageError(f"a guardrail is a Guardrail or a mapping, got {item!r:.60}")


def _guardrails(value: object) -> tuple[Guardrail, ...]:
    """``{"error_rate": 0.01, "latency_p95": "10%"}``, or Guardrail objects."""
    if value is None:
        return ()
    if isinstance(value, dict):
        out = []
        for metric, margin in value.items():
            if isinstance(margin, str) and (m := _PCT.fullmatch(margin)):
                out.append(Guardrail(metric=metric, margin=float(m.group(1)) / 100,
                                     relative=True))
            elif isinstance(margin, int | float) and not isinstance(margin, bool):
                out.append(Guardrail(metric=metric, margin=float(margin)))
            else:
                raise UsageError(f"guardrail {metric}: the margin must be a number or a "
                                 f"percentage such as '10%', got {margin!r}")
        return tuple(out)
    if isinstance(value, list | tuple):
        return tuple(_guardrail(g) for g in value)
    raise UsageError(f"guardrails must be a mapping of metric to margin, got {value!r:.60}")


def make_config(**options: object) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from keyword options; one UsageError naming each bad
    option."""
    if "guardrails" in options:
        options["guardrails"] = _guardrails(options["guardrails"])
    if isinstance(options.get("metrics"), str):
        options["metrics"] = (options["metrics"],)
    try:
        return ExperimentConfig(**options)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'options'}: "
                             f"{e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise UsageError(f"invalid experiment options: {problems}") from None
