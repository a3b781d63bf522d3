"""What validation returns: one :class:`CheckResult` per check, gathered in a
:class:`ContractResult` whose ``to_dict()`` is the ``--json`` output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CheckResult", "ContractResult"]


@dataclass(frozen=True)
class CheckResult:
    """One check. ``failing_rows`` counts rows (or, for table checks, 1 when it failed);
    ``examples`` are up to ``max_examples`` failing values, masked for PII-tagged columns."""

    name: str  # e.g. "type", "not_null", "range", "allowed", "regex", "unique", "rows"
    column: str | None
    severity: str  # "error" | "warn"
    passed: bool
    failing_rows: int = 0
    failing_fraction: float = 0.0
    examples: list[Any] = field(default_factory=list)
    detail: str | None = None  # one line for a person: what was expected, what was found

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ContractResult:
    contract: str
    rows: int
    seconds: float
    checks: list[CheckResult]
    dataset: dict[str, Any] | None = None  # fingerprint of what was validated, when known

    @property
    def passed(self) -> bool:
        """True when no check of severity ``error`` failed (warnings never fail it)."""
        return all(c.passed or c.severity == "warn" for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"contract": self.contract, "passed": self.passed, "rows": self.rows,
                "seconds": self.seconds, "checks": [c.to_dict() for c in self.checks],
                "dataset": self.dataset}
