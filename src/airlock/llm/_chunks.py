"""A corpus of documents and its chunks.

**Corpus**: a folder of text files (``.md``, ``.markdown``, ``.txt``, ``.rst``; hidden
files and folders skipped), each decoded as UTF-8, whose ``doc_id`` is its path relative to
the folder (``/``-separated); or a table (a table file or any table-like) with ``doc_id``
and ``text`` columns. A file that is not UTF-8 text is refused, named.

**Chunks** are measured in characters (what a reader can check, and independent of the
embedder's tokenizer): windows of ``size`` characters, consecutive ones overlapping by
``overlap``. A window ends at the last whitespace in its second half, when there is one, so
words stay whole; the next starts ``overlap`` characters before that end, moved back to
the start of its word (so it always advances). Chunk texts are stripped; an all-whitespace
chunk is dropped. 512 characters is about 100-130 English tokens, well inside MiniLM's
256-token limit. ``chunk_id`` is ``doc_id#n`` (n from 0 within the doc).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from airlock._config import index_max_bytes
from airlock._files import read_table
from airlock.data import to_arrow
from airlock.errors import InvalidInput, file_not_found

__all__ = ["DOC_SUFFIXES", "MSG_BAD_CHUNKING", "MSG_CORPUS_COLUMNS", "MSG_NO_CHUNKS",
           "MSG_NO_DOCS", "MSG_TOO_LARGE", "MSG_UNDECODABLE", "check_memory", "chunk_corpus",
           "chunk_spans", "read_corpus"]

DOC_SUFFIXES = (".md", ".markdown", ".txt", ".rst")
MSG_NO_DOCS = ("no documents in {path}: expected text files ({suffixes})")
MSG_UNDECODABLE = "cannot decode document {doc} as UTF-8 text: {fault}"
MSG_CORPUS_COLUMNS = "a corpus table needs 'doc_id' and 'text' columns (got {got})"
MSG_NO_CHUNKS = "the corpus {path} has no text to index (every document is empty)"
MSG_BAD_CHUNKING = ("chunk size must be >= 1 and overlap >= 0 and smaller than it "
                    "(got chunk {size}, overlap {overlap})")
MSG_TOO_LARGE = ("{what} needs about {need:,} bytes of memory, more than the "
                 "{limit:,} allowed (AIRLOCK_INDEX_MAX_BYTES): index a smaller corpus, or "
                 "raise the limit if this machine has the memory")
_SPACE = " \t\n\r\f\v"


def check_memory(need: int, what: str) -> None:
    """Refuse work whose memory estimate exceeds ``AIRLOCK_INDEX_MAX_BYTES``, before it
    starts."""
    limit = index_max_bytes()
    if need > limit:
        raise InvalidInput(MSG_TOO_LARGE.format(what=what, need=need, limit=limit))


def _read_folder(root: Path) -> pa.Table:
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in DOC_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise InvalidInput(MSG_NO_DOCS.format(path=root, suffixes=", ".join(DOC_SUFFIXES)))
    # the text is held twice while it is chunked: refuse before reading a byte
    check_memory(2 * sum(f.stat().st_size for f in files), f"the corpus {root}")
    ids, texts = [], []
    for f in files:
        rel = f.relative_to(root).as_posix()
        try:
            texts.append(f.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            fault = f"invalid byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
            raise InvalidInput(MSG_UNDECODABLE.format(doc=rel, fault=fault)) from None
        ids.append(rel)
    return pa.table({"doc_id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})


def read_corpus(docs: Any) -> pa.Table:
    """The corpus as a table ``(doc_id, text)`` (module docstring)."""
    if isinstance(docs, str | Path):
        path = Path(docs)
        if path.is_dir():
            return _read_folder(path)
        if not path.exists():
            raise file_not_found(path, "documents folder or table")
        table = read_table(path)
    else:
        table = to_arrow(docs)
    if "doc_id" not in table.column_names or "text" not in table.column_names:
        raise InvalidInput(MSG_CORPUS_COLUMNS.format(got=table.column_names))
    table = table.select(["doc_id", "text"])
    out = pa.table({"doc_id": table.column("doc_id").cast(pa.string()),
                    "text": table.column("text").cast(pa.string())})
    if out.column("doc_id").null_count:
        raise InvalidInput("a corpus table's doc_id must not be missing")
    return out


def check_chunking(size: int, overlap: int) -> None:
    if not (isinstance(size, int) and isinstance(overlap, int) and size >= 1
            and 0 <= overlap < size):
        raise InvalidInput(MSG_BAD_CHUNKING.format(size=size, overlap=overlap))


def chunk_spans(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets of the chunks of ``text`` (module docstring)."""
    check_chunking(size, overlap)
    n, start, spans = len(text), 0, []
    while start < n:
        end = min(start + size, n)
        if end < n:
            cut = max(text.rfind(c, start + size // 2, end) for c in _SPACE)
            if cut > start:
                end = cut
        spans.append((start, end))
        if end >= n:
            break
        nxt = max(end - overlap, start + 1)
        if text[nxt - 1] not in _SPACE:  # inside a word: back to its start if that advances
            back = max(text.rfind(c, start + 1, nxt) for c in _SPACE)
            if back >= start + 1:
                nxt = back + 1
        start = nxt
    return spans


def chunk_corpus(corpus: pa.Table, size: int, overlap: int) -> pa.Table:
    """One row per chunk: ``(doc_id, chunk_id, start, end, text)``."""
    check_chunking(size, overlap)
    cols: dict[str, list[Any]] = {"doc_id": [], "chunk_id": [], "start": [], "end": [],
                                  "text": []}
    for doc, text in zip(corpus.column("doc_id").to_pylist(),
                         corpus.column("text").to_pylist(), strict=True):
        n = 0
        for start, end in chunk_spans(text or "", size, overlap):
            piece = text[start:end].strip()
            if not piece:
                continue
            for key, value in (("doc_id", doc), ("chunk_id", f"{doc}#{n}"), ("start", start),
                               ("end", end), ("text", piece)):
                cols[key].append(value)
            n += 1
    return pa.table({"doc_id": pa.array(cols["doc_id"], pa.string()),
                     "chunk_id": pa.array(cols["chunk_id"], pa.string()),
                     "start": pa.array(cols["start"], pa.int64()),
                     "end": pa.array(cols["end"], pa.int64()),
                     "text": pa.array(cols["text"], pa.string())})
