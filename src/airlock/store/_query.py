"""The run search language: ``metrics.val_auc > 0.9 and params.max_depth = 6``.

Clauses are joined by ``and``. Each is ``ENTITY.KEY OP VALUE`` where ENTITY is ``metrics``,
``params``, ``tags`` or ``attributes`` (``status``, ``name``, ``start_time``, ``end_time``,
``user``); a KEY with spaces or dots goes in backquotes. Metrics compare as numbers
(``= != < <= > >=``); params, tags and attributes as strings (``= != like``), except the
time attributes, which compare as numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from airlock.errors import UsageError

__all__ = ["Clause", "OrderBy", "parse_filter", "parse_order_by"]

ENTITIES = {
    "metric": "metrics", "metrics": "metrics", "param": "params", "params": "params",
    "tag": "tags", "tags": "tags", "attribute": "attributes", "attributes": "attributes",
    "attr": "attributes",
}
ATTRIBUTES = {"status", "name", "start_time", "end_time", "user", "id"}
NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
NUMERIC_OPS = {"=", "==", "!=", "<", "<=", ">", ">="}
STRING_OPS = {"=", "==", "!=", "like"}

@dataclass(frozen=True, slots=True)
class Clause:
    entity: str  # metrics | params | tags | attributes
    key: str
    op: str
    value: float | str


@dataclass(frozen=True, slots=True)
class OrderBy:
    entity: str
    key: str
    descending: bool


def _split_and(text: str) -> list[str]:
    parts = re.split(r"\s+and\s+(?=(?:[^'\"]|'[^']*'|\"[^\"]*\")*$)", text.strip(), flags=re.I)
    return [p for p in parts if p.strip()]


def parse_filter(text: str | None) -> list[Clause]:
    """Parse a filter string; raises UsageError naming the clause that cannot be read."""
    if text is None or not text.strip():
        return []
    return [_parse_clause(part) for part in _split_and(text)]


def _parse_clause(part: str) -> Clause:
    m = re.fullmatch(
        r"\s*([A-Za-z_]+)\.(`[^`]+`|[\w\-/:]+)\s*(<=|>=|!=|==|=|<|>|(?i:like))\s*(.+?)\s*",
        part,
    )
    if m is None:
        raise UsageError(
            f"cannot read filter clause {part.strip()!r}: expected ENTITY.KEY OP VALUE, "
            "e.g. metrics.val_auc > 0.9"
        )
    ident, key, op, raw = m.groups()
    entity = ENTITIES.get(ident.lower())
    if entity is None:
        raise UsageError(
            f"unknown filter entity {ident!r} in {part.strip()!r}: use metrics, params, tags "
            "or attributes"
        )
    key = key.strip("`")
    op = "=" if op == "==" else op.lower()
    value = _unquote(raw)
    numeric = entity == "metrics" or (entity == "attributes" and key in NUMERIC_ATTRIBUTES)
    if entity == "attributes" and key not in ATTRIBUTES:
        raise UsageError(f"unknown run attribute {key!r}: use one of {sorted(ATTRIBUTES)}")
    if numeric:
        if op not in NUMERIC_OPS:
            raise UsageError(f"operator {op!r} does not apply to {entity}.{key}")
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"{entity}.{key} compares with a number, not {value!r}") from None
        if math.isnan(number):  # NaN orders differently per backend; it never compares true
            raise UsageError(f"{entity}.{key} cannot be compared with NaN")
        return Clause(entity, key, op, number)
    if op not in STRING_OPS:
        raise UsageError(f"operator {op!r} does not apply to {entity}.{key}: use =, != or like")
    return Clause(entity, key, op, value)


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def parse_order_by(text: str | None) -> OrderBy | None:
    if text is None or not text.strip():
        return None
    m = re.fullmatch(r"\s*([A-Za-z_]+)\.(`[^`]+`|[\w\-/:]+)(?:\s+(asc|desc))?\s*", text, re.I)
    if m is None or ENTITIES.get(m.group(1).lower()) is None:
        raise UsageError(f"cannot read order-by {text!r}: expected e.g. metrics.val_auc DESC")
    entity = ENTITIES[m.group(1).lower()]
    key = m.group(2).strip("`")
    if entity == "attributes" and key not in ATTRIBUTES:
        raise UsageError(f"unknown run attribute {key!r}: use one of {sorted(ATTRIBUTES)}")
    direction = (m.group(3) or "asc").lower()
    return OrderBy(entity, key, direction == "desc")
