"""Guardrails on an endpoint: a guard policy checks the text columns of every request before
the model sees them, and of every answer before the client does.

Input: a blocking finding answers 403 with the policy's reason (the request never reaches a
model); a redacting one replaces the text with its redacted form, so neither the model nor
the prediction log sees the raw value. Output: leaks are redacted; a blocked answer is
replaced by the policy's fallback message and flagged in ``X-Airlock-Guard``.

Each part of a request is checked at its stage of the input policy: the text columns at
``input``; the ``messages`` column (``guard.messages``, a JSON array of ``{role, content}``
per row) with ``Guard.check_messages`` (user turns at ``input``, tool results and documents
at ``context``, the user turns joined for attacks spread over turns); the ``context``
columns (``guard.context``: retrieved documents) at ``context`` (indirect injection). A
messages value that is not such an array answers 422.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import pyarrow as pa

from airlock.errors import GuardBlocked

from ._config import GuardConfig

__all__ = ["GuardBlocked", "guard_hooks"]

FALLBACK = "The answer was withheld by the endpoint's output policy."


MSG_BAD_MESSAGES = ("column {name!r} row {row}: expected a JSON array of {{role, content}} "
                    "objects ({fault})")


def _text_columns(table: pa.Table, wanted: list[str] | None, skip: set[str]) -> list[str]:
    if wanted is not None:
        return [c for c in wanted if c in table.column_names and c not in skip]
    return [f.name for f in table.schema if f.name not in skip and _is_text(f.type)]


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _apply(guard: Any, table: pa.Table, config: GuardConfig | None, stage: str) -> pa.Table:
    """Check ``table`` at ``stage``; at the input stage ``config`` names the messages and
    context columns (the output stage checks every text column)."""
    skip: set[str] = set()
    if config is not None:
        skip = {c for c in (config.messages, *config.context) if c is not None}
        if config.messages is not None and config.messages in table.column_names:
            table = _messages(guard, table, config.messages)
        for name in config.context:
            if name in table.column_names and _is_text(table.schema.field(name).type):
                table = _column(guard, table, name, "context")
    for name in _text_columns(table, config.columns if config is not None else None, skip):
        table = _column(guard, table, name, stage)
    return table


def _column(guard: Any, table: pa.Table, name: str, stage: str) -> pa.Table:
    values = table.column(name).to_pylist()
    verdicts = guard.check_batch(["" if v is None else str(v) for v in values], stage=stage)
    blocked = [v for v in verdicts if not v.allowed]
    if blocked and stage != "output":
        reason = "; ".join(blocked[0].reasons) or "blocked by policy"
        redacted = _replace(table, name, [None if old is None else v.redacted
                                          for old, v in zip(values, verdicts, strict=True)])
        _block(blocked[0].message, name, reason, redacted)
    new = [None if old is None else (v.message or FALLBACK) if not v.allowed
           else v.redacted for old, v in zip(values, verdicts, strict=True)]
    if new != values:
        table = _replace(table, name, new)
    return table


def _messages(guard: Any, table: pa.Table, name: str) -> pa.Table:
    from airlock.errors import InvalidInput

    values = table.column(name).to_pylist()
    new: list[Any] = []
    first_blocked: Any = None
    for row, value in enumerate(values):
        if value is None:
            new.append(None)
            continue
        try:
            messages = json.loads(value) if isinstance(value, str) else value
            verdict = guard.check_messages(messages)
        except (ValueError, InvalidInput) as exc:
            fault = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise InvalidInput(MSG_BAD_MESSAGES.format(name=name, row=row, fault=fault)) \
                from None
        if not verdict.allowed and first_blocked is None:
            first_blocked = verdict
        new.append(json.dumps(list(verdict.redacted_messages), ensure_ascii=False))
    table = _replace(table, name, new) if new != values else table
    if first_blocked is not None:
        reason = "; ".join(first_blocked.reasons) or "blocked by policy"
        _block(first_blocked.message, name, reason, table)
    return table


def _block(message: str | None, name: str, reason: str, redacted: pa.Table) -> NoReturn:
    message = message or "the request was blocked by the input policy"
    raise GuardBlocked(f"{message} (column {name!r}: {reason})", redacted)


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
        inputs.append(lambda t: _apply(g_in, t, config, "input"))
    if config.output is not None:
        g_out = Guard(config.output)
        outputs.append(lambda t: _apply(g_out, t, None, "output"))
    return inputs, outputs
