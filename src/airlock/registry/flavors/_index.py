"""Vector indexes (retrievers): chunk embeddings in a faiss index, the chunks' text, and
the embedder that made them, as one version's files.

A version holds ``index.faiss`` (inner product over unit vectors, i.e. cosine: exact
``IndexFlatIP`` for small corpora, ``IndexHNSWFlat`` above :data:`HNSW_FROM` chunks),
``chunks.parquet`` (``doc_id``, ``chunk_id``, ``start``, ``end``, ``text``, one row per
vector, in id order) and ``embedder/`` (a copy of the embedder version's files, so the
index loads and serves alone and every byte it runs is sha256-verified with it). The
manifest's options name the embedder version (ref and sha256), the chunking and the corpus
fingerprint.

``predict(table with a query column)`` answers each query row with one row: the query and
list columns ``rank``, ``doc_id``, ``chunk_id``, ``score``, ``text`` (its top k chunks,
best first; fewer when the index holds fewer), so serving, batch scoring and the
prediction log see one answer per input row; k is the row's ``k`` column when the table
has one (null: the version's), else the version's (``build_index(k=)``).
:meth:`IndexPredictor.search` gives the same hits as one row per
chunk, ``(query, rank, doc_id, chunk_id, score, text)``, the long form a RAG evaluation
reads (it accepts both).

The HNSW graph is built on one thread (faiss seeds its level generator), so the same
chunks give the same index bytes; exact search needs no build at all.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, cast

import numpy as np

from airlock.errors import InvalidInput

from ._base import Outputs, loading, model_file_fault, require
from ._embedder import EmbedderPredictor, open_embedder

__all__ = ["HNSW_FROM", "INDEX_FLAVOR", "MAX_TOP_K", "MSG_BAD_ROW_K", "MSG_BAD_TOP_K",
           "MSG_NO_QUERY_COLUMN", "IndexFlavor", "IndexPredictor", "VectorIndex", "check_top_k",
           "index_kind"]

Arr = np.ndarray[Any, Any]

INDEX_FLAVOR = "index"
#: from this many chunks the index is approximate (HNSW); below, exact search is fast enough
HNSW_FROM = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64
EMBEDDER_DIR = "embedder"
MSG_NO_QUERY_COLUMN = "a retriever needs a 'query' column (got {got})"
MSG_BAD_TOP_K = "k must be a whole number >= 1 (got {got!r})"
MSG_BAD_ROW_K = "k of query row {row} must be a whole number from 1 to {most:,} (got {got!r})"
MAX_TOP_K = 1_000  # per request: more is a corpus dump, not a search
RESULT_COLUMNS = ("query", "rank", "doc_id", "chunk_id", "score", "text")
QUERY_AXES = 8  # principal axes of the corpus a query's embedding is logged on
AXES_SAMPLE = 4096  # chunk vectors the axes are computed from (evenly spaced ids)


class VectorIndex:
    """An index to register (``register_model(name, index)``): unit vectors, one chunk row
    per vector, and where the embedder's verified files are."""

    def __init__(self, *, vectors: Arr, chunks: Any, embedder_path: Path,
                 embedder: dict[str, Any], chunking: dict[str, Any], corpus: dict[str, Any],
                 kind: str = "auto", k: int = 5) -> None:
        self.vectors = vectors
        self.chunks = chunks
        self.embedder_path = embedder_path
        self.embedder = embedder
        self.chunking = chunking
        self.corpus = corpus
        self.kind = kind
        self.k = k


def _faiss() -> Any:
    return require("faiss", "llm")


def build_faiss(vectors: Arr, kind: str) -> Any:
    """A faiss index over ``vectors`` (float32, unit rows): ``flat`` (exact) or ``hnsw``."""
    faiss = _faiss()
    dim = int(vectors.shape[1])
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return index
    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # one thread: the same vectors give the same graph
    try:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def index_kind(kind: str, n: int) -> str:
    if kind == "auto":
        return "hnsw" if n >= HNSW_FROM else "flat"
    if kind not in ("flat", "hnsw"):
        raise InvalidInput(f"unknown index kind {kind!r}: use auto, flat or hnsw")
    return kind


def check_top_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput(MSG_BAD_TOP_K.format(got=k))
    return int(k)


