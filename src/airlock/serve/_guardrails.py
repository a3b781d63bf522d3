"""Guardrails on an endpoint: a guard policy checks the text columns of every request before
the model sees them, and of every answer before the client does.

Input: a blocking finding answers 403 with the policy's reason (the request never reaches a
model); a redacting one replaces the text with its redacted form, so neither the model nor
the prediction log sees the raw value. Output: leaks are redacted; a blocked answer is
replaced by the policy's fallback message and flagged in ``X-Airlock-Guard``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from airlock.errors import GuardBlocked

from ._config import GuardConfig

__all__ = ["GuardBlocked", "guard_hooks"]

FALLBACK = "The answer was withheld by the endpoint's output policy."


def _text_columns(table: pa.Table, wanted: list[str] | None) -> list[str]:
    if wanted is not None:
        return [c for c in wanted if c in table.column_names]
    return [f.name for f in table.schema
            if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def _apply(guard: Any, table: pa.Table, columns: list[str] | None, stage: str) -> pa.Table:
    for name in _text_columns(table, columns):
        values = table.column(name).to_pylist()
        verdicts = guard.check_batch(["" if v is None else str(v) for v in values], stage=stage)
        blocked = [v for v in verdicts if not v.allowed]
        if blocked and stage == "input":
            reason = "; ".join(blocked[0].reasons) or "blocked by policy"
            message = blocked[0].message or "the request was blocked by the input policy"
            redacted = _replace(table, name, [None if old is None else v.redacted
                                              for old, v in zip(values, verdicts, strict=True)])
            raise GuardBlocked(f"{message} (column {name!r}: {reason})", redacted)
        new = [None if old is None else (v.message or FALLBACK) if not v.allowed
               else v.redacted for old, v in zip(values, verdicts, strict=True)]
        if new != values:
            table = _replace(table, name, new)
    return table


def _replace(table: pa.Table, name: str, values: list[Any]) -> pa.Table:
    i = table.column_names.index(name)
    return table.set_column(i, name, pa.array(values, type=pa.string()))


def guard_hooks(config: GuardConfig) -> tuple[list[Any], list[Any]]:
    """The endpoint's input and output hooks for ``config`` (none when it names no policy)."""
    if config.input is None and config.output is None:
        return [], []
    from airlock.guard import Guard

    inputs, outputs = [], []
    if config.input is not None:
        g_in = Guard(config.input)
        inputs.append(lambda t: _apply(g_in, t, config.columns, "input"))
    if config.output is not None:
        g_out = Guard(config.output)
        outputs.append(lambda t: _apply(g_out, t, None, "output"))
    return inputs, outputs
