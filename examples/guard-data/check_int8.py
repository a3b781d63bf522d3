#!/usr/bin/env python
"""Does int8 hold the classifier's accuracy? fp32 MiniLM vs two dynamic int8 versions.

    python examples/guard-data/check_int8.py

Builds the fp32 graph (airlock.registry.minilm_embedder), quantises it with
onnxruntime.quantization.quantize_dynamic twice: ``int8-all`` (the defaults: every MatMul
and Gather) and ``int8-weights`` (only the MatMuls with a weight, per channel; attention's
activation x activation MatMuls stay fp32), then compares each with fp32 on the dev and test
texts: cosine of the embeddings (min, 1st percentile, mean), the classifier's decisions at
the shipped head's threshold (how many change, recall and FP on each split), and the CPU
time of one 128-token text on one thread. int8 would be used only if its cosine is >= 0.99
on every text and its decisions are the same or better.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> int:
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from tokenizers import Tokenizer

    from airlock.guard._classifier_head import HEAD
    from airlock.registry import minilm_embedder

    built = minilm_embedder()
    tmp = Path(tempfile.mkdtemp(prefix="int8-"))
    model = onnx.load_from_string(built.model)
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"n{i}"
    weights = {t.name for t in model.graph.initializer}
    activation = [n.name for n in model.graph.node
                  if n.op_type == "MatMul" and not any(x in weights for x in n.input)]
    onnx.save(model, tmp / "fp32.onnx")
    quantize_dynamic(tmp / "fp32.onnx", tmp / "int8-all.onnx", weight_type=QuantType.QInt8)
    quantize_dynamic(tmp / "fp32.onnx", tmp / "int8-weights.onnx", per_channel=True,
                     weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                     nodes_to_exclude=activation)
    tok = Tokenizer.from_str(built.tokenizer)
    tok.enable_truncation(max_length=256)
    tok.no_padding()
    splits = {s: [json.loads(line) for line in (HERE / f"{s}.jsonl").open(encoding="utf-8")]
              for s in ("dev", "test")}
    coef, b, thr = np.asarray(HEAD["coef"], np.float32), HEAD["intercept"], HEAD["threshold"]

    def session(name: str) -> ort.InferenceSession:
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        return ort.InferenceSession(str(tmp / name), so, providers=["CPUExecutionProvider"])

    def embed(sess: ort.InferenceSession, texts: list[str]) -> np.ndarray:
        out = []
        for e in tok.encode_batch(texts):
            ids = np.array([e.ids], np.int64)
            out.append(sess.run(["embedding"], {"input_ids": ids,
                                                "attention_mask": np.ones_like(ids)})[0][0])
        return np.array(out)

    ref = {}
    for name in ("fp32.onnx", "int8-all.onnx", "int8-weights.onnx"):
        sess = session(name)
        size = (tmp / name).stat().st_size / 2**20
        ids = np.array([[101] + [2023] * 126 + [102]], np.int64)
        times = []
        for _ in range(30):
            t0 = time.thread_time()
            sess.run(["embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
            times.append((time.thread_time() - t0) * 1000)
        print(f"{name[:-5]:<13} {size:6.1f} MB, 128 tokens: CPU p50 {np.median(times):.1f} ms")
        for split, rows in splits.items():
            emb = embed(sess, [r["text"] for r in rows])
            y = np.array([r["label"] == "attack" for r in rows])
            flag = 1 / (1 + np.exp(-(emb @ coef + b))) >= thr
            if name == "fp32.onnx":
                ref[split] = (emb, flag)
                line = ""
            else:
                cos = (emb * ref[split][0]).sum(1)
                changed = int((flag != ref[split][1]).sum())
                line = (f"cosine min {cos.min():.4f} p1 {np.percentile(cos, 1):.4f} mean "
                        f"{cos.mean():.4f}; decisions changed {changed}; ")
            print(f"  {split}: {line}recall {flag[y].mean():.3f} FP {flag[~y].mean():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