class IndexPredictor:
    """A loaded index: ``search(queries, k)`` -> the result columns, ``k`` rows a query."""

    def __init__(self, index: Any, chunks: Any, embedder: EmbedderPredictor, k: int,
                 ef_search: int) -> None:
        self.index = index
        self.embedder = embedder
        self.k = k
        self.doc_id = np.asarray(chunks.column("doc_id").to_numpy(zero_copy_only=False),
                                 dtype=object)
        self.chunk_id = np.asarray(chunks.column("chunk_id").to_numpy(zero_copy_only=False),
                                   dtype=object)
        self.text = np.asarray(chunks.column("text").to_numpy(zero_copy_only=False),
                               dtype=object)
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = ef_search
        self._axes: tuple[Arr, Arr] | None = None

    def search_vectors(self, vectors: Arr, k: int) -> tuple[Arr, Arr]:
        """(scores, chunk ids) ``[n, k]``; id -1 where the index holds fewer than k."""
        k = check_top_k(k)
        if len(vectors) == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        scores, ids = self.index.search(np.ascontiguousarray(vectors, np.float32), k)
        return scores, ids

    def _hits(self, queries: list[str], k: int | None, vectors: Arr | None = None
              ) -> tuple[Arr, Arr, Arr, Arr]:
        """(query row, rank - 1, chunk id, score) of every hit, by query then rank."""
        top = check_top_k(self.k if k is None else k)
        if vectors is None:
            vectors = self.embedder.encode(queries)
        scores, ids = self.search_vectors(vectors, top)
        rows, cols = np.nonzero(ids >= 0)
        return rows, cols, ids[rows, cols], scores[rows, cols].astype(np.float64)

    def _row_ks(self, df: Any, n: int) -> Arr:
        """Each query's k: its ``k`` column where given (a whole number from 1 to
        :data:`MAX_TOP_K`), else the version's."""
        out = np.full(n, self.k, np.int64)
        if "k" not in df.columns:
            return out
        for i, v in enumerate(df["k"].tolist()):
            if v is None or (isinstance(v, float) and v != v):
                continue
            if isinstance(v, bool) or not float(v).is_integer() or not 1 <= v <= MAX_TOP_K:
                raise InvalidInput(MSG_BAD_ROW_K.format(row=i, got=v, most=MAX_TOP_K))
            out[i] = int(v)
        return out

    def axes(self) -> tuple[Arr, Arr]:
        """(mean, principal axes ``[m, dim]``) of the corpus's chunk vectors: an SVD of at
        most :data:`AXES_SAMPLE` of them, evenly spaced by id (the same index gives the
        same axes), each axis signed so that its largest loading is positive."""
        if self._axes is None:
            n = int(self.index.ntotal)
            ids = np.unique(np.linspace(0, n - 1, min(n, AXES_SAMPLE)).astype(np.int64))
            sample = self.index.reconstruct_batch(ids) if n else \
                np.zeros((0, self.index.d), np.float32)
            mean = sample.mean(axis=0) if n else np.zeros(self.index.d, np.float32)
            m = min(QUERY_AXES, max(len(sample) - 1, 0), self.index.d)
            if m == 0:
                self._axes = (mean, np.zeros((0, self.index.d), np.float32))
            else:
                _, _, vt = np.linalg.svd((sample - mean).astype(np.float64),
                                         full_matrices=False)
                vt = vt[:m]
                sign = np.sign(vt[np.arange(m), np.abs(vt).argmax(axis=1)])
                self._axes = (mean, (vt * sign[:, None]).astype(np.float32))
        return self._axes

    def query_coordinates(self, vectors: Arr) -> Arr:
        """The query embeddings' coordinates ``[n, m]`` on the corpus's principal axes
        (centred on the corpus mean)."""
        mean, axes = self.axes()
        out: Arr = (np.asarray(vectors, np.float32) - mean) @ axes.T
        return out

    def search(self, queries: list[str], k: int | None = None) -> dict[str, Arr]:
        """One row per retrieved chunk: ``query, rank, doc_id, chunk_id, score, text``,
        ``k`` a query (the version's default k when None)."""
        rows, cols, hit, score = self._hits(queries, k)
        return {"query": np.asarray(queries, dtype=object)[rows],
                "rank": (cols + 1).astype(np.int64), "doc_id": self.doc_id[hit],
                "chunk_id": self.chunk_id[hit], "score": score, "text": self.text[hit]}

    def predict(self, df: Any) -> Outputs:
        """One row per query (what serving and batch scoring need: an answer per input
        row): ``query`` and the list columns ``rank``, ``doc_id``, ``chunk_id``, ``score``
        and ``text``, best first, k a query (:meth:`_row_ks`); then the scalars a drift monitor
        reads from the prediction log: ``top_score`` (the best hit's cosine similarity, null
        when nothing was found), ``hits`` (how many chunks came back: 0 is an empty
        result) and ``query_pc1`` ... ``query_pc8``, the query embedding's coordinates on
        the corpus's first principal axes (:meth:`axes`), so that the distribution of the
        queries themselves is compared, not only its effect on the scores."""
        import pyarrow as pa

        if "query" not in df.columns:
            raise InvalidInput(MSG_NO_QUERY_COLUMN.format(got=list(map(str, df.columns))))
        queries = ["" if q is None else str(q) for q in df["query"].tolist()]
        ks = self._row_ks(df, len(queries))
        vectors = self.embedder.encode(queries)
        rows, cols, hit, score = self._hits(queries, int(ks.max(initial=1)), vectors)
        if len(queries) and (ks != ks[0]).any():  # each query's own k
            keep = cols < ks[rows]
            rows, cols, hit, score = rows[keep], cols[keep], hit[keep], score[keep]
        counts = np.bincount(rows, minlength=len(queries))
        offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
        flat = {"rank": pa.array(cols + 1, pa.int64()),
                "doc_id": pa.array(self.doc_id[hit].tolist(), pa.string()),
                "chunk_id": pa.array(self.chunk_id[hit].tolist(), pa.string()),
                "score": pa.array(score, pa.float64()),
                "text": pa.array(self.text[hit].tolist(), pa.string())}
        out: dict[str, Any] = {"query": pa.array(queries, pa.string())}
        out.update({name: pa.ListArray.from_arrays(offsets, values)
                    for name, values in flat.items()})
        top = np.full(len(queries), np.nan)
        top[rows[cols == 0]] = score[cols == 0]  # rank 1 of each query that found anything
        out["top_score"] = pa.array(top, pa.float64(), mask=counts == 0)
        out["hits"] = pa.array(counts, pa.int64())
        coords = self.query_coordinates(vectors).astype(np.float64)
        for j in range(coords.shape[1]):
            out[f"query_pc{j + 1}"] = pa.array(coords[:, j], pa.float64())
        return cast(Outputs, out)


