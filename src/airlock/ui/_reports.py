"""Guard and LLM evaluation reports (and every other report) kept with runs.

``airlock guard eval`` and ``airlock llm eval`` write their results as files: an HTML report
(``--report``), the evaluation's JSON (``--json``; ``llm eval --out DIR`` writes
``evaluation.json``). Logged to a run (``run.log_artifact(path)``), they are stored with it,
content-hashed; this page finds them through the store's artifact index: every ``.html``
artifact is a report (shown sandboxed: no script can run, nothing is fetched), and every
``.json`` artifact that is a guard or LLM evaluation's result is shown as its metrics with
their confidence intervals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from airlock.errors import NotFound
from airlock.store import get_store

__all__ = ["MAX_REPORTS", "report_detail", "report_kind", "report_list"]

MAX_REPORTS = 300  # newest report artifacts scanned
MAX_JSON_BYTES = 8 << 20
HEAD_BYTES = 4096
_TITLE = re.compile(rb"<title>(.*?)</title>", re.I | re.S)
_KINDS = (("airlock guard evaluation", "guard"), ("airlock llm evaluation", "llm"),
          ("airlock evaluation", "evaluation"), ("data drift report", "drift"),
          ("endpoint ", "endpoint"), ("model card", "card"))


def _read(run_id: str, path: str, limit: int) -> bytes:
    with get_store().artifacts.open(f"runs/{run_id}/artifacts/{path}") as fh:
        data: bytes = fh.read(limit + 1)
    return data


def report_kind(doc: Any) -> str | None:
    """``guard`` or ``llm`` for the JSON of a guard or LLM evaluation; else None."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("metrics"), Mapping):
        return None
    if doc.get("kind") == "llm":
        return "llm"
    if {"policy", "stage", "per_type"} <= set(doc):
        return "guard"
    return None


def _html_entry(run_id: str, path: str) -> dict[str, Any]:
    head = _read(run_id, path, HEAD_BYTES)
    m = _TITLE.search(head)
    title = m.group(1).decode("utf-8", "replace").strip() if m else path.rsplit("/", 1)[-1]
    low = title.lower()
    kind = next((k for prefix, k in _KINDS if low.startswith(prefix)), "report")
    shown = title[len("airlock "):] if low.startswith("airlock ") else title
    return {"format": "html", "kind": kind, "title": shown[:1].upper() + shown[1:]}


def _json_entry(run_id: str, path: str, size: int) -> dict[str, Any] | None:
    if size > MAX_JSON_BYTES:
        return None
    try:
        doc = json.loads(_read(run_id, path, MAX_JSON_BYTES))
    except ValueError:
        return None
    kind = report_kind(doc)
    if kind is None:
        return None
    name = doc.get("model_name") or doc.get("model") if kind == "llm" else doc.get("policy")
    return {"format": "json", "kind": kind,
            "title": f"{'LLM' if kind == 'llm' else 'Guard'} evaluation: {name}"}


def report_list(kind: str | None = None) -> dict[str, Any]:
    """The newest report artifacts of runs (HTML reports, guard and LLM evaluation JSON)."""
    store = get_store()
    found = store.runs.find_artifacts([".html", ".json"], limit=MAX_REPORTS)
    out = []
    for run_id, art in found:
        entry = (_html_entry(run_id, art.path) if art.path.endswith(".html")
                 else _json_entry(run_id, art.path, art.size))
        if entry is None or (kind and entry["kind"] != kind):
            continue
        out.append({"run_id": run_id, "path": art.path, "size": art.size,
                    "sha256": art.sha256, **entry})
    runs = {r.id: r for r in store.runs.search(run_ids=sorted({e["run_id"] for e in out}))} \
        if out else {}
    for e in out:
        r = runs.get(e["run_id"])
        e.update(run_name=r.name if r else None, experiment=r.experiment if r else None,
                 start_time=r.start_time if r else None)
    return {"kind": kind or "", "scanned": len(found), "limit": MAX_REPORTS, "reports": out}


def report_detail(run_id: str, path: str) -> dict[str, Any]:
    """A guard or LLM evaluation's JSON kept as a run artifact: its facts and metrics."""
    run = get_store().runs.get(run_id)
    art = next((a for a in run.artifacts if a.path == path), None)
    if art is None or not path.endswith(".json"):
        raise NotFound(f"no such report: {path} (run {run_id})")
    entry = _json_entry(run_id, path, art.size)
    if entry is None:
        raise NotFound(f"{path} (run {run_id}) is not a guard or LLM evaluation's JSON")
    doc = json.loads(_read(run_id, path, MAX_JSON_BYTES))
    metrics = {k: v for k, v in doc["metrics"].items() if isinstance(v, Mapping)}
    facts = {k: doc.get(k) for k in ("id", "model", "model_name", "policy", "policy_sha256",
                                     "stage", "source", "data_sha256", "cases_sha256", "rows",
                                     "n_cases", "seed", "n_boot", "confidence")
             if doc.get(k) is not None}
    return {"run_id": run_id, "run_name": run.name, "path": path, "sha256": art.sha256,
            **entry, "facts": facts, "counts": doc.get("counts") or {},
            "metrics": metrics, "per_type": doc.get("per_type") or [],
            "latency_ms": doc.get("latency_ms") or doc.get("timings") or {}}
