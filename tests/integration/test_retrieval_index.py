"""The index flavor and `airlock.llm.build_index`: a hand-made folder chunked, embedded by
the default embedder (registered once, on first use) and indexed by faiss; the manifest
names the embedder version and the corpus fingerprint; queries find the right document,
with scores equal to exact cosine search over the chunk embeddings; HNSW finds the same;
bad input is one InvalidInput message and registers nothing."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import airlock
from airlock.data import fingerprint
from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.llm import (
    DEFAULT_EMBEDDER,
    DOC_SUFFIXES,
    MSG_BAD_CHUNKING,
    MSG_CORPUS_COLUMNS,
    MSG_NO_CHUNKS,
    MSG_NO_DOCS,
    MSG_NOT_AN_EMBEDDER,
    MSG_TOO_LARGE,
    MSG_UNDECODABLE,
    build_index,
    chunk_spans,
    load_index,
    query_index,
    read_corpus,
)
from airlock.registry import MSG_BAD_TOP_K, MSG_NO_QUERY_COLUMN, load_model

DOCS = {
    "serving.md": "# Serving\n\nairlock serve starts an HTTP server that answers "
                  "predictions on the Open Inference Protocol and on /invocations.",
    "gates/policy.md": "# Gates\n\nA policy is a YAML file of rules. A protected alias moves "
                       "only through a passing gate decision or an audited override.",
    "cooking.txt": "To bake bread, mix flour, water, salt and yeast, let the dough rise "
                   "and bake it in a hot oven for forty minutes.",
    "monitor.md": "# Monitoring\n\nDrift is measured on windows of the prediction log, "
                  "against a reference dataset, with alerts when it crosses a threshold.",
    "empty.md": "",
    ".hidden/notes.md": "never indexed",
    "image.png": "not a text document",
}


def make_docs(root: Path, docs: dict[str, str] = DOCS) -> Path:
    for rel, text in docs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return make_docs(tmp_path / "docs")


def test_build_and_query(docs: Path) -> None:
    v = build_index("kb", docs, chunk=80, overlap=16)
    assert v.ref == "kb@1" and v.flavor == "index"
    opts = v.manifest["options"]
    emb = airlock.get_model_version(f"{DEFAULT_EMBEDDER}@1")
    assert opts["embedder"]["ref"] == emb.ref and opts["embedder"]["sha256"] == \
        emb.manifest["sha256"]
    # the embedder's files travel inside the index, byte for byte
    assert {f"embedder/{k}": d for k, d in emb.manifest["files"].items()}.items() <= \
        v.manifest["files"].items()
    corpus = read_corpus(docs)
    assert sorted(corpus.column("doc_id").to_pylist()) == [
        "cooking.txt", "empty.md", "gates/policy.md", "monitor.md", "serving.md"]
    assert opts["corpus"]["digest"] == fingerprint(corpus).digest
    assert [d["digest"] for d in v.manifest["datasets"]] == [opts["corpus"]["digest"]]
    assert opts["chunking"] == {"unit": "characters", "size": 80, "overlap": 16,
                                "documents": 5, "chunks": opts["chunks_count"]}
    assert opts["kind"] == "flat"
    hits = query_index("kb@1", "How do I bake bread?", k=3)
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["doc_id"] == "cooking.txt"
    assert set(hits[0]) == {"rank", "doc_id", "chunk_id", "score", "text"}
    assert hits[0]["chunk_id"].startswith("cooking.txt#")
    assert query_index("kb@1", "Which protocol does the server answer?", k=1)[0][
        "doc_id"] == "serving.md"
    assert query_index("kb@1", "who may move a protected alias?", k=1)[0][
        "doc_id"] == "gates/policy.md"
    # the same corpus indexed the same way is the same version; another chunking is not,
    # and reuses the registered default embedder
    assert build_index("kb", docs, chunk=80, overlap=16).ref == "kb@1"
    assert build_index("kb", docs).ref == "kb@2"
    assert len(airlock.list_versions(DEFAULT_EMBEDDER)) == 1


def test_scores_equal_exact_cosine_search(docs: Path) -> None:
    build_index("kb", docs, chunk=60, overlap=10)
    index = load_index("kb@1")
    chunks = index.text.tolist()
    vectors = index.embedder.encode(chunks)
    queries = ["bread and an oven", "drift alerts", "", "Größe 東京"]
    q = index.embedder.encode(queries)
    out = index.search(queries, k=4)
    sims = q @ vectors.T
    for i, query in enumerate(queries):
        rows = np.flatnonzero(out["query"] == query)
        want = np.sort(sims[i])[::-1][:4]
        np.testing.assert_allclose(out["score"][rows], want, atol=1e-5)
        assert out["rank"][rows].tolist() == [1, 2, 3, 4]
    # the registered version answers each row of a query table with one row of lists
    res = airlock.load_model("kb@1").predict(pd.DataFrame({"query": ["bread", "drift"]}))
    assert res["query"].tolist() == ["bread", "drift"]
    assert [list(r) for r in res["rank"]] == [[1, 2, 3, 4, 5]] * 2  # the version's k
    long = index.search(["bread", "drift"], k=5)
    assert [d for row in res["doc_id"] for d in row] == long["doc_id"].tolist()
    np.testing.assert_allclose([s for row in res["score"] for s in row], long["score"])
    # asking for more than the index holds returns what it holds
    assert len(index.search(["bread"], k=10_000)["rank"]) == len(chunks)


def test_each_answer_carries_the_query_on_the_corpus_axes(docs: Path) -> None:
    """``query_pc1..`` are the query embedding centred on the corpus mean and projected on
    the principal axes of the chunk vectors (an SVD of them, each axis signed so its largest
    loading is positive): the same numbers from a fresh load, the HNSW index and by hand."""
    build_index("kb", docs, chunk=60, overlap=10)
    index = load_index("kb@1")
    vectors = index.embedder.encode(index.text.tolist())
    queries = ["bread and an oven", "drift alerts", ""]
    res = airlock.load_model("kb@1").predict(pd.DataFrame({"query": queries}))
    m = min(8, len(vectors) - 1)
    names = [f"query_pc{j + 1}" for j in range(m)]
    assert [c for c in res if c.startswith("query_pc")] == names
    got = np.column_stack([np.asarray(res[c]) for c in names])
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    vt = vt[:m] * np.sign(vt[np.arange(m), np.abs(vt[:m]).argmax(axis=1)])[:, None]
    want = (index.embedder.encode(queries) - vectors.mean(axis=0)) @ vt.T
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.var(got[:, 0]) > 0  # different queries, different coordinates
    build_index("hnsw", docs, chunk=60, overlap=10, kind="hnsw")
    again = load_model("hnsw@1").predict(pd.DataFrame({"query": queries}))
    np.testing.assert_allclose(np.asarray(again["query_pc1"]), got[:, 0], atol=1e-5)
    one = pd.DataFrame({"doc_id": ["a"], "text": ["a single chunk"]})
    build_index("solo", one)  # one chunk: no axis to project on, no column
    assert not any(c.startswith("query_pc") for c in load_model("solo@1").predict(
        pd.DataFrame({"query": ["x"]})))


def test_a_shifted_query_mix_drifts_on_the_axes(docs: Path) -> None:
    from airlock.monitor import DriftMonitor

    build_index("kb", docs, chunk=60, overlap=10)
    model = load_model("kb@1")
    bread = ["how long do I bake bread", "what goes into a dough", "oven temperature",
             "does the dough need yeast", "flour and water"]
    serving = ["how do I serve predictions", "what is the inference protocol",
               "where do invocations go", "start an HTTP server", "answer predictions"]
    rng = np.random.default_rng(0)

    def axes(share_bread: float) -> pd.DataFrame:
        picks = [bread[rng.integers(5)] if rng.random() < share_bread
                 else serving[rng.integers(5)] for _ in range(200)]
        out = model.predict(pd.DataFrame({"query": picks}))
        return pd.DataFrame({c: np.asarray(out[c], float) for c in out
                             if c.startswith("query_pc")})

    monitor = DriftMonitor().fit(axes(0.5))
    assert not monitor.score(axes(0.5)).drifted
    shifted = monitor.score(axes(0.9))
    assert shifted.drifted and "query_pc1" in shifted.drifted_columns, shifted.drifted_columns


def test_hnsw_finds_what_exact_search_finds(docs: Path) -> None:
    build_index("flat", docs, chunk=60, overlap=10, kind="flat")
    build_index("hnsw", docs, chunk=60, overlap=10, kind="hnsw")
    assert airlock.get_model_version("hnsw@1").manifest["options"]["kind"] == "hnsw"
    queries = ["bread", "serving predictions", "policy rules", "drift windows"]
    a, b = load_index("flat@1").search(queries, k=3), load_index("hnsw@1").search(queries, k=3)
    assert a["chunk_id"].tolist() == b["chunk_id"].tolist()


def test_a_table_corpus(tmp_path: Path) -> None:
    table = pd.DataFrame({"doc_id": ["a", "b"], "text": ["cats purr and sleep",
                                                         "rockets fly to orbit"]})
    build_index("kb", table)
    assert query_index("kb@1", "space launch", k=1)[0]["doc_id"] == "b"
    table.to_parquet(tmp_path / "corpus.parquet")
    v = build_index("kb", tmp_path / "corpus.parquet")
    assert v.manifest["options"]["corpus"]["digest"] == \
        airlock.get_model_version("kb@1").manifest["options"]["corpus"]["digest"]


def test_chunk_spans() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    spans = chunk_spans(text, 20, 6)
    pieces = [text[s:e].strip() for s, e in spans]
    assert pieces[0] == "alpha beta gamma" and all(len(p) <= 20 for p in pieces)
    words = set(text.split())
    assert all(set(p.split()) <= words for p in pieces)  # no word is cut
    assert " ".join(pieces).split()[-1] == "kappa" and spans[-1][1] == len(text)
    for (s1, e1), (s2, _) in itertools.pairwise(spans):
        assert s1 < s2 <= e1  # they overlap and advance
    assert chunk_spans("", 10, 2) == [] and chunk_spans("x" * 25, 10, 0) == [
        (0, 10), (10, 20), (20, 25)]


def _nothing_registered() -> None:
    assert [m.name for m in airlock.list_models()] in ([], [DEFAULT_EMBEDDER])


@pytest.mark.parametrize(("case", "message"), [
    ("empty", MSG_NO_DOCS),
    ("binary", MSG_UNDECODABLE),
    ("blank", MSG_NO_CHUNKS),
])
def test_bad_corpora(tmp_path: Path, case: str, message: str) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    if case == "binary":
        make_docs(root, {"ok.md": "fine"})
        (root / "sub").mkdir()
        (root / "sub" / "bad.txt").write_bytes(b"caf\xe9 latin-1")
    if case == "blank":
        make_docs(root, {"a.md": "  \n ", "b.txt": ""})
    if case == "empty":
        make_docs(root, {"picture.png": "x", ".git/config.md": "hidden"})
    with pytest.raises(InvalidInput) as err:
        build_index("kb", root)
    want = {"empty": MSG_NO_DOCS.format(path=root, suffixes=".md, .markdown, .txt, .rst"),
            "binary": MSG_UNDECODABLE.format(doc="sub/bad.txt",
                                             fault="invalid byte 0xe9 at offset 3"),
            "blank": MSG_NO_CHUNKS.format(path=root)}[case]
    assert err.value.message == want
    _nothing_registered()


def test_bad_arguments(docs: Path, airlock_home: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        build_index("kb", docs, chunk=10, overlap=10)
    assert err.value.message == MSG_BAD_CHUNKING.format(size=10, overlap=10)
    with pytest.raises(InvalidInput) as err:
        build_index("kb", pd.DataFrame({"id": ["a"], "body": ["x"]}))
    assert err.value.message == MSG_CORPUS_COLUMNS.format(got=["id", "body"])
    with pytest.raises(NotFound):
        build_index("kb", docs, embedder="nosuch@1")
    with pytest.raises(NotFound):
        build_index("kb", docs.parent / "missing")
    airlock.register_model("lengths", _lengths)
    with pytest.raises(InvalidInput) as err:
        build_index("kb", docs, embedder="lengths@1")
    assert err.value.message == MSG_NOT_AN_EMBEDDER.format(ref="lengths@1", flavor="python")
    with pytest.raises(UsageError):
        build_index("kb@2", docs)
    assert "kb" not in {m.name for m in airlock.list_models()}
    assert not list(airlock_home.rglob("models/kb"))  # no files left behind either


def test_a_corpus_too_large_for_the_memory_limit_is_refused_before_any_work(
        docs: Path, airlock_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    size = sum(len(text.encode()) for rel, text in DOCS.items()  # what would be read
               if Path(rel).suffix in DOC_SUFFIXES and not rel.startswith("."))
    monkeypatch.setenv("AIRLOCK_INDEX_MAX_BYTES", str(size))  # the folder, read, twice over
    with pytest.raises(InvalidInput) as err:
        build_index("kb", docs)
    assert err.value.message == MSG_TOO_LARGE.format(what=f"the corpus {docs}",
                                                     need=2 * size, limit=size)
    # a table corpus is in memory already: its chunks' vectors are what would not fit
    table = pd.DataFrame({"doc_id": [f"d{i}" for i in range(200)],
                          "text": [f"document number {i} about cats" for i in range(200)]})
    monkeypatch.setenv("AIRLOCK_INDEX_MAX_BYTES", "100000")
    with pytest.raises(InvalidInput, match=r"^an index of 200 chunks needs about [\d,]+ "
                                           r"bytes of memory, more than the 100,000 allowed"):
        build_index("kb", table)
    assert "kb" not in {m.name for m in airlock.list_models() if m.name == "kb"}
    monkeypatch.setenv("AIRLOCK_INDEX_MAX_BYTES", str(10 << 20))
    assert build_index("kb", table).ref == "kb@1"


def test_bad_queries(docs: Path) -> None:
    build_index("kb", docs)
    with pytest.raises(InvalidInput) as err:
        query_index("kb@1", "x", k=0)
    assert err.value.message == MSG_BAD_TOP_K.format(got=0)
    predictor = load_model("kb@1").predictor
    with pytest.raises(InvalidInput) as err:
        predictor.predict(pd.DataFrame({"text": ["x"]}))
    assert err.value.message == MSG_NO_QUERY_COLUMN.format(got=["text"])


def _lengths(df: Any) -> Any:
    return df["query"].str.len()