class IndexFlavor:
    name = INDEX_FLAVOR

    def detect(self, model: Any) -> bool:
        return isinstance(model, VectorIndex)

    def libraries(self) -> list[str]:
        return ["faiss-cpu", "onnxruntime", "tokenizers", "numpy", "pyarrow"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return False

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        import pyarrow.parquet as pq

        faiss = _faiss()
        vectors = np.asarray(model.vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != model.chunks.num_rows:
            raise InvalidInput(f"an index needs one vector per chunk (got {vectors.shape} "
                               f"for {model.chunks.num_rows} chunks)")
        kind = index_kind(model.kind, len(vectors))
        faiss.write_index(build_faiss(vectors, kind), str(path / "index.faiss"))
        pq.write_table(model.chunks.select(["doc_id", "chunk_id", "start", "end", "text"]),
                       path / "chunks.parquet")
        target = path / EMBEDDER_DIR
        target.mkdir()
        emb_opts = model.embedder["options"]
        for rel in model.embedder["files"]:
            shutil.copyfile(model.embedder_path / rel, target / rel)
        return {"format": "faiss", "file": "index.faiss", "chunks": "chunks.parquet",
                "kind": kind, "dim": int(vectors.shape[1]), "chunks_count": len(vectors),
                "k": check_top_k(model.k), "ef_search": HNSW_EF_SEARCH,
                "metric": "inner_product", "embedder": {**model.embedder, "options": emb_opts},
                "chunking": model.chunking, "corpus": model.corpus}

    def load(self, path: Path, options: dict[str, Any]) -> IndexPredictor:
        import pyarrow.parquet as pq

        faiss = _faiss()
        file = path / options["file"]
        embedder = open_embedder(path / EMBEDDER_DIR, options["embedder"]["options"])
        with loading(self.name, file):
            if file.stat().st_size == 0:
                raise model_file_fault(self.name, file, "the file is empty")
            index = faiss.read_index(str(file))
        chunks_file = path / options["chunks"]
        with loading(self.name, chunks_file):
            chunks = pq.read_table(chunks_file)
        if index.ntotal != chunks.num_rows:
            raise model_file_fault(self.name, file, f"{index.ntotal} vectors for "
                                   f"{chunks.num_rows} chunks")
        return IndexPredictor(index, chunks, embedder, int(options["k"]),
                              int(options.get("ef_search", HNSW_EF_SEARCH)))
