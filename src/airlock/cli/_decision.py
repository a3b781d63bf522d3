"""The gate decision table (``airlock gate``, ``airlock eval --policy``): one row per rule,
and under every rule that failed, warned or has no value, the reason the decision records."""

from __future__ import annotations

from typing import Any

from ._common import Col, table
from ._table import fmt_value

__all__ = ["print_decision", "rule_reason"]


def print_decision(decision: dict[str, Any]) -> None:
    """Print a Decision's ``to_dict()`` as a table that fits the terminal."""
    rules = decision["rules"]
    table(f"gate: {'PASSED' if decision['passed'] else 'FAILED'}",
          [Col("#", priority=2), Col("rule", wrap=True), "value", "bound", "result"],
          [[r.get("index"), r.get("text"), r.get("value"), r.get("bound"), _result(r)]
           for r in rules],
          reasons=[rule_reason(r) for r in rules], empty="no rules")


def _result(r: dict[str, Any]) -> str:
    if r.get("passed"):
        return "pass"
    return "warn" if r.get("severity") == "warn" else "FAIL"


def rule_reason(r: dict[str, Any]) -> str | None:
    """Why a rule failed (or has no value), from its evidence; None for a plain pass."""
    ev = r.get("evidence") or {}
    if r.get("passed") and r.get("value") is not None:
        return str(ev["note"]) if ev.get("note") else None
    if ev.get("reason"):
        return str(ev["reason"])
    if ev.get("failing"):  # slice rules: the slices under their bound, worst first
        shown = [f"{s['column']}={s['value']}: {fmt_value(s.get('metric_value'))} "
                 f"(n={fmt_value(s.get('support'))})" for s in ev["failing"][:5]]
        more = f" and {len(ev['failing']) - 5} more" if len(ev["failing"]) > 5 else ""
        return "failing slices: " + "; ".join(shown) + more
    bad = [f for f in ev.get("features") or [] if not f.get("passed")]
    if bad:  # fairness rules: each feature outside its bound
        return "outside the bound: " + "; ".join(
            f"{f['feature']} {fmt_value(f.get('value'))}" for f in bad)
    if "worse_by" in ev:  # baseline rules
        return (f"worse than {ev.get('baseline_model') or 'the baseline'} by "
                f"{fmt_value(ev['worse_by'])} (max drop {fmt_value(ev.get('max_drop'))}, "
                f"p {fmt_value(ev.get('p_value'))})")
    if r.get("value") is not None and r.get("bound") is not None:
        side = "below" if r["value"] < r["bound"] else "above"
        return f"{fmt_value(r['value'])} is {side} the bound {fmt_value(r['bound'])}"
    return None
