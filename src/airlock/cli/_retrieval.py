"""`airlock retrieval`: build a vector index over a folder (or table) of documents as a
registered version, and query it. The index is a retriever: `airlock rag eval --retriever
kb@1` evaluates it and `airlock serve kb@1` answers `query` columns with it."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import JSON_OPTION, console, print_json, table

app = typer.Typer(help="Retrieval indexes over your documents: build, query.",
                  no_args_is_help=True)


@app.command("build")
def build_command(
    docs: Path = typer.Option(..., "--docs", help="A folder of text/markdown files (doc_id: "
                              "the path relative to it) or a table file with doc_id, text."),
    name: str = typer.Option(..., "--name", "-n", help="The index's model name, e.g. kb."),
    embedder: str | None = typer.Option(None, "--embedder", help="An embedder version "
                                        "(default: the shipped all-MiniLM-L6-v2, registered "
                                        "on first use)."),
    chunk: int = typer.Option(512, "--chunk", help="Chunk size in characters."),
    overlap: int = typer.Option(64, "--overlap", help="Overlap of consecutive chunks, in "
                                "characters."),
    k: int = typer.Option(5, "--k", "-k", help="Chunks a query returns by default."),
    kind: str = typer.Option("auto", "--kind", help="auto (exact below 20,000 chunks, HNSW "
                             "above), flat or hnsw."),
    description: str | None = typer.Option(None, "--description", help="A description."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Chunk, embed and index the documents; register the index as the next version."""
    from airlock.llm import build_index

    v = build_index(name, docs, embedder=embedder, chunk=chunk, overlap=overlap, k=k,
                    kind=kind, description=description)
    opts = v.manifest["options"]
    if as_json:
        print_json({"ref": v.ref, "name": v.name, "version": v.version,
                    "sha256": v.manifest["sha256"], "kind": opts["kind"],
                    "embedder": {"ref": opts["embedder"]["ref"],
                                 "sha256": opts["embedder"]["sha256"]},
                    "chunking": opts["chunking"], "corpus": opts["corpus"]})
        return
    c = opts["chunking"]
    console().print(f"registered {v.ref}: {c['chunks']:,} chunks of {c['documents']:,} "
                    f"documents ({opts['kind']} index)")
    console().print(f"embedder {opts['embedder']['ref']}, corpus "
                    f"{opts['corpus']['digest'][:12]}…, chunks of {c['size']} characters "
                    f"overlapping by {c['overlap']}")


@app.command("query")
def query_command(
    ref: str = typer.Argument(..., help="An index version, e.g. kb@1 or kb@production."),
    text: str = typer.Argument(..., help="The query."),
    k: int = typer.Option(5, "--k", "-k", help="How many chunks to return."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The top k chunks for a query, best first."""
    from airlock.llm import query_index

    hits = query_index(ref, text, k=k)
    if as_json:
        print_json(hits)
        return
    table(f"{ref}: top {k}", ["rank", "score", "chunk", "text"],
          [[h["rank"], round(h["score"], 3), h["chunk_id"], _snippet(h["text"])]
           for h in hits])


def _snippet(text: str, width: int = 48) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"
