"""``rag eval``: run labelled queries through a registered retriever, optionally answer
them, and measure retrieval and answers.

1. The retriever is any registered model version whose ``predict`` takes a table with a
   ``query`` column and returns a table ``(query, rank, doc_id, chunk_id, score, text)``:
   one row per retrieved chunk, or one row per query whose other columns are lists (an
   ``index`` version's answer). Each distinct query is asked once.
2. Chunks become docs: a doc retrieved in several chunks counts once, at the rank of its
   best-ranked chunk; docs are then ranked by that rank (the retriever's order, so its
   scores need not be comparable between queries).
3. Retrieval metrics per k (:mod:`._retrieval`, trec_eval's conventions), context
   precision / recall over the top max-k docs (:mod:`._rag_answers`).
4. Answers from an answers file, a Python function or an OpenAI-compatible endpoint (the
   prompt: :data:`RAG_PROMPT`, or the given template, with ``{query}`` and ``{context}``:
   the top max-k chunk texts); groundedness when an embedder is given; exact match and
   token F1 when the case has a ``reference_answer``; the optional LLM judge.
5. Every metric is a mean over cases with a seeded bootstrap CI over cases (the one engine,
   through :func:`._metrics.bootstrap`). The evaluation is stored (task ``rag``) under the
   retriever's version, with an audit event, unless ``store=False``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from airlock.errors import InvalidInput, UsageError

from ._cases import canonical
from ._client import DEFAULT_KEY_ENV, ChatModel, load_chat_model
from ._metrics import bootstrap
from ._rag_answers import DEFAULT_THRESHOLD, Embed, context_scores, groundedness
from ._rag_cases import read_answers, read_rag_cases
from ._rag_catalogue import RAG_TASK
from ._rag_judge import run_judge
from ._rag_result import RagEvaluation
from ._retrieval import check_ks, retrieval_scores
from ._scores import exact_match, token_f1

__all__ = ["MSG_RETRIEVER_COLUMNS", "RAG_PROMPT", "evaluate_rag"]

RAG_PROMPT = ("Answer the question using only the context.\n\nContext:\n{context}\n\n"
              "Question: {query}\n")
RETRIEVER_COLUMNS = ("query", "rank", "doc_id", "chunk_id", "score", "text")
MSG_RETRIEVER_COLUMNS = ("retriever {ref} returned columns {got}; a retriever returns "
                         "(query, rank, doc_id, chunk_id, score, text)")
_KEEP_TEXT = 500


def _retrieve(ref: str, queries: list[str]) -> tuple[dict[str, Any], pa.Table]:
    """(the version's identity, its output table) for the distinct ``queries``."""
    from airlock.registry import load_model

    lm = load_model(ref)
    v = lm.version
    info = {"ref": v.ref, "name": v.name, "version": v.version, "flavor": v.flavor,
            "sha256": v.manifest.get("sha256")}
    conformed = lm.conform(pa.table({"query": pa.array(queries, pa.string())}))
    try:  # the predictor itself: a retriever returns several rows per query
        outputs = lm.predictor.predict(conformed.to_pandas())
        table = pa.table(outputs)
    except (ValueError, TypeError, KeyError, pa.ArrowException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"retriever {v.ref} could not answer the queries: {first}") \
            from exc
    missing = [c for c in RETRIEVER_COLUMNS if c not in table.column_names]
    if missing:
        raise InvalidInput(MSG_RETRIEVER_COLUMNS.format(ref=v.ref, got=table.column_names))
    return info, _long_form(table.select(list(RETRIEVER_COLUMNS)))


def _long_form(table: pa.Table) -> pa.Table:
    """One row per chunk: a retriever that answers each query with one row of list
    columns (an ``index`` version, as served) is flattened; a long table stays as is."""
    import pyarrow.compute as pc

    rank = table.column("rank").combine_chunks()
    if not (pa.types.is_list(rank.type) or pa.types.is_large_list(rank.type)):
        return table
    parents = pc.list_parent_indices(rank)
    cols = {"query": table.column("query").take(parents)}
    for name in RETRIEVER_COLUMNS[1:]:
        cols[name] = pc.list_flatten(table.column(name).combine_chunks())
    return pa.table(cols)


def _ranked_docs(table: pa.Table, queries: list[str]) -> list[list[dict[str, Any]]]:
    """Per query (in ``queries`` order): its retrieved chunks by rank, each with ``first``
    True on the best-ranked chunk of its doc (the doc's place in the doc ranking)."""
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(pl.col("query").cast(pl.String), pl.col("doc_id").cast(pl.String),
                               pl.col("chunk_id").cast(pl.String), pl.col("text").cast(pl.String),
                               pl.col("rank").cast(pl.Float64), pl.col("score").cast(pl.Float64))
    if frame.select(pl.col("query", "doc_id", "rank").is_null().any()).row(0) != (False,) * 3:
        raise InvalidInput("the retriever returned rows without a query, doc_id or rank")
    frame = frame.sort(["query", "rank"], maintain_order=True).with_columns(
        first=pl.col("doc_id").is_first_distinct().over("query"))
    by_query: dict[str, list[dict[str, Any]]] = {q: [] for q in queries}
    for row in frame.iter_rows(named=True):
        if row["query"] in by_query:
            by_query[row["query"]].append(row)
    return [by_query[q] for q in queries]


def _answers(cases: list[dict[str, Any]], contexts: list[list[str]], *,
             answers: str | Path | Mapping[str, str] | None,
             model: str | Callable[..., Any] | ChatModel | None, model_name: str | None,
             prompt: str, seed: int, timeout: float, api_key_env: str
             ) -> tuple[list[str | None], str | None]:
    if answers is not None and model is not None:
        raise UsageError("give answers or a model, not both")
    ids = [c["id"] for c in cases]
    if answers is not None:
        if isinstance(answers, str | Path):
            got, source = read_answers(answers, ids), Path(answers).name
        else:
            unknown = sorted(set(answers) - set(ids))
            if unknown:
                raise InvalidInput(f"answers: id {unknown[0]!r} is not a case of the data")
            got, source = dict(answers), "answers"
        return [got.get(i) for i in ids], source
    if model is None:
        return [None] * len(cases), None
    chat = load_chat_model(model, model_name=model_name, seed=seed, timeout=timeout,
                           api_key_env=api_key_env)
    try:
        out: list[str | None] = []
        for case, ctx in zip(cases, contexts, strict=True):
            text = prompt.format(query=case["query"], context="\n\n".join(ctx))
            out.append(chat(text, [{"role": "user", "content": text}]).text)
    finally:
        if chat is not model:
            chat.close()
    return out, chat.spec


def evaluate_rag(cases: str | Path | Iterable[Mapping[str, Any]], retriever: str, *,
                 ks: Sequence[int] = (1, 5, 10),
                 answers: str | Path | Mapping[str, str] | None = None,
                 model: str | Callable[..., Any] | ChatModel | None = None,
                 model_name: str | None = None, prompt: str | None = None,
                 prompt_ref: str | None = None, embed: Embed | None = None,
                 threshold: float = DEFAULT_THRESHOLD,
                 judge: str | Callable[..., Any] | ChatModel | None = None,
                 judge_model_name: str | None = None, judge_repeat: int = 1, seed: int = 0,
                 n_boot: int = 1000, timeout: float = 30.0,
                 api_key_env: str = DEFAULT_KEY_ENV, store: bool = True) -> RagEvaluation:
    """Evaluate ``retriever`` (a registered version: ``kb@3``, ``kb@staging``) on the
    cases (module docstring); stored as an evaluation of task ``rag`` unless
    ``store=False``."""
    cuts = check_ks(ks)
    if n_boot < 0:
        raise UsageError(f"n_boot must be >= 0 (got {n_boot})")
    if judge_repeat < 1:
        raise UsageError(f"judge_repeat must be >= 1 (got {judge_repeat})")
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"the groundedness threshold must be in [0, 1] (got {threshold})")
    template = prompt or RAG_PROMPT
    if "{query}" not in template or "{context}" not in template:
        raise UsageError("the prompt template needs {query} and {context}")
    rows, source = read_rag_cases(cases)
    queries = list(dict.fromkeys(c["query"] for c in rows))
    info, table = _retrieve(retriever, queries)
    per_query = dict(zip(queries, _ranked_docs(table, queries), strict=True))
    chunks = [per_query[c["query"]] for c in rows]
    docs = [[ch for ch in cs if ch["first"]] for cs in chunks]
    top = [d[:cuts[-1]] for d in docs]
    contexts = [[str(ch["text"] or "") for ch in cs[:cuts[-1]]] for cs in chunks]
    scores = retrieval_scores(
        [c["id"] for c, d in zip(rows, docs, strict=True) for _ in d],
        [ch["doc_id"] for d in docs for ch in d],
        np.array([-float(i) for d in docs for i in range(len(d))]),
        [c["id"] for c in rows] + [c["id"] for c in rows for _ in c["relevant"]],
        ["\x00none"] * len(rows) + [r["id"] for c in rows for r in c["relevant"]],
        np.array([0] * len(rows) + [r["grade"] for c in rows for r in c["relevant"]],
                 dtype=np.int64), ks=cuts)  # a grade-0 row first: every case, in order
    got, answers_source = _answers(rows, contexts, answers=answers, model=model,
                                   model_name=model_name, prompt=template, seed=seed,
                                   timeout=timeout, api_key_env=api_key_env)
    records = _records(rows, chunks, top, scores, got, cuts)
    if embed is not None:
        answered = [i for i, a in enumerate(got) if a is not None]
        grounding = groundedness([got[i] or "" for i in answered],
                                 [contexts[i] for i in answered], embed, threshold=threshold)
        for i, g in zip(answered, grounding, strict=True):
            records[i]["metrics"]["groundedness"] = g.value
            records[i]["unsupported"] = g.unsupported
            records[i]["sentences"] = [{"text": s, "similarity": sim, "chunk": b}
                                       for s, sim, b in zip(g.sentences, g.similarity,
                                                            g.best_chunk, strict=True)]
    judged: dict[str, Any] | None = None
    judge_sha: str | None = None
    if judge is not None:
        from airlock.store import get_store

        chat = load_chat_model(judge, model_name=judge_model_name, seed=seed, timeout=timeout,
                               api_key_env=api_key_env)
        try:
            result = run_judge(chat, model_name=judge_model_name,
                               queries=[c["query"] for c in rows], answers=got,
                               contexts=contexts, repeat=judge_repeat,
                               artifacts=get_store().artifacts)
        finally:
            if chat is not judge:
                chat.close()
        for rec, value in zip(records, result.per_case(), strict=True):
            rec["metrics"]["judge_score"] = value
        judged = {"judge": chat.spec, "model": judge_model_name, **result.variance()}
        judge_sha = result.prompt_sha256
    results = _bootstrap(records, seed, n_boot)
    cases_sha = hashlib.sha256(b"".join(canonical(c) + b"\n" for c in rows)).hexdigest()
    prompt_info = None
    if answers_source is not None and model is not None:
        prompt_info = {"ref": prompt_ref, "sha256": hashlib.sha256(template.encode()).hexdigest()}
    ident = hashlib.sha256(canonical([cases_sha, info["ref"], info["sha256"], list(cuts),
                                      canonical(got).decode(), answers_source, prompt_info,
                                      threshold,
                                      embed is not None, judge_sha,
                                      judge_repeat if judged else None, seed, n_boot]))
    ev = RagEvaluation(id="ev-rag-" + ident.hexdigest()[:16], retriever=info,
                       prompt=prompt_info, ks=cuts, source=source, cases_sha256=cases_sha,
                       answers=answers_source, results=results, records=records, seed=seed,
                       n_boot=n_boot, threshold=threshold, judge=judged)
    return replace(ev, stored=_save(ev)) if store else ev


