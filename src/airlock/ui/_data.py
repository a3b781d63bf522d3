"""What every page shows, as plain JSON-able dicts: the API returns them, the pages render them.

Everything is read through the public Python API (``airlock``, ``airlock.store``,
``airlock.registry``), on the store the settings name, exactly as the CLI reads it.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi.responses import JSONResponse

from airlock import registry
from airlock.errors import AirlockError, NotFound, UsageError, file_not_found
from airlock.evidence import model_card
from airlock.gates import load_policy
from airlock.store import get_store, parse_filter, parse_order_by

__all__ = [
    "AGGREGATES",
    "MAX_COMPARE",
    "MAX_PER_PAGE",
    "clean",
    "clean_dict",
    "compare_runs",
    "decision_dict",
    "event_list",
    "int_arg",
    "json_response",
    "model_detail",
    "model_list",
    "num",
    "protection",
    "run_detail",
    "runs_table",
    "version_detail",
    "version_ref",
]

AGGREGATES = ("last", "min", "max", "step")
MAX_PER_PAGE = 1000
MAX_COMPARE = 10
MAX_EVENTS = 5000


def clean(obj: Any) -> Any:
    """Non-finite floats become null, so every answer is valid JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    return obj


def clean_dict(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = clean(obj)
    return out


def json_response(obj: dict[str, Any]) -> JSONResponse:
    """``obj`` as the API's answer, serialised once (its values are JSON types already:
    FastAPI's encoder would walk it again, which costs more than the query)."""
    return JSONResponse(clean_dict(obj))


def num(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a missing or non-finite number is ``null``."""
    return value if value is not None and math.isfinite(value) else None


def int_arg(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UsageError(f"{name} must be between {low} and {high}, not {value}")
    return value


# -- runs ------------------------------------------------------------------------------
def runs_table(*, experiment: str | None = None, filter: str | None = None,
               order_by: str | None = None, page: int = 1, per_page: int = 100,
               step: int | None = None, ranges: bool = True) -> dict[str, Any]:
    """One page of runs with every param and metric (last, min, max, and with ``step`` its
    value at that step) as a column; ``ranges=False`` leaves min and max out (a page that
    shows only the last values need not read every point)."""
    int_arg("page", page, 1, 10**9)
    int_arg("per_page", per_page, 1, MAX_PER_PAGE)
    if step is not None:
        int_arg("step", step, -(2**63), 2**63 - 1)
    clauses = parse_filter(filter)
    order = parse_order_by(order_by)
    store = get_store()
    experiment = experiment or None
    total = store.runs.count(experiment=experiment, clauses=clauses)
    found = store.runs.search(experiment=experiment, clauses=clauses, order_by=order,
                              limit=per_page, offset=(page - 1) * per_page)
    spans = store.runs.metric_ranges([r.id for r in found]) if found and ranges else {}
    at = store.runs.metric_at_step([r.id for r in found], step) \
        if found and step is not None else {}
    param_keys = sorted({k for r in found for k in r.params})
    metric_keys = sorted({k for r in found for k in r.metrics})
    rows = []
    for r in found:
        span, there = spans.get(r.id, {}), at.get(r.id, {})
        rows.append({
            "id": r.id, "name": r.name, "experiment": r.experiment, "status": r.status,
            "start_time": r.start_time, "end_time": r.end_time, "user": r.user,
            "params": r.params, "tags": r.tags,
            "metrics": {k: {"last": num(v),
                            **({"min": num(span.get(k, (v, v))[0]),
                                "max": num(span.get(k, (v, v))[1])} if ranges else {}),
                            **({"step": num(there.get(k))} if step is not None else {})}
                        for k, v in r.metrics.items()},
        })
    return {
        "experiment": experiment, "experiments": store.runs.experiments(),
        "filter": filter or "", "order_by": order_by or "", "step": step, "page": page,
        "per_page": per_page, "total": total, "pages": max(1, math.ceil(total / per_page)),
        "param_keys": param_keys, "metric_keys": metric_keys, "runs": rows,
    }


def _history(run_id: str, key: str) -> dict[str, list[Any]]:
    points = get_store().runs.metric_history(run_id, key)
    return {"steps": [p.step for p in points], "values": [num(p.value) for p in points],
            "timestamps": [p.timestamp for p in points]}


def _versions_from_run(run_id: str) -> list[dict[str, Any]]:
    out = []
    for model in registry.list_models():
        for v in registry.list_versions(model.name):
            if v.run_id == run_id:
                out.append({"name": v.name, "version": v.version, "aliases": v.aliases,
                            "flavor": v.flavor})
    return out


def run_detail(run_id: str) -> dict[str, Any]:
    """Everything recorded for one run, with every metric's history and its models."""
    run = get_store().runs.get(run_id)
    out = run.to_dict()
    out["metrics"] = {k: num(v) for k, v in run.metrics.items()}
    out["history"] = {k: _history(run.id, k) for k in sorted(run.metrics)}
    out["models"] = _versions_from_run(run.id)
    return out


def artifact_key(run_id: str, path: str) -> tuple[str, int]:
    """The store key and size of a run's artifact (NotFound unless the run recorded it)."""
    run = get_store().runs.get(run_id)
    for a in run.artifacts:
        if a.path == path:
            return f"runs/{run.id}/artifacts/{a.path}", a.size
    raise file_not_found(f"{path} (run {run_id})", "artifact")


def compare_runs(run_ids: list[str]) -> dict[str, Any]:
    """2 to 10 runs side by side: params and metrics with the differing keys marked, and every
    metric's history per run (for overlaid curves)."""
    ids = list(dict.fromkeys(i for i in run_ids if i))
    if not 2 <= len(ids) <= MAX_COMPARE:
        raise UsageError(f"compare takes 2 to {MAX_COMPARE} distinct run ids, not {len(ids)}")
    runs = [get_store().runs.get(i) for i in ids]
    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})

    def differs(values: list[Any]) -> bool:
        return len({repr(v) for v in values}) > 1

    return {
        "runs": [{"id": r.id, "name": r.name, "experiment": r.experiment, "status": r.status}
                 for r in runs],
        "params": [{"key": k, "values": [r.params.get(k) for r in runs],
                    "differs": differs([r.params.get(k) for r in runs])} for k in params],
        "metrics": [{"key": k, "values": [num(r.metrics.get(k)) for r in runs],
                     "differs": differs([num(r.metrics.get(k)) for r in runs])}
                    for k in metrics],
        "history": {k: {r.id: _history(r.id, k) for r in runs if k in r.metrics}
                    for k in metrics},
    }


