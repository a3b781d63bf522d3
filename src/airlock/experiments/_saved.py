"""Experiment results kept in the store (with their audit event), and read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airlock.errors import UsageError

from ._result import ExperimentResult

__all__ = ["MSG_NO_ENDPOINT", "get_experiment", "latest_experiment", "save_experiment"]

MSG_NO_ENDPOINT = "an experiment result is stored under its endpoint: pass endpoint="


def _ms(iso: str | None) -> int | None:
    return None if iso is None else int(datetime.fromisoformat(iso).timestamp() * 1000)


def save_experiment(result: ExperimentResult, *, endpoint: str | None = None) -> Any:
    """Store ``result`` (an audit event ``experiment.analyzed`` on ``endpoints/NAME``);
    returns the :class:`~airlock.store.ExperimentRecord`."""
    from airlock.store import get_store

    name = endpoint or result.endpoint
    if not name:
        raise UsageError(MSG_NO_ENDPOINT)
    window = result.window or {}
    versions = {v: dict(s.versions) for v, s in result.variants.items()}
    return get_store().experiments.save(
        endpoint=name, result=result.to_dict(), config_hash=result.config_hash,
        since=_ms(window.get("since")), until=_ms(window.get("until")),
        control=result.control, versions=versions)


def get_experiment(result_id: str) -> Any:
    from airlock.store import get_store

    return get_store().experiments.get(result_id)


def latest_experiment(endpoint: str) -> Any:
    """The endpoint's newest stored analysis, or None."""
    from airlock.store import get_store

    rows = get_store().experiments.latest(endpoint, limit=1)
    return rows[0] if rows else None
