"""What a run records without being asked: code version, environment and command line."""

from __future__ import annotations

import functools
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["ML_PACKAGES", "capture_code", "capture_command", "capture_env", "package_versions"]

ML_PACKAGES = (
    "airlock", "numpy", "scipy", "pandas", "polars", "pyarrow", "scikit-learn", "skops",
    "xgboost", "xgboost-cpu", "lightgbm", "onnx", "onnxruntime", "torch", "tensorflow",
    "transformers",
)


@functools.cache
def _version(name: str) -> str | None:
    # Installed versions do not change under a running interpreter: look each up once.
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions(names: tuple[str, ...] = ML_PACKAGES) -> dict[str, str]:
    """Versions of the installed packages among ``names`` (absent ones are left out)."""
    return {name: v for name in names if (v := _version(name)) is not None}


def capture_env() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": package_versions(),
    }


def capture_command() -> str:
    return shlex.join([sys.executable, *sys.argv]) if sys.argv and sys.argv[0] else sys.executable


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def capture_code(cwd: Path | None = None) -> dict[str, Any]:
    """Git commit, dirty flag and branch of the repository around ``cwd`` ({} outside one).

    Dirty means any tracked change or any untracked, not ignored file: a new script that
    was never committed cannot be reproduced from the commit either."""
    where = cwd or Path.cwd()
    status = _git(["status", "--porcelain=v2", "--branch"], where)
    if status is None:
        return {}
    head: dict[str, str] = {}
    changes = 0
    for line in status.splitlines():
        if line.startswith("# branch."):
            key, _, value = line[len("# branch."):].partition(" ")
            head[key] = value
        elif line and not line.startswith("#"):
            changes += 1
    commit = head.get("oid")
    if commit is None or commit == "(initial)":
        return {}
    return {
        "git_commit": commit,
        "git_dirty": changes > 0,
        "git_branch": head.get("head"),
        "repo": _git(["rev-parse", "--show-toplevel"], where),
        "entry_point": sys.argv[0] if sys.argv else None,
    }
