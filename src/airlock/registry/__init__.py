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
    load_model_files,
    register_model,
    register_saved,
    resolve,
    set_alias,
    version_folder,
)
from ._signature import MISSING_VALUE, conform_rows
from .flavors import (
    EMBEDDER_FLAVOR,
    HNSW_FROM,
    INDEX_FLAVOR,
    MSG_BAD_TOP_K,
    MSG_NO_QUERY_COLUMN,
    MSG_NO_TEXT,
    MSG_NO_WEIGHTS,
    Embedder,
    EmbedderPredictor,
    IndexPredictor,
    VectorIndex,
    check_top_k,
    index_kind,
    minilm_embedder,
    minilm_source,
    open_embedder,
    read_safetensors,
)

__all__ = [
    "EMBEDDER_FLAVOR",
    "HNSW_FROM",
    "INDEX_FLAVOR",
    "MISSING_VALUE",
    "MSG_BAD_TOP_K",
    "MSG_NO_QUERY_COLUMN",
    "MSG_NO_TEXT",
    "MSG_NO_WEIGHTS",
    "Embedder",
    "EmbedderPredictor",
    "IndexPredictor",
    "LoadedModel",
    "ModelRef",
    "VectorIndex",
    "check_top_k",
    "conform_rows",
    "delete_alias",
    "get_model_version",
    "import_mlflow",
    "index_kind",
    "list_models",
    "list_versions",
    "load_model",
    "load_model_files",
    "minilm_embedder",
    "minilm_source",
    "open_embedder",
    "parse_ref",
    "read_safetensors",
    "register_model",
    "register_saved",
    "resolve",
    "set_alias",
    "version_folder",
]
