"""The model registry: versions, aliases, lineage, flavors and verified loading."""

from __future__ import annotations

from ._loaded import LoadedModel
from ._mlflow import import_mlflow
from ._ref import ModelRef, NamedRef, check_name, parse_named_ref, parse_ref
from ._registry import (
    delete_alias,
    get_model_version,
    list_models,
    list_versions,
    load_model,
    load_model_files,
    register_model,
    register_saved,
    resolve,
    set_alias,
)
from ._signature import MISSING_VALUE, conform_rows

__all__ = [
    "MISSING_VALUE",
    "LoadedModel",
    "ModelRef",
    "NamedRef",
    "check_name",
    "conform_rows",
    "delete_alias",
    "get_model_version",
    "import_mlflow",
    "list_models",
    "list_versions",
    "load_model",
    "load_model_files",
    "parse_named_ref",
    "parse_ref",
    "register_model",
    "register_saved",
    "resolve",
    "set_alias",
]
