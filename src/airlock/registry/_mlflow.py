"""Import an MLflow model directory (an ``MLmodel`` file with the sklearn or
python_function flavor) as a new airlock version. MLflow itself is only needed to load a
python_function-only model; sklearn models load with scikit-learn alone."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.store import VersionRecord

from ._registry import register_saved
from .flavors import get_flavor
from .flavors._base import require

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
    flavors = spec["flavors"]
    if "sklearn" in flavors:
        sk = flavors["sklearn"]
        file = sk.get("pickled_model") or "model.pkl"
        fmt = "skops" if sk.get("serialization_format") == "skops" else "pickle"
        flavor, options = get_flavor("sklearn"), {"format": fmt, "file": file}
        if fmt == "skops":  # types beyond skops' safe set load only if the importer trusts them
            sio = require("skops.io", "sklearn")
            options["trusted_types"] = (sorted(sio.get_untrusted_types(file=src / file))
                                        if trusted else [])
    elif "python_function" in flavors:
        flavor, options = get_flavor("python"), {"format": "mlflow_pyfunc"}
    else:
        raise UsageError(f"{src} has flavors {sorted(flavors)}; airlock imports sklearn or "
                         "python_function MLflow models")
    if "file" in options and not (src / options["file"]).is_file():
        raise NotFound(f"the MLflow model names {options['file']!r} but {src} has no such file")
    with tempfile.TemporaryDirectory(prefix="airlock-mlflow-") as tmp:
        dest = Path(tmp) / "model"
        shutil.copytree(src, dest)
        extra = {"imported_from": {"format": "mlflow", "path": str(src.absolute()),
                                   "mlflow_version": spec.get("mlflow_version"),
                                   "run_id": spec.get("run_id")}}
        return register_saved(name, dest, flavor, options, signature=_signature(spec),
                              description=description, trusted=trusted, extra=extra)