def _records(rows: list[dict[str, Any]], chunks: list[list[dict[str, Any]]],
             top: list[list[dict[str, Any]]], scores: Any, got: list[str | None],
             cuts: tuple[int, ...]) -> list[dict[str, Any]]:
    out = []
    for i, case in enumerate(rows):
        relevant = {r["id"]: r["grade"] for r in case["relevant"]}
        metrics: dict[str, float | None] = {
            n: float(v) for n, v in zip(scores.names, scores.values[i], strict=True)}
        cp, cr = context_scores([d["doc_id"] for d in top[i]],
                                [d for d, g in relevant.items() if g >= 1])
        metrics["context_precision"], metrics["context_recall"] = cp, cr
        answer = got[i]
        ref = case["reference_answer"]
        if answer is not None and ref is not None:
            metrics["exact_match"] = exact_match(answer, ref)
            metrics["token_f1"] = token_f1(answer, ref)
        out.append({"id": case["id"], "query": case["query"], "relevant": case["relevant"],
                    "reference_answer": ref, "answer": answer, "metrics": metrics,
                    "retrieved": [{"rank": ch["rank"], "doc_id": ch["doc_id"],
                                   "chunk_id": ch["chunk_id"], "score": ch["score"],
                                   "relevant": relevant.get(ch["doc_id"], 0),
                                   "text": str(ch["text"] or "")[:_KEEP_TEXT]}
                                  for ch in chunks[i][:cuts[-1]]]})
    return out


