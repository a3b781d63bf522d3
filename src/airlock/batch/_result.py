"""Typed results of batch scoring: one fragment's outcome, a job's result, a job's status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchResult", "FragmentOutcome", "JobStatus"]


@dataclass(frozen=True, slots=True)
class FragmentOutcome:
    """What scoring one fragment did (a worker hands it to the driver, which records it)."""

    key: str
    status: str  # done | failed
    output: str | None = None
    rows: int = 0
    rejected: int = 0
    sha256: str | None = None
    rejects_sha256: str | None = None
    seconds: float = 0.0
    error: str | None = None
    profile: bytes | None = field(default=None, repr=False)
    log: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"fragment": self.key, "status": self.status, "output": self.output,
                "rows": self.rows, "rejected": self.rejected, "sha256": self.sha256,
                "rejects_sha256": self.rejects_sha256, "seconds": self.seconds,
                "error": self.error}


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What ``airlock.batch.score`` did. ``passed`` is False when a fragment failed or the
    reject rate exceeded ``max_reject_rate`` (the CLI exits 1)."""

    job_id: str
    run_id: str | None
    model: str
    model_sha256: str
    engine: str
    engine_version: str
    input: str
    output: str
    rows: int
    rejected: int
    done: int
    failed: int
    skipped: int
    seconds: float
    rows_per_s: float
    manifest_sha256: str
    max_reject_rate: float | None = None
    profile: str | None = None
    log_as: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    fragments: tuple[FragmentOutcome, ...] = ()

    @property
    def reject_rate(self) -> float:
        total = self.rows + self.rejected
        return self.rejected / total if total else 0.0

    @property
    def reject_rate_exceeded(self) -> bool:
        return self.max_reject_rate is not None and self.reject_rate > self.max_reject_rate

    @property
    def passed(self) -> bool:
        return self.failed == 0 and not self.reject_rate_exceeded

    @property
    def status(self) -> str:
        return "finished" if self.passed else "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "run_id": self.run_id, "rows": self.rows,
            "rejected": self.rejected,
            "fragments": {"done": self.done, "failed": self.failed, "skipped": self.skipped},
            "rows_per_s": self.rows_per_s, "output": self.output, "status": self.status,
            "passed": self.passed, "reject_rate": self.reject_rate,
            "max_reject_rate": self.max_reject_rate, "model": self.model,
            "model_sha256": self.model_sha256, "engine": self.engine,
            "engine_version": self.engine_version, "input": self.input,
            "seconds": self.seconds, "manifest_sha256": self.manifest_sha256,
            "profile": self.profile, "log_as": self.log_as, "errors": dict(self.errors),
        }


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A stored job as it stands (``airlock batch status``)."""

    job_id: str
    model: str
    model_sha256: str
    engine: str
    status: str
    input: str
    output: str
    run_id: str | None
    fragments: int
    done: int
    failed: int
    rows: int
    rejected: int
    rows_per_s: float | None
    created_at: int
    updated_at: int
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return max(self.fragments - self.done - self.failed, 0)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "model": self.model, "model_sha256": self.model_sha256,
                "engine": self.engine, "status": self.status, "input": self.input,
                "output": self.output, "run_id": self.run_id,
                "fragments": {"total": self.fragments, "done": self.done,
                              "pending": self.pending, "failed": self.failed},
                "rows": self.rows, "rejected": self.rejected, "rows_per_s": self.rows_per_s,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "errors": dict(self.errors)}
