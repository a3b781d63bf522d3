"""The fast encoder of the learned layer: WordLlama's static token embeddings.

WordLlama (MIT, ``pip install wordllama``) ships its weights in its wheel: a 32,000 x 256
table of token embeddings trained from a large language model's input embeddings, with the
Llama-2 tokenizer. A text's vector is the mean of its tokens' rows, normalised, so there is no
network to run: a 4,000-token prompt costs a tokenisation and a few array operations (about
a millisecond), and the cost grows linearly with the text. Neither torch nor a download is
needed; only the two files inside the installed package are read (the package itself is not
imported).

Long texts are scored in overlapping windows like the transformer's (``window`` tokens every
``stride``); a window's vector is a difference of two cumulative sums, so windows cost no
more than one pass over the text.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from airlock.errors import DependencyMissing

__all__ = ["StaticEncoder"]

Arr = np.ndarray[Any, Any]

WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
MSG_FILES = ("the wordllama package has no {name} (expected {path}): reinstall it with "
             "pip install 'airlock[llm]'")


def package_dir() -> Path:
    """Where the installed wordllama package is, found without importing it."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyMissing("the fast injection classifier needs wordllama: pip install "
                                "'airlock[llm]'")
    return Path(next(iter(spec.submodule_search_locations)))


class StaticEncoder:
    """Token ids -> normalised mean vectors of windows (``dim`` = 256)."""

    name = "wordllama"

    def __init__(self, table: Arr, tokenizer: Any) -> None:
        self.table = table
        self.tokenizer = tokenizer
        self.dim = int(table.shape[1])

    @classmethod
    def load(cls) -> StaticEncoder:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = package_dir()
        files = {"weights": root / WEIGHTS, "tokenizer": root / TOKENIZER}
        for name, path in files.items():
            if not path.is_file():
                raise DependencyMissing(MSG_FILES.format(name=name, path=path))
        (table,) = load_file(str(files["weights"])).values()
        tokenizer = Tokenizer.from_file(str(files["tokenizer"]))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return cls(np.ascontiguousarray(table), tokenizer)

    def encode(self, texts: list[str]) -> list[Any]:
        """The tokenizer's encodings (ids and character offsets), no special tokens."""
        return list(self.tokenizer.encode_batch(texts, add_special_tokens=False))

    def window_vectors(self, ids: Sequence[int], window: int, stride: int) -> tuple[Arr, Arr]:
        """The normalised mean vector of every window of ``ids`` and the windows' first
        tokens (one window for a text of at most ``window`` tokens; the last window ends at
        the text's end; an empty text is one zero vector)."""
        n = len(ids)
        if n == 0:
            return np.zeros((1, self.dim), dtype=np.float32), np.zeros(1, dtype=np.int64)
        rows = self.table[np.asarray(ids, dtype=np.int64)].astype(np.float32)
        if n <= window:
            sums = rows.sum(axis=0, keepdims=True)
            starts = np.zeros(1, dtype=np.int64)
        else:
            starts = np.append(np.arange(0, n - window, stride), n - window)
            sums = _window_sums(rows, starts, window, stride)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        out: Arr = sums / np.maximum(norms, 1e-12)
        return out, starts


def _window_sums(rows: Arr, starts: Arr, window: int, stride: int) -> Arr:
    """The sum of ``rows[s:s + window]`` for each start. When ``stride`` divides ``window``
    the rows are summed in blocks of ``stride`` first (``np.add.reduceat``: a fifth of the
    time of a cumulative sum over every row), else by a cumulative sum."""
    if window % stride:
        cum = np.zeros((len(rows) + 1, rows.shape[1]), dtype=np.float64)
        np.cumsum(rows, axis=0, out=cum[1:])
        out: Arr = (cum[starts + window] - cum[starts]).astype(np.float32)
        return out
    blocks = np.add.reduceat(rows, np.arange(0, len(rows), stride), axis=0)
    cum = np.zeros((len(blocks) + 1, rows.shape[1]), dtype=np.float64)
    np.cumsum(blocks, axis=0, out=cum[1:])
    first = starts[:-1] // stride  # every start but the last is a multiple of stride
    aligned = cum[first + window // stride] - cum[first]
    last = rows[starts[-1]:].sum(axis=0, keepdims=True)
    out = np.vstack([aligned, last]).astype(np.float32)
    return out
