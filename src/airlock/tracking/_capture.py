"""What a run records without being asked: code version, environment and command line."""

from __future__ import annotations

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


def package_versions(names: tuple[str, ...] = ML_PACKAGES) -> dict[str, str]:
    """Versions of the installed packages among ``names`` (absent ones are left out)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


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
    """Git commit, dirty flag and branch of the repository around ``cwd`` ({} outside one)."""
    where = cwd or Path.cwd()
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return {}
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {
        "git_commit": commit,
        "git_dirty": bool(status),
        "git_branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], where),
        "repo": _git(["rev-parse", "--show-toplevel"], where),
        "entry_point": sys.argv[0] if sys.argv else None,
    }
