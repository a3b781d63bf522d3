"""The model registry: versions, aliases, lineage, flavors and verified loading."""

from __future__ import annotations

from ._loaded import LoadedModel
from ._mlflow import import_mlflow
from ._ref import ModelRef, parse_ref
from ._registry import (
    delete_alias,
    get_model_version,
    list_models,
    list_versions,
    load_model,
    register_model,
    register_saved,
    resolve,
    set_alias,
)

__all__ = [
    "LoadedModel",
    "ModelRef",
    "delete_alias",
    "get_model_version",
    "import_mlflow",
    "list_models",
    "list_versions",
    "load_model",
    "parse_ref",
    "register_model",
    "register_saved",
    "resolve",
    "set_alias",
]
