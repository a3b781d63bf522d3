"""What the contract pages show: each contract's stored validations over time, and the
failing checks of each with their examples (masked at validation time for PII-tagged
columns: the store never held the raw values).

Every validation is audited (``contract.validated`` on ``contracts/NAME``, in the same
transaction as the stored result), so the audit log is the index of validations; each
result is then read through the store's contract-result interface.
"""

from __future__ import annotations

from typing import Any

from airlock.errors import NotFound
from airlock.store import get_store

from ._data import int_arg

__all__ = ["MAX_VALIDATIONS", "contract_detail", "contract_list"]

MAX_VALIDATIONS = 1000
MATRIX_COLUMNS = 12  # validations shown side by side in the checks-over-time table


def _validations() -> dict[str, list[dict[str, Any]]]:
    """contract name → its validations from the audit log, oldest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in get_store().events.list(action="contract.validated"):
        name = e.subject.partition("/")[2]
        p = e.payload
        out.setdefault(name, []).append({
            "result": p.get("result"), "passed": bool(p.get("passed")), "time": e.time,
            "actor": e.actor, "dataset": p.get("dataset"), "run_id": p.get("run_id"),
            "evaluation": p.get("evaluation"), "seq": e.seq})
    return out


def contract_list() -> dict[str, Any]:
    """Every contract that was validated into the store: how often, the newest verdict."""
    rows = []
    for name, vals in sorted(_validations().items()):
        newest = vals[-1]
        rows.append({"name": name, "validations": len(vals),
                     "failed": sum(1 for v in vals if not v["passed"]),
                     "last_time": newest["time"], "last_passed": newest["passed"],
                     "last_result": newest["result"]})
    return {"contracts": rows}


def _check_key(ch: dict[str, Any]) -> str:
    return f"{ch.get('name')} {ch['column']}" if ch.get("column") else str(ch.get("name"))


def contract_detail(name: str, limit: int = 50) -> dict[str, Any]:
    """The newest ``limit`` validations of contract ``name`` (newest first): verdict, rows,
    data fingerprint, linked run or evaluation, and the failing checks with examples; and
    each check's outcome across the newest validations (the checks-over-time table)."""
    int_arg("limit", limit, 1, MAX_VALIDATIONS)
    vals = _validations().get(name)
    if not vals:
        raise NotFound(f"contract not found: {name} (no validation of it is stored)")
    store = get_store()
    shown = []
    for v in reversed(vals[-limit:]):
        stored = store.contracts.get(str(v["result"]))
        r = stored.get("result") or {}
        checks = list(r.get("checks") or [])
        shown.append({**v, "contract_sha256": stored.get("contract_sha256"),
                      "rows": r.get("rows"), "seconds": r.get("seconds"),
                      "dataset_info": r.get("dataset"), "checks": len(checks),
                      "failing": [c for c in checks if not c.get("passed")],
                      "outcomes": {_check_key(c): {"passed": bool(c.get("passed")),
                                                   "severity": c.get("severity"),
                                                   "failing_rows": c.get("failing_rows")}
                                   for c in checks}})
    keys = list(dict.fromkeys(k for v in shown[:MATRIX_COLUMNS] for k in v["outcomes"]))
    failing_first = sorted(keys, key=lambda k: (
        all(v["outcomes"].get(k, {}).get("passed", True) for v in shown[:MATRIX_COLUMNS]), k))
    return {"name": name, "total": len(vals), "limit": limit,
            "failed": sum(1 for v in vals if not v["passed"]), "validations": shown,
            "check_keys": failing_first}
