"""The data contract: a typed model of the YAML file.

```yaml
name: adult-income-train          # required
version: 1                        # optional, an integer you bump on change
description: Census extract used to train adult-income
columns:
  age:
    type: int                     # int | float | string | bool | date | datetime | category
    nullable: false               # or max_null_fraction: 0.01
    min: 9                        # `contract infer` widens the observed range by 10% …
    max: 98
    observed: {min: 17, max: 90}  # … and records what it saw (information, never checked)
    description: age in years
  workclass:
    type: category
    allowed: [Private, Self-emp-not-inc, ...]
    max_null_fraction: 0.1
    severity: warn                # every check of this column only warns
  email:
    type: string
    regex: '^[^@\\s]+@[^@\\s]+$'
    min_length: 3
    max_length: 254
    pii: email                    # none | email | phone | name | address | national_id |
                                  # date_of_birth | free_text | ip_address | payment_card | other
  id:
    type: int
    unique: true
table:
  rows: {min: 1000, max: 100000000}
  unique: [[id], [email, signup_date]]          # compound keys
  freshness: {column: updated_at, max_age: 24h}  # optional `now: 2024-05-01T00:00:00`
  expressions:                                   # boolean SQL expressions, true for good rows
    - {name: adult_hours, sql: "hours_per_week BETWEEN 1 AND 99", severity: warn}
  distribution:                                  # against a stored reference dataset
    reference: reference.parquet
    max_psi: {age: 0.2, education: 0.25}
  target: income                                 # enables the leakage guard
  leakage: {max_auc: 0.99}
```

Checks default to severity ``error``; a column- or rule-level ``severity: warn`` reports
without failing the contract.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "PII_TAGS",
    "TYPES",
    "ColumnSpec",
    "ContractSpec",
    "Distribution",
    "Expression",
    "Freshness",
    "Leakage",
    "Observed",
    "RowBounds",
    "TableSpec",
]

TYPES = ("int", "float", "string", "bool", "date", "datetime", "category")
PII_TAGS = ("none", "email", "phone", "name", "address", "national_id", "date_of_birth",
            "free_text", "ip_address", "payment_card", "other")
Severity = Literal["error", "warn"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Observed(_Strict):
    """What ``contract infer`` saw, kept next to the widened bounds it set (never checked)."""

    min: float | str | None = None
    max: float | str | None = None
    min_length: int | None = None
    max_length: int | None = None


class ColumnSpec(_Strict):
    type: Literal["int", "float", "string", "bool", "date", "datetime", "category"]
    nullable: bool = True
    max_null_fraction: float | None = Field(None, ge=0.0, le=1.0)
    min: float | str | None = None
    max: float | str | None = None
    allowed: list[Any] | None = None
    regex: str | None = None
    unique: bool = False
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=0)
    pii: Literal["none", "email", "phone", "name", "address", "national_id", "date_of_birth",
                 "free_text", "ip_address", "payment_card", "other"] = "none"
    description: str | None = None
    severity: Severity = "error"
    observed: Observed | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regex {v!r}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and _greater(self.min, self.max):
            raise ValueError(f"min {self.min:g} is greater than max {self.max:g}"
                             if isinstance(self.min, float) and isinstance(self.max, float)
                             else f"min {self.min} is greater than max {self.max}")
        if (self.min_length is not None and self.max_length is not None
                and self.min_length > self.max_length):
            raise ValueError("min_length is greater than max_length")
        if self.type in ("bool",) and (self.min is not None or self.max is not None):
            raise ValueError("a bool column has no min or max")
        if (self.min_length is not None or self.max_length is not None or self.regex) and \
                self.type not in ("string", "category"):
            raise ValueError(f"length and regex checks apply to text, not {self.type}")
        return self


def _greater(a: float | str, b: float | str) -> bool:
    """min > max for numbers, or for ISO dates/times compared as text."""
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a > b
    return str(a) > str(b)


class RowBounds(_Strict):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    severity: Severity = "error"


class Freshness(_Strict):
    column: str
    max_age: str
    now: str | None = None
    severity: Severity = "error"

    @field_validator("max_age")
    @classmethod
    def _duration(cls, v: str) -> str:
        if not _DURATION.match(v):
            raise ValueError(f"max_age {v!r} is not a duration like 30m, 24h or 7d")
        return v

    @property
    def max_age_seconds(self) -> float:
        m = _DURATION.match(self.max_age)
        assert m is not None
        return float(m.group(1)) * _SECONDS[m.group(2)]


class Expression(_Strict):
    name: str
    sql: str
    severity: Severity = "error"


class Distribution(_Strict):
    reference: str
    max_psi: dict[str, float]
    bins: int = Field(10, ge=2, le=100)
    severity: Severity = "error"


class Leakage(_Strict):
    max_auc: float = Field(0.99, gt=0.5, le=1.0)
    severity: Severity = "error"


class TableSpec(_Strict):
    rows: RowBounds | None = None
    unique: list[list[str]] = Field(default_factory=list)
    freshness: Freshness | None = None
    expressions: list[Expression] = Field(default_factory=list)
    distribution: Distribution | None = None
    target: str | None = None
    leakage: Leakage | None = None


class ContractSpec(_Strict):
    name: str
    version: int | None = None
    description: str | None = None
    columns: dict[str, ColumnSpec]
    table: TableSpec = Field(default_factory=TableSpec)
