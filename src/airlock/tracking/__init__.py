"""Tracking: runs with params, metrics, tags, artifacts, inputs, code and environment."""

from __future__ import annotations

from ._capture import capture_code, capture_env, package_versions
from ._run import Run, active_run, start_run

__all__ = ["Run", "active_run", "capture_code", "capture_env", "package_versions", "start_run"]
