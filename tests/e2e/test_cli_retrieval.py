"""`airlock retrieval build | query` as a user drives them, in a subprocess: an index over a
hand-made folder with the default embedder (registered on first use), queried as a table
and as JSON, then evaluated by `airlock rag eval --retriever kb@1` on labelled cases (its
groundedness by the registered embedder, `--embed all-minilm-l6-v2@1`), so the real
retriever feeds the RAG evaluation; and one-line errors (exit 2) that register
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.test_rag_eval import write_jsonl
from tests.integration.test_retrieval_index import make_docs

from airlock.llm import DEFAULT_EMBEDDER, MSG_NO_DOCS, MSG_UNDECODABLE
from airlock.registry import MSG_BAD_TOP_K

from .test_cli import one_line_error

ROOT = Path(__file__).resolve().parents[2]

CASES = [
    {"id": "bread", "query": "How long does bread bake?", "relevant": ["cooking.txt"],
     "reference_answer": "forty minutes"},
    {"id": "serve", "query": "Which protocols does the server answer on?",
     "relevant": ["serving.md"]},
    {"id": "alias", "query": "How does a protected alias move?",
     "relevant": [{"id": "gates/policy.md", "grade": 2}]},
    {"id": "drift", "query": "Where is drift measured?", "relevant": ["monitor.md"]},
]


def cli(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home), "COLUMNS": "80",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    env.pop("AIRLOCK_STORE_URI", None)
    return subprocess.run([sys.executable, "-m", "airlock", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300, check=False)


def test_build_query_and_rag_eval(airlock_home: Path, tmp_path: Path) -> None:
    make_docs(tmp_path / "docs")
    res = cli("retrieval", "build", "--docs", "docs", "--name", "kb", "--chunk", "120",
              "--overlap", "20", "--json", home=airlock_home, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    built = json.loads(res.stdout)
    assert built["ref"] == "kb@1" and built["embedder"]["ref"] == f"{DEFAULT_EMBEDDER}@1"
    assert built["chunking"]["documents"] == 5 and built["kind"] == "flat"

    res = cli("retrieval", "query", "kb@1", "baking bread in an oven", "-k", "3", "--json",
              home=airlock_home, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    hits = json.loads(res.stdout)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert set(hits[0]) == {"rank", "doc_id", "chunk_id", "score", "text"}
    assert hits[0]["doc_id"] == "cooking.txt" and "flour" in hits[0]["text"]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]

    res = cli("retrieval", "query", "kb@1", "drift alerts", "-k", "2", home=airlock_home,
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "monitor.md#0" in res.stdout and "kb@1: top 2" in res.stdout
    assert all(len(line) <= 80 for line in res.stdout.splitlines())

    write_jsonl(tmp_path / "cases.jsonl", CASES)
    write_jsonl(tmp_path / "answers.jsonl", [
        {"id": "bread", "answer": "Bake the dough in a hot oven for forty minutes. "
                                  "Saturn has beautiful rings made of ice."}])
    res = cli("rag", "eval", "--data", "cases.jsonl", "--retriever", "kb@1", "--k", "1,3",
              "--answers", "answers.jsonl", "--embed", f"{DEFAULT_EMBEDDER}@1",
              "--n-boot", "200", "--json", home=airlock_home, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    ev = json.loads(res.stdout)
    assert ev["stored"] and ev["model"]["ref"] == "kb@1" and ev["model"]["flavor"] == "index"
    assert ev["overall"]["hit_rate@3"]["value"] == 1.0
    assert ev["overall"]["recall@1"]["value"] >= 0.75
    top = {c["id"]: c["retrieved"][0]["doc_id"] for c in ev["cases"]}
    assert top["bread"] == "cooking.txt" and top["drift"] == "monitor.md"
    # groundedness by the registered embedder: the invented sentence is unsupported
    bread = next(c for c in ev["cases"] if c["id"] == "bread")
    assert bread["unsupported"] == ["Saturn has beautiful rings made of ice."]


def test_errors_are_one_line_and_register_nothing(airlock_home: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    err = one_line_error(cli("retrieval", "build", "--docs", "empty", "--name", "kb",
                             home=airlock_home, cwd=tmp_path))
    assert err == "error: " + MSG_NO_DOCS.format(path="empty",
                                                 suffixes=".md, .markdown, .txt, .rst")
    make_docs(tmp_path / "docs", {"a.md": "fine", "b/c.txt": "also fine"})
    (tmp_path / "docs" / "b" / "bad.md").write_bytes(b"\xff\xfe not utf-8")
    err = one_line_error(cli("retrieval", "build", "--docs", "docs", "--name", "kb",
                             home=airlock_home, cwd=tmp_path))
    assert err == "error: " + MSG_UNDECODABLE.format(doc="b/bad.md",
                                                     fault="invalid byte 0xff at offset 0")
    err = one_line_error(cli("retrieval", "build", "--docs", "docs", "--name", "kb", "-k",
                             "0", home=airlock_home, cwd=tmp_path))
    assert err == "error: " + MSG_BAD_TOP_K.format(got=0)
    err = one_line_error(cli("retrieval", "query", "kb@1", "x", "-k", "0",
                             home=airlock_home, cwd=tmp_path))
    assert err == "error: " + MSG_BAD_TOP_K.format(got=0)
    err = one_line_error(cli("retrieval", "query", "nosuch@1", "x", home=airlock_home,
                             cwd=tmp_path))
    assert "nosuch" in err
    res = cli("models", "list", "--json", home=airlock_home, cwd=tmp_path)
    assert res.returncode == 0 and json.loads(res.stdout) == [], res.stdout
