"""Prediction-log records of the answers no model gave with a 200: requests rejected before
scoring (4xx), guard blocks (403), model failures and timeouts (5xx), and failed shadows.

Every answered request is evidence, so each becomes a record with its status, the error's
class and message and its latency; its inputs when they could be parsed (the log's redactor
applies to them as to any other row), and its outputs when a guard replaced them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from typing import Any

import pyarrow as pa

from airlock.errors import AirlockError
from airlock.predlog import make_records

from ._guardrails import GuardBlocked
from ._payload import Pending

__all__ = ["failure_records", "settle"]

log = logging.getLogger("airlock.serve")


def _inputs(item: Pending | None, exc: Exception) -> pa.Table | None:
    if isinstance(exc, GuardBlocked):
        return exc.redacted
    if item is None:
        return None
    try:
        table = item.table()
    except Exception:  # the rows themselves are what could not be parsed
        return None
    return table if table.num_rows else None


def failure_records(exc: Exception, *, endpoint: str, request_id: str, ts_ms: int,
                    started: float, route: str, model: str, version: int | None,
                    item: Pending | None = None) -> pa.Table:
    """The log rows of a request answered with ``exc`` (one per parsed input row, else one)."""
    status = exc.http_status if isinstance(exc, AirlockError) else 500
    message = exc.message if isinstance(exc, AirlockError) else type(exc).__name__
    inputs = _inputs(item, exc)
    outputs = None
    if isinstance(exc, GuardBlocked):
        n = exc.redacted.num_rows
        outputs = pa.table({"blocked": pa.array([exc.message] * n, pa.string())})
    return make_records(
        request_id=request_id, ts_ms=ts_ms, endpoint=endpoint, route=route, model=model,
        version=version, status=status, latency_ms=(time.perf_counter() - started) * 1000,
        inputs=inputs, outputs=outputs, error_code=type(exc).__name__, error=message)


async def settle(plog: Any, records: pa.Table, *, wait: bool) -> None:
    """Append an error answer's records. A record that cannot be written never replaces the
    answer's own error: it is noted in the server log (``wait`` waits until durable)."""
    try:
        future: Future[None] = plog.append(records)
    except AirlockError as exc:
        log.warning("prediction log: an error answer was not logged: %s", exc)
        return
    if not wait:
        future.add_done_callback(_note_failure)
        return
    try:
        await asyncio.wrap_future(future)
    except AirlockError as exc:
        log.warning("prediction log: an error answer was not logged: %s", exc)


def _note_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning("prediction log: an error answer was not logged: %s", exc)
