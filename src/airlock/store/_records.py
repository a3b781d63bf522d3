"""Plain, typed records that the store hands out (ORM rows never leave ``airlock.store``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

__all__ = [
    "ArtifactRecord",
    "DatasetInfo",
    "EventRecord",
    "MetricPoint",
    "ModelRecord",
    "RunRecord",
    "VersionRecord",
]


class Record:
    """Base of the store's frozen dataclass records: ``to_dict`` is their fields, and
    ``from_row`` builds one from a row (or any object) holding an attribute per field."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        return out

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


class Versioned(Record):
    """A record about one version of a named subject (``name@version``)."""

    __slots__ = ()
    name: str
    version: int

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def _jsonable_float(value: float | None) -> float | str | None:
    """JSON has no NaN/inf: spell them as strings so output stays valid JSON."""
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


@dataclass(frozen=True, slots=True)
class MetricPoint:
    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """A fingerprinted data snapshot: sha256 of its content, its schema and row count."""

    name: str
    digest: str
    schema: dict[str, str]
    rows: int
    uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    experiment: str
    name: str | None
    status: str
    start_time: int
    end_time: int | None
    error: str | None
    user: str
    command: str | None
    code: dict[str, Any]
    env: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["metrics"] = {k: _jsonable_float(v) for k, v in self.metrics.items()}
        return out


@dataclass(frozen=True, slots=True)
class VersionRecord(Versioned):
    name: str
    version: int
    flavor: str
    artifact_uri: str
    manifest: dict[str, Any]
    run_id: str | None
    description: str | None
    created_at: int
    created_by: str
    aliases: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["files"] = self.manifest.get("files", {})
        return out


@dataclass(frozen=True, slots=True)
class ModelRecord(Record):
    name: str
    description: str | None
    created_at: int
    updated_at: int
    latest_version: int | None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventRecord(Record):
    seq: int
    time: int
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
