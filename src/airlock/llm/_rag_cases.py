"""The labelled cases of ``rag eval`` and the answers file, read through the one JSONL
reader (``airlock._files.read_jsonl``: a bad line names its line number).

A case: ``{"id"?, "query": str, "relevant": [doc id | {"id": doc id, "grade": int >= 0}],
"reference_answer"?: str}``; a bare doc id has grade 1, ``relevant`` may be empty (the case
then scores 0 on the retrieval metrics). An answer: ``{"id": case id, "answer": str}``, at
most one per case."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from airlock._files import read_jsonl
from airlock.errors import InvalidInput

__all__ = ["MSG_ANSWER_ID", "MSG_NO_QUERY", "read_answers", "read_rag_cases"]

MSG_NO_QUERY = "{where}: needs \"query\" (a non-empty string)"
MSG_ANSWER_ID = "{where}: id {id!r} is not a case of the data"
MSG_RELEVANT = ("{where}: \"relevant\" must be a list of doc ids or {{\"id\": doc id, "
                "\"grade\": whole number >= 0}}")
_CASE_KEYS = {"id", "query", "relevant", "reference_answer", "tags", "note"}


def read_rag_cases(data: str | Path | Iterable[Mapping[str, Any]]
                   ) -> tuple[list[dict[str, Any]], str]:
    """Checked cases ``{id, query, relevant: [{id, grade}], reference_answer}`` from a JSONL
    path or dicts; (cases, source name)."""
    if isinstance(data, str | Path):
        items: list[tuple[Any, str]] = read_jsonl(data, "cases file")
        source = Path(data).name
    else:
        items = [(raw, f"case {i}") for i, raw in enumerate(data, start=1)]
        source = "cases"
    cases = [_case(raw, where, n) for n, (raw, where) in enumerate(items, start=1)]
    if not cases:
        raise InvalidInput(f"{source}: no cases to evaluate")
    seen: dict[str, str] = {}
    for case, (_, where) in zip(cases, items, strict=True):
        if case["id"] in seen:
            raise InvalidInput(f"{where}: duplicate id {case['id']!r} (first at "
                               f"{seen[case['id']]})")
        seen[case["id"]] = where
    return cases, source


def _case(raw: Any, where: str, n: int) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: expected a JSON object")
    unknown = sorted(set(raw) - _CASE_KEYS)
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r} (allowed: id, query, "
                           "relevant, reference_answer)")
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput(MSG_NO_QUERY.format(where=where))
    ref = raw.get("reference_answer")
    if ref is not None and not isinstance(ref, str):
        raise InvalidInput(f"{where}: \"reference_answer\" must be a string")
    ident = raw.get("id", f"case-{n}")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or not str(ident):
        raise InvalidInput(f"{where}: \"id\" must be a non-empty string or a number")
    return {"id": str(ident), "query": query, "relevant": _relevant(raw.get("relevant"), where),
            "reference_answer": ref}


def _relevant(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidInput(MSG_RELEVANT.format(where=where))
    out: dict[str, int] = {}
    for item in value:
        if isinstance(item, str | int) and not isinstance(item, bool):
            doc, grade = str(item), 1
        elif isinstance(item, Mapping) and set(item) <= {"id", "grade"} and "id" in item:
            doc, grade = str(item["id"]), item.get("grade", 1)
            if isinstance(grade, bool) or not isinstance(grade, int) or grade < 0:
                raise InvalidInput(MSG_RELEVANT.format(where=where))
        else:
            raise InvalidInput(MSG_RELEVANT.format(where=where))
        if doc in out:
            raise InvalidInput(f"{where}: doc {doc!r} is listed twice in \"relevant\"")
        out[doc] = grade
    return [{"id": d, "grade": g} for d, g in out.items()]


def read_answers(path: str | Path, case_ids: Iterable[str]) -> dict[str, str]:
    """``{case id: answer}`` from an answers JSONL; an id that is not a case, a second
    answer for a case or a malformed line raise InvalidInput naming the line."""
    known = set(case_ids)
    out: dict[str, str] = {}
    for raw, where in read_jsonl(path, "answers file"):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("answer"), str) or \
                not isinstance(raw.get("id"), str | int) or isinstance(raw.get("id"), bool):
            raise InvalidInput(f"{where}: expected {{\"id\": case id, \"answer\": str}}")
        ident = str(raw["id"])
        if ident not in known:
            raise InvalidInput(MSG_ANSWER_ID.format(where=where, id=ident))
        if ident in out:
            raise InvalidInput(f"{where}: a second answer for case {ident!r}")
        out[ident] = raw["answer"]
    return out
