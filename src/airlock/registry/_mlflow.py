"""Import an MLflow model directory (an ``MLmodel`` file with the sklearn or
python_function flavor) as a new airlock version. MLflow itself is only needed to load a
python_function-only model; sklearn models load with scikit-learn alone."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from airlock._config import import_max_bytes
from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.store import VersionRecord

from ._registry import register_saved
from .flavors import get_flavor, require

__all__ = ["import_mlflow"]

_TYPES = {"double": "double", "float": "float", "long": "int64", "integer": "int32",
          "string": "string", "boolean": "bool", "binary": "binary", "datetime": "timestamp[ns]"}


def _read_mlmodel(path: Path) -> dict[str, Any]:
    mlmodel = path / "MLmodel"
    if not mlmodel.is_file():
        raise NotFound(f"not an MLflow model directory (no MLmodel file): {path}")
    try:
        spec = yaml.safe_load(mlmodel.read_text())
    except yaml.YAMLError as exc:
        raise InvalidInput(f"cannot read {mlmodel}: {exc}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("flavors"), dict):
        raise InvalidInput(f"{mlmodel} has no 'flavors' section")
    return spec


#: MLmodel keys (at any depth) whose string values name a file or folder of the model.
_PATH_KEYS = frozenset({"pickled_model", "model_path", "data", "python_model", "code",
                        "path", "artifact_path", "conda", "virtualenv", "env",
                        "model_code_path", "model_data"})
_CHUNK = 1 << 20


def _references(node: Any, key: str | None = None) -> Iterator[tuple[str, str]]:
    """(key, path) for every file or folder the MLmodel names."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _references(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _references(v, key)
    elif isinstance(node, str) and key in _PATH_KEYS:
        yield key, node


def _check_references(spec: dict[str, Any], src: Path) -> None:
    """Every path the MLmodel names must be relative and stay inside the model directory."""
    root = src.resolve()
    for key, ref in _references(spec):
        parts = PurePosixPath(ref.replace("\\", "/")).parts
        inside = (root / ref).resolve()
        if (not ref or ref.startswith(("/", "~")) or ".." in parts or Path(ref).is_absolute()
                or (inside != root and root not in inside.parents)):
            raise InvalidInput(
                f"{src / 'MLmodel'} names {key}: {ref!r}, which is outside the model "
                "directory: airlock imports only files inside it")


def _copy_regular_files(src: Path, dest: Path, limit: int) -> None:
    """Copy the directory without following symlinks (refused) and at most ``limit`` bytes."""
    total = 0
    for folder, dirs, files in os.walk(src, followlinks=False):
        rel = Path(folder).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in sorted(dirs + files):
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                kind = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
                raise InvalidInput(f"{path} is {kind}: airlock imports regular files only")
            with open(path, "rb") as fh, open(dest / rel / name, "wb") as out:
                while chunk := fh.read(_CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise InvalidInput(
                            f"the model directory {src} holds more than {limit} bytes "
                            "(AIRLOCK_IMPORT_MAX_BYTES)")
                    out.write(chunk)


def _signature(spec: dict[str, Any]) -> dict[str, Any] | None:
    sig = spec.get("signature") or {}
    raw = sig.get("inputs")
    if not raw:
        return None
    cols = yaml.safe_load(raw) if isinstance(raw, str) else raw
    if not isinstance(cols, list) or not all(isinstance(c, dict) and "name" in c for c in cols):
        return None  # tensor-based signatures have no column names: leave unchecked
    return {"inputs": [{"name": c["name"], "type": _TYPES.get(c.get("type", "")),
                        "nullable": not c.get("required", True)} for c in cols]}


def import_mlflow(path: str | Path, name: str, *, trusted: bool = False,
                  description: str | None = None) -> VersionRecord:
    """Register the MLflow model at ``path`` as the next version of ``name``."""
    src = Path(path)
    spec = _read_mlmodel(src)
    _check_references(spec, src)
    with tempfile.TemporaryDirectory(prefix="airlock-mlflow-") as tmp:
        dest = Path(tmp) / "model"
        _copy_regular_files(src, dest, import_max_bytes())
        flavor, options = _flavor_options(spec, src, dest, trusted)
        extra = {"imported_from": {"format": "mlflow", "path": str(src.absolute()),
                                   "mlflow_version": spec.get("mlflow_version"),
                                   "run_id": spec.get("run_id")}}
        return register_saved(name, dest, flavor, options, signature=_signature(spec),
                              description=description, trusted=trusted, extra=extra)


def _flavor_options(spec: dict[str, Any], src: Path, dest: Path,
                    trusted: bool) -> tuple[Any, dict[str, Any]]:
    """The airlock flavor and loader options, read from the copy (what gets hashed)."""
    flavors = spec["flavors"]
    if "sklearn" in flavors:
        sk = flavors["sklearn"]
        file = sk.get("pickled_model") or "model.pkl"
        fmt = "skops" if sk.get("serialization_format") == "skops" else "pickle"
        options: dict[str, Any] = {"format": fmt, "file": file}
        if not (dest / file).is_file():
            raise NotFound(f"the MLflow model names {file!r} but {src} has no such file")
        if fmt == "skops":  # types beyond skops' safe set load only if the importer trusts them
            sio = require("skops.io", "sklearn")
            options["trusted_types"] = (sorted(sio.get_untrusted_types(file=dest / file))
                                        if trusted else [])
        return get_flavor("sklearn"), options
    if "python_function" in flavors:
        return get_flavor("python"), {"format": "mlflow_pyfunc"}
    raise UsageError(f"{src} has flavors {sorted(flavors)}; airlock imports sklearn or "
                     "python_function MLflow models")
