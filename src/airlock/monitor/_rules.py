"""Alert rules: a YAML file read into frozen pydantic models (unknown keys are errors).

::

    endpoint: adult-income        # default endpoint of every rule
    window: 15m                   # default window: the last 15 minutes of the log
    notify:
      webhook: {url: "https://hooks.example.com/airlock", timeout: 5, retries: 2}
      log: true
      audit: true                 # firing / resolved into the audit log (default)
    rules:
      - {name: p95-latency, kind: latency, percentile: 95, threshold_ms: 250}
      - {name: errors, kind: error_rate, threshold: 0.02, min_requests: 20}
      - {name: stale-log, kind: freshness, max_age: 10m}
      - {name: age-nulls, kind: null_rate, column: age, threshold: 0.05}
      - {name: drift, kind: drift_share, reference: ref.profile, threshold: 0.3}
      - {name: age-psi, kind: column_drift, reference: ref.profile, column: age,
         statistic: psi, threshold: 0.2}
      - {name: accuracy, kind: performance, metric: accuracy, min: 0.8, min_labels: 50}

A rule is breached when its value is at or above ``threshold`` (``threshold_ms``; for
freshness: the newest row is at least ``max_age`` old), or for ``performance`` below ``min``
(or above ``max``, for a loss). Errors are one :class:`UsageError` listing every problem with
its field path and line, e.g. ``rules[0]: unknown key 'threshold' (line 3); did you mean
'threshold_ms'?``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airlock._yaml import load_config
from airlock.errors import UsageError

from ._logscan import parse_duration
from ._metrics import PERFORMANCE_METRICS

__all__ = ["AlertRules", "Rule", "WebhookConfig", "load_rules"]

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookConfig(_Frozen):
    url: str
    timeout: float = Field(5.0, gt=0, le=300)
    retries: int = Field(2, ge=0, le=10)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v


class NotifyConfig(_Frozen):
    webhook: WebhookConfig | None = None
    log: bool = True
    audit: bool = True  # each firing / resolved is an event in the store's audit log


def _duration(v: Any) -> str:
    try:
        parse_duration(v)
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    return str(v)


class _Rule(_Frozen):
    name: str = Field(pattern=NAME)
    endpoint: str | None = Field(None, pattern=NAME)
    window: str | None = None

    @field_validator("window", mode="before")
    @classmethod
    def _window_ok(cls, v: Any) -> str | None:
        return None if v is None else _duration(v)

    @property
    def threshold_value(self) -> float:
        raise NotImplementedError

    def breached(self, value: float) -> bool:
        return value >= self.threshold_value


class _AtLeast(_Rule):
    """Breached when the value is at or above ``threshold``."""

    threshold: float = Field(ge=0)

    @property
    def threshold_value(self) -> float:
        return self.threshold


class DriftShareRule(_AtLeast):
    kind: Literal["drift_share"]
    reference: str
    threshold: float = Field(ge=0, le=1)
    columns: list[str] | None = None


class ColumnDriftRule(_AtLeast):
    kind: Literal["column_drift"]
    reference: str
    column: str
    statistic: str | None = None
    threshold: float = Field(ge=0)

    @field_validator("statistic")
    @classmethod
    def _method(cls, v: str | None) -> str | None:
        from ._columns import METHODS

        if v is not None and v not in METHODS:
            raise ValueError(f"unknown statistic {v!r}; use one of {', '.join(sorted(METHODS))}")
        return v


class NullRateRule(_AtLeast):
    kind: Literal["null_rate"]
    column: str
    threshold: float = Field(ge=0, le=1)


class FreshnessRule(_Rule):
    kind: Literal["freshness"]
    max_age: str

    @field_validator("max_age", mode="before")
    @classmethod
    def _max_age_ok(cls, v: Any) -> str:
        return _duration(v)

    @property
    def threshold_value(self) -> float:
        return parse_duration(self.max_age).total_seconds()


class LatencyRule(_Rule):
    kind: Literal["latency"]
    percentile: float = Field(95.0, gt=0, le=100)
    threshold_ms: float = Field(gt=0)
    min_requests: int = Field(1, ge=1)

    @property
    def threshold_value(self) -> float:
        return self.threshold_ms


class ErrorRateRule(_AtLeast):
    kind: Literal["error_rate"]
    threshold: float = Field(ge=0, le=1)
    min_requests: int = Field(1, ge=1)


class PerformanceRule(_Rule):
    kind: Literal["performance"]
    metric: Literal[PERFORMANCE_METRICS]  # type: ignore[valid-type]
    min: float | None = None
    max: float | None = None
    min_labels: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _one_bound(self) -> PerformanceRule:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of 'min' (breached below it) or 'max' "
                             "(breached above it)")
        return self

    @property
    def threshold_value(self) -> float:
        return float(self.min if self.min is not None else self.max)  # type: ignore[arg-type]

    def breached(self, value: float) -> bool:
        return value < self.min if self.min is not None else value > self.threshold_value


Rule = Annotated[DriftShareRule | ColumnDriftRule | NullRateRule | FreshnessRule | LatencyRule
                 | ErrorRateRule | PerformanceRule, Field(discriminator="kind")]


class AlertRules(_Frozen):
    endpoint: str | None = Field(None, pattern=NAME)
    window: str = "1h"
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    rules: list[Rule] = Field(min_length=1)

    @field_validator("window", mode="before")
    @classmethod
    def _window_ok(cls, v: Any) -> str:
        return _duration(v)

    @model_validator(mode="after")
    def _check(self) -> AlertRules:
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                raise ValueError(f"rules[{i}]: the rule name {rule.name!r} is used twice")
            seen.add(rule.name)
            if rule.endpoint is None and self.endpoint is None:
                raise ValueError(f"rules[{i}] ({rule.name}): no endpoint; set 'endpoint' on "
                                 "the rule or at the top of the file")
        return self

    def endpoint_of(self, rule: Any) -> str:
        return str(rule.endpoint or self.endpoint)

    def window_of(self, rule: Any) -> str:
        return str(rule.window or self.window)


def load_rules(source: str | Path | dict[str, Any] | AlertRules) -> AlertRules:
    """Alert rules from a YAML file, YAML text or an already-parsed mapping; every problem
    is listed with its field path, line and did-you-mean (:mod:`airlock._yaml`)."""
    return load_config(source, AlertRules, what="alert rules")
