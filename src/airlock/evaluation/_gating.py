"""Which slices a gate decision gated, as the decision recorded it: the one reading the
evaluation page, the model card and the CLI summary share, so none of them says "not gated"
about a slice a policy's ``min_support`` did gate (issue 12 item 15).

A slice rule's outcome (``decision["rules"][i]`` of kind ``slice``) carries in its evidence
the ``columns`` it read, the ``min_support`` it used (None: the evaluation's own flag), the
slices it ``skipped`` for low support and the ``failing`` ones. Decisions stored before the
evidence named ``columns`` and ``min_support`` are read from the rule's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.report import fmt

__all__ = ["SliceGate", "rules_text", "slice_gates", "slice_note", "slice_support"]

_COLUMNS = re.compile(r" in every slice of (.+?) (?:with support|not flagged)")
_SUPPORT = re.compile(r"with support >= (\d+)")


@dataclass(frozen=True)
class SliceGate:
    """One slice rule of one decision."""

    rule: int
    text: str
    policy: str | None
    columns: tuple[str, ...] | None  # None: every slice column of the evaluation
    min_support: int | None  # None: the evaluation's own low-support flag
    skipped: frozenset[tuple[str, str]] = frozenset()
    failing: dict[tuple[str, str], Any] = field(default_factory=dict)

    def covers(self, column: str) -> bool:
        return self.columns is None or column in self.columns

    def gated(self, column: str, value: str) -> bool:
        """The rule compared this slice with its bound."""
        return self.covers(column) and (column, value) not in self.skipped

    @property
    def name(self) -> str:
        where = f"policy {self.policy} " if self.policy else ""
        return f"{where}rule {self.rule}"

    @property
    def support_text(self) -> str:
        return ("the evaluation's low-support flag" if self.min_support is None
                else f"min support {self.min_support}")


def _pairs(rows: Any) -> list[tuple[tuple[str, str], Any]]:
    out = []
    for r in rows or []:
        if isinstance(r, Mapping):
            out.append(((str(r.get("column")), str(r.get("value"))), r.get("metric_value")))
    return out


def slice_gates(decision: Mapping[str, Any] | None,
                policy: str | None = None) -> list[SliceGate]:
    """The slice rules of ``decision`` (a Decision's ``to_dict()``), in rule order."""
    if not isinstance(decision, Mapping):
        return []
    if policy is None:
        named = decision.get("policy")
        policy = named.get("name") if isinstance(named, Mapping) else None
    out = []
    for r in decision.get("rules") or []:
        if not isinstance(r, Mapping) or r.get("kind") != "slice":
            continue
        raw = r.get("evidence")
        ev: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        text = str(r.get("text") or "")
        columns = ev.get("columns")
        if columns is None and (m := _COLUMNS.search(text)):
            columns = [c.strip() for c in m.group(1).split(",")]
        support = ev.get("min_support")
        if "min_support" not in ev and (found := _SUPPORT.search(text)):
            support = int(found.group(1))
        out.append(SliceGate(
            rule=int(r.get("index") or 0), text=text, policy=policy,
            columns=None if columns is None else tuple(str(c) for c in columns),
            min_support=None if support is None else int(support),
            skipped=frozenset(k for k, _ in _pairs(ev.get("skipped"))),
            failing=dict(_pairs(ev.get("failing")))))
    return out


def slice_support(cell: Mapping[str, Any], column: str, value: str,
                  gates: Iterable[SliceGate]) -> tuple[str, list[SliceGate]]:
    """What the support of one slice meant, with the rules concerned:

    - ``"gated"``: flagged by the evaluation for low support, yet gated by these rules
      (their ``min_support`` is lower);
    - ``"reported"``: flagged and gated by no rule (reported, not gated);
    - ``"skipped"``: not flagged, but these rules skipped it (their ``min_support`` is higher);
    - ``""``: nothing to say."""
    relevant = [g for g in gates if g.covers(column)]
    gated = [g for g in relevant if g.gated(column, value)]
    if cell.get("flagged"):
        return ("gated", gated) if gated else ("reported", [])
    skipped = [g for g in relevant if not g.gated(column, value)]
    return ("skipped", skipped) if skipped else ("", [])


def rules_text(gates: Iterable[SliceGate]) -> str:
    return "; ".join(f"{g.name} ({g.support_text})" for g in gates)


def slice_note(cell: Mapping[str, Any], column: str, value: str,
               gates: Iterable[SliceGate], min_support: Any) -> str:
    """:func:`slice_support` as one sentence for a person (empty when nothing to say)."""
    state, rules = slice_support(cell, column, value, gates)
    rows = fmt(cell.get("support"))
    if state == "gated":
        return (f"{rows} rows, gated by {rules_text(rules)}; the evaluation flags slices "
                f"under {fmt(min_support)} rows")
    if state == "reported":
        return (f"{rows} rows, under the minimum support of {fmt(min_support)} "
                "(reported, not gated)")
    if state == "skipped":
        return f"{rows} rows, not gated by {rules_text(rules)}"
    return ""
