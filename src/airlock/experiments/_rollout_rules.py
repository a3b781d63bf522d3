"""The rules of a progressive rollout: a frozen pydantic model of ``rollout.yaml``.

```yaml
alpha: 0.05                 # one-sided error of every guardrail and criterion test
min_requests: 50            # per variant in a window, before a step may advance
max_windows: 4              # inconclusive windows at one step before it rolls back
guardrails:                 # candidate minus control, in the window since the last step
  error_rate: {max_increase: 0.01}          # absolute (0.01 = one point)
  latency_p95: {max_increase_ms: 50}        # milliseconds
  guard_block_rate: {max_increase: 0.01}
  drift: {inputs: true, predictions: true, min_rows: 100, p_value: 0.001}
  srm: {p_value: 0.001}                     # sample ratio mismatch against the weights
success:                    # what the candidate must show before it gets more traffic
  accuracy: {max_decrease: 0.02, min_labelled: 50}        # on /v1/feedback labels
```

Every guardrail is a non-inferiority test with its margin: *breached* when the candidate is
worse than the control by more than the margin with confidence 1 - alpha (rolled back at
once), *passed* when it is worse by less than the margin with that confidence, else
*inconclusive*. ``error_rate`` and ``srm`` are on unless set to null; the others only when
given. Drift compares the candidate's rows in the window with the control's through
:class:`airlock.monitor.DriftMonitor` (``columns`` limits it) with two-sample tests (KS for
numeric columns, a chi-square test of homogeneity for categorical ones): it is breached when
a column's p-value is below ``p_value`` divided by the number of columns (Bonferroni), so
that the columns together, judged on every poll, do not roll a sound candidate back by
chance.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from airlock._yaml import load_config

__all__ = ["RolloutRules", "load_rollout_rules"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateMargin(_Frozen):
    max_increase: float = Field(ge=0, le=1)


class LatencyMargin(_Frozen):
    max_increase_ms: float = Field(ge=0)


class DriftRule(_Frozen):
    inputs: bool = True
    predictions: bool = True
    columns: list[str] | None = None  # default: every column the two variants share
    min_rows: int = Field(default=100, ge=5)
    p_value: float = Field(default=0.001, gt=0, lt=1)  # over all columns (Bonferroni)


class SrmRule(_Frozen):
    p_value: float = Field(default=0.001, gt=0, lt=1)


class AccuracyRule(_Frozen):
    max_decrease: float = Field(ge=0, le=1)
    min_labelled: int = Field(default=50, ge=1)


class Guardrails(_Frozen):
    error_rate: RateMargin | None = RateMargin(max_increase=0.01)
    latency_p95: LatencyMargin | None = None
    guard_block_rate: RateMargin | None = None
    drift: DriftRule | None = None
    srm: SrmRule | None = SrmRule()


class Success(_Frozen):
    accuracy: AccuracyRule | None = None


class RolloutRules(_Frozen):
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    min_requests: int = Field(default=50, ge=1)
    max_windows: int = Field(default=4, ge=1)
    guardrails: Guardrails = Guardrails()
    success: Success = Success()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def sha256(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def load_rollout_rules(source: str | Path | dict[str, Any] | RolloutRules | None
                       ) -> RolloutRules:
    """Read and check ``rollout.yaml`` (a path, YAML text or a mapping; None: the
    defaults): one UsageError naming every problem with its field and line."""
    if source is None:
        return RolloutRules()
    return load_config(source, RolloutRules, what="rollout rules",
                       expected="guardrails, success, alpha, min_requests, max_windows")
