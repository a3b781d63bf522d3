"""The small value types every guard module shares: Finding, the type names, actions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = ["ACTIONS", "CAPPED", "INJECTION_TYPES", "LEAK_TYPES", "MAX_FINDINGS",
           "MSG_UNKNOWN_STAGE", "PII_TYPES", "SECRET_TYPES", "STAGES", "Action", "Finding",
           "Stage", "cap_findings", "underlying_type"]

Stage = Literal["input", "output", "context"]
Action = Literal["block", "redact", "flag"]
STAGES: tuple[Stage, ...] = ("input", "output", "context")
MSG_UNKNOWN_STAGE = "unknown stage {stage!r} (expected input, output or context)"
ACTIONS: tuple[Action, ...] = ("block", "redact", "flag")

PII_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS",
             "URL_CREDENTIALS", "SECRET", "DATE_OF_BIRTH")
SECRET_TYPES = frozenset({"SECRET", "URL_CREDENTIALS"})
INJECTION_TYPES = ("PROMPT_INJECTION", "JAILBREAK", "SYSTEM_PROMPT_EXTRACTION", "TOOL_HIJACK",
                   "INDIRECT_INJECTION")
LEAK_TYPES = frozenset({"PII_LEAK", "SECRET_LEAK"})
# findings listed per text and per detector; the rest become one CAPPED finding (see cap_findings)
MAX_FINDINGS = 1_000
CAPPED = "TOO_MANY_FINDINGS"


@dataclass(frozen=True)
class Finding:
    """One thing a detector found: its type, the span ``[start, end)`` in the original text,
    a score in [0, 1], the detector that found it and the action the policy attaches.

    At the output stage PII is reported as ``PII_LEAK`` / ``SECRET_LEAK`` with the detector
    naming the underlying type (``pii.EMAIL``)."""

    type: str
    start: int
    end: int
    score: float
    detector: str
    action: str = "flag"

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "start": self.start, "end": self.end,
                "score": round(self.score, 4), "detector": self.detector,
                "action": self.action}


def underlying_type(finding: Finding) -> str:
    """``EMAIL`` for an ``EMAIL`` finding and for a ``PII_LEAK`` found by ``pii.EMAIL``."""
    if finding.type in LEAK_TYPES and finding.detector.startswith("pii."):
        return finding.detector.split(".")[1]
    return finding.type


def cap_findings(findings: list[Finding], limit: int = MAX_FINDINGS) -> list[Finding]:
    """At most ``limit`` findings, the first by position, plus one ``TOO_MANY_FINDINGS``
    finding per action of the rest, spanning from the first to the last of them (so a
    ``redact`` rest is redacted as one block, a ``block`` rest still blocks). Sorted."""
    ordered = sorted(findings, key=lambda f: (f.start, f.end, f.type))
    if len(ordered) <= limit:
        return ordered
    head, tail = ordered[:limit], ordered[limit:]
    for act in dict.fromkeys(f.action for f in tail):
        rest = [f for f in tail if f.action == act]
        head.append(Finding(CAPPED, rest[0].start, max(f.end for f in rest), 1.0,
                            f"max_findings.{sum(map(folded_count, rest))}", act))
    head.sort(key=lambda f: (f.start, f.end, f.type))
    return head


def folded_count(finding: Finding) -> int:
    """How many findings ``finding`` stands for (more than one for a CAPPED finding)."""
    if finding.type == CAPPED:
        return int(finding.detector.rsplit(".", 1)[1])
    return 1