def _bootstrap(records: list[dict[str, Any]], seed: int, n_boot: int
               ) -> dict[str, dict[str, Any]]:
    """Each metric's mean over the cases where it is defined, with its CI."""
    names = list(dict.fromkeys(n for r in records for n in r["metrics"]))
    acc = {}
    for name in names:
        vals = [r["metrics"].get(name) for r in records]
        den = np.array([v is not None for v in vals], dtype=np.float64)
        if den.any():
            acc[name] = (np.array([v or 0.0 for v in vals], dtype=np.float64), den)
    out = bootstrap(acc, seed, n_boot)
    return {n: out[n] for n in names if n in out}


def _save(ev: RagEvaluation) -> bool:
    """Store ``ev``; False when the same inputs were evaluated (and stored) before."""
    from airlock.errors import NotFound
    from airlock.store import DatasetInfo, get_store

    evals = get_store().evaluations
    try:
        evals.get(ev.id)
        return False
    except NotFound:
        pass
    r = ev.retriever
    evals.save(eval_id=ev.id, name=r["name"], version=r["version"],
               model_sha256=r["sha256"] or "", task=RAG_TASK, result=ev.to_dict(),
               dataset=DatasetInfo(ev.source, ev.cases_sha256,
                                   {"query": "string", "relevant": "list"},
                                   len(ev.records)))
    return True
