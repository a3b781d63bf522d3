"""Where the current store keeps its prediction logs."""

from __future__ import annotations

from pathlib import Path

from airlock._config import settings

__all__ = ["LOG_FOLDER", "log_locations"]

LOG_FOLDER = "prediction-logs"


def log_locations() -> tuple[str, Path]:
    """Where prediction logs live: (artifact URI of the Parquet segments, local spool dir)."""
    s = settings()
    return f"{s.artifact_uri.rstrip('/')}/{LOG_FOLDER}", s.home / "spool"
