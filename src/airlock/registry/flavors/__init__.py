"""Flavors: how each kind of model is saved, loaded and asked to predict.

``FLAVORS`` maps each flavor's name to it; :func:`get_flavor` finds one by name and
:func:`detect_flavor` by the model (the most specific flavor first, python callables last).
:func:`require` imports a flavor's optional dependency or names the extra that provides it.
"""

from __future__ import annotations

from ._base import Flavor, Predictor, require
from ._embedder import (
    EMBEDDER_FLAVOR,
    MSG_NO_TEXT,
    Embedder,
    EmbedderPredictor,
    minilm_embedder,
    minilm_source,
    open_embedder,
)
from ._index import (
    HNSW_FROM,
    INDEX_FLAVOR,
    MAX_TOP_K,
    MSG_BAD_ROW_K,
    MSG_BAD_TOP_K,
    MSG_NO_QUERY_COLUMN,
    IndexPredictor,
    VectorIndex,
    check_top_k,
    index_kind,
)
from ._lookup import FLAVORS, detect_flavor, get_flavor
from ._minilm import MINILM_PACKAGE, MSG_NO_WEIGHTS, read_safetensors

__all__ = ["EMBEDDER_FLAVOR", "FLAVORS", "HNSW_FROM", "INDEX_FLAVOR", "MAX_TOP_K",
           "MINILM_PACKAGE", "MSG_BAD_ROW_K", "MSG_BAD_TOP_K", "MSG_NO_QUERY_COLUMN",
           "MSG_NO_TEXT", "MSG_NO_WEIGHTS", "Embedder",
           "EmbedderPredictor", "Flavor", "IndexPredictor", "Predictor", "VectorIndex",
           "check_top_k", "detect_flavor", "get_flavor", "index_kind", "minilm_embedder",
           "minilm_source", "open_embedder", "read_safetensors", "require"]