# -- models ----------------------------------------------------------------------------
def decision_dict(d: dict[str, Any]) -> dict[str, Any]:
    """A stored decision as the pages show it: policy, verdict, who, and every rule."""
    result = d.get("result") or {}
    return {"id": d["id"], "evaluation": d["evaluation_id"], "policy": d["policy_name"],
            "policy_sha256": d["policy_sha256"], "passed": bool(d["passed"]),
            "created_at": d["created_at"], "by": d["created_by"],
            "rules": list(result.get("rules") or []), "result": result}


def model_list() -> dict[str, Any]:
    return {"models": [m.to_dict() for m in registry.list_models()]}


def protection(name: str, alias: str) -> dict[str, Any] | None:
    found = get_store().evaluations.protection(name, alias)
    if found is None:
        return None
    text = str(found.get("policy") or "")
    try:
        policy_name = load_policy(text).name
    except AirlockError:  # stored by an older airlock: show the text, name unknown
        policy_name = None
    return {"alias": alias, "policy": policy_name, "policy_text": text,
            "policy_sha256": found.get("policy_sha256"), "since": found.get("created_at"),
            "by": found.get("created_by")}


def _alias_history(name: str) -> list[dict[str, Any]]:
    """Every alias event of ``name``: who, when, from, to, the decision or override reason."""
    history = []
    for e in get_store().events.list(subject=f"models/{name}", action="alias."):
        p = e.payload
        override = p.get("override") or {}
        history.append({
            "seq": e.seq, "time": e.time, "actor": e.actor, "action": e.action,
            "alias": p.get("alias"), "from": p.get("from"), "to": p.get("to"),
            "decision": p.get("decision"), "override_reason": override.get("reason"),
            "policy_sha256": p.get("policy_sha256"),
        })
    return history


def model_detail(name: str) -> dict[str, Any]:
    """Versions, aliases, alias history (who, when, from, to, override reason), protection."""
    versions = registry.list_versions(name)  # NotFound names the model
    model = next(m for m in registry.list_models() if m.name == name)
    history = _alias_history(name)
    seen = set(model.aliases) | {str(h["alias"]) for h in history if h["alias"]}
    protected = [found for a in sorted(seen) if (found := protection(name, a)) is not None]
    return {
        "name": name, "description": model.description, "created_at": model.created_at,
        "latest_version": model.latest_version, "aliases": model.aliases,
        "versions": [{"version": v.version, "flavor": v.flavor, "run_id": v.run_id,
                      "created_at": v.created_at, "created_by": v.created_by,
                      "aliases": v.aliases, "description": v.description} for v in versions],
        "alias_history": history, "protected": protected,
    }


def version_ref(name: str, version: str) -> str:
    """``name@3`` or ``name@alias`` from a URL segment (a number names a version)."""
    if not version or "@" in version or "/" in version:
        raise NotFound(f"model version not found: {name}@{version}")
    return f"{name}@{version}"


def version_detail(name: str, version: str) -> dict[str, Any]:
    """Signature, files and sha256, flavor, lineage (run, datasets, evaluations, decisions)."""
    v = registry.get_model_version(version_ref(name, version))
    store = get_store()
    m = v.manifest
    run: dict[str, Any] | None = None
    if v.run_id is not None:
        try:
            r = get_store().runs.get(v.run_id)
            run = {"id": r.id, "name": r.name, "experiment": r.experiment, "status": r.status}
        except NotFound:
            run = {"id": v.run_id, "missing": True}
    evaluations = [
        {"id": e["id"], "task": e["task"], "created_at": e["created_at"],
         "dataset": e["dataset_digest"]} for e in store.evaluations.list_for(v.name, v.version)]
    decisions = [decision_dict(d) for d in store.evaluations.decisions(v.name, v.version)]
    return {
        "name": v.name, "version": v.version, "ref": v.ref, "flavor": v.flavor,
        "aliases": v.aliases, "description": v.description, "created_at": v.created_at,
        "created_by": v.created_by, "sha256": m.get("sha256"), "files": m.get("files", {}),
        "signature": m.get("signature", {}), "libraries": m.get("libraries", {}),
        "python": m.get("python"), "trusted": m.get("trusted"),
        "pickle_based": m.get("pickle_based"), "datasets": m.get("datasets", []),
        "run": run, "evaluations": evaluations, "decisions": decisions,
        "alias_history": [h for h in _alias_history(v.name) if h["to"] == v.version],
    }


def model_card_html(name: str, version: str) -> str:
    return model_card(version_ref(name, version), format="html")


# -- audit log -------------------------------------------------------------------------
def event_list(*, subject: str | None = None, action: str | None = None,
               actor: str | None = None, limit: int = 200) -> dict[str, Any]:
    """The newest ``limit`` events (oldest first) matching the filters, and the chain check
    (the whole chain, not only what is shown)."""
    int_arg("limit", limit, 1, MAX_EVENTS)
    events = get_store().events
    if actor:  # the store filters by subject and action; the actor is matched here
        found = [e for e in events.list(subject=subject or None, action=action or None)
                 if e.actor == actor][-limit:]
    else:
        found = events.list(subject=subject or None, action=action or None, limit=limit)
    return {"subject": subject or "", "action": action or "", "actor": actor or "",
            "limit": limit, "events": [e.to_dict() for e in found],
            "verify": events.verify().to_dict()}
