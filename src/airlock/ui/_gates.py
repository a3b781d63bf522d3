"""What the evaluation, decision and promotion pages show, as JSON-able dicts.

Read through the public Python API: ``airlock.evaluation.get_evaluation`` for a stored
evaluation, ``airlock.registry`` for versions and aliases, the store's evaluation interface
for decisions and protection (the same reads ``airlock gate`` and ``airlock promote`` do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airlock import registry
from airlock.errors import NotFound
from airlock.evaluation import get_evaluation, higher_is_better, significant_regression
from airlock.store import get_store

from ._data import decision_dict, num, protection, version_ref

__all__ = ["decision_detail", "evaluation_detail", "evaluation_list", "promotion_view"]


def _summary(ev_id: str, name: str, row: Mapping[str, Any],
             decisions: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [d for d in decisions if d["evaluation"] == ev_id]
    return {"id": ev_id, "model": name, "version": row["version"], "task": row["task"],
            "created_at": row["created_at"], "dataset": row["dataset_digest"],
            "decisions": [{"id": d["id"], "policy": d["policy"], "passed": d["passed"]}
                          for d in mine]}


def evaluation_list(model: str | None = None) -> dict[str, Any]:
    """Every stored evaluation (of one model, or of all), newest first, with the decisions
    recorded on each."""
    store = get_store()
    names = [model] if model else [m.name for m in registry.list_models()]
    if model:
        registry.list_versions(model)  # NotFound names the model
    out = []
    for name in names:
        decisions = [decision_dict(d) for d in store.evaluations.decisions(name)]
        out += [_summary(r["id"], name, r, decisions)
                for r in store.evaluations.list_for(name)]
    out.sort(key=lambda e: (-(e["created_at"] or 0), e["id"]))
    return {"model": model or "", "evaluations": out}


def evaluation_detail(eval_id: str) -> dict[str, Any]:
    """The stored evaluation (overall with CIs, slices, fairness, calibration, curves,
    baseline deltas) and every decision recorded on it, rule by rule with evidence."""
    ev = get_evaluation(eval_id).result
    model = ev.get("model") or {}
    name, version = model.get("name"), model.get("version")
    decisions: list[dict[str, Any]] = []
    if isinstance(name, str) and isinstance(version, int):
        decisions = [decision_dict(d) for d in get_store().evaluations.decisions(name, version)
                     if d["evaluation_id"] == eval_id]
    return {"id": eval_id, "model": {"name": name, "version": version, "ref": model.get("ref")},
            "task": ev.get("task"), "evaluation": ev, "decisions": decisions}


def decision_detail(eval_id: str, decision_id: str) -> dict[str, Any]:
    """One decision on an evaluation: the policy, and each rule with its value, bound,
    severity, verdict and evidence."""
    d = evaluation_detail(eval_id)
    for dec in d["decisions"]:
        if dec["id"] == decision_id:
            return {"evaluation": {k: d[k] for k in ("id", "model", "task")},
                    "decision": dec}
    raise NotFound(f"decision not found: {decision_id} (on evaluation {eval_id})")


# -- promotion ---------------------------------------------------------------------------
def _newest_evaluation(name: str, version: int, digest: str | None = None
                       ) -> dict[str, Any] | None:
    rows = get_store().evaluations.list_for(name, version)
    if digest is not None:
        rows = [r for r in rows if r["dataset_digest"] == digest]
    return get_evaluation(rows[-1]["id"]).result if rows else None


def _side(ev: Mapping[str, Any] | None, metric: str) -> dict[str, Any]:
    m = (ev or {}).get("overall", {}).get(metric)
    if isinstance(m, Mapping):
        return {"value": num(m.get("value")), "ci_low": num(m.get("ci_low")),
                "ci_high": num(m.get("ci_high"))}
    return {"value": num(m) if isinstance(m, int | float) else None, "ci_low": None,
            "ci_high": None}


def _metrics(cand: Mapping[str, Any] | None,
             cur: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    names = list(dict.fromkeys([*((cand or {}).get("overall") or {}),
                                *((cur or {}).get("overall") or {})]))
    out = []
    for metric in names:
        a, b = _side(cand, metric), _side(cur, metric)
        up = higher_is_better(cand or cur or {}, metric)
        delta = None if a["value"] is None or b["value"] is None else a["value"] - b["value"]
        better = None if delta is None or delta == 0 else (delta > 0) == up
        out.append({"metric": metric, "candidate": a, "current": b, "delta": delta,
                    "higher_is_better": up, "candidate_better": better})
    return out


def _baseline_deltas(cand: Mapping[str, Any] | None, name: str,
                     current: int | None) -> dict[str, Any] | None:
    """The candidate evaluation's paired comparison, when its baseline is the alias's
    version (same rows: the deltas with paired CIs and p-values)."""
    base = (cand or {}).get("baseline") or {}
    model = base.get("model") or {}
    if current is None or model.get("name", name) != name or model.get("version") != current:
        return None
    deltas = base.get("deltas") or {}
    return {"baseline": model.get("ref") or f"{name}@{current}",
            "deltas": [{"metric": m, **{k: d.get(k) for k in
                                        ("candidate", "baseline", "delta", "ci_low", "ci_high",
                                         "p_value")},
                        "significant_regression": significant_regression(cand or {}, m, d)}
                       for m, d in deltas.items()]}


def _verdict(name: str, alias: str, candidate: int, current: int | None,
             guard: dict[str, Any] | None) -> dict[str, Any]:
    """What ``airlock promote NAME@CANDIDATE --to ALIAS`` would do now, and why."""
    if current == candidate:
        return {"outcome": "already", "passed": None, "decision": None, "failing_rules": [],
                "why": f"{name}@{alias} already points at version {candidate}"}
    if guard is None:
        return {"outcome": "move", "passed": None, "decision": None, "failing_rules": [],
                "why": f"{name}@{alias} is not protected: it moves without a gate"}
    sha = guard["policy_sha256"]
    under = [decision_dict(d) for d in get_store().evaluations.decisions(name, candidate)
             if d["policy_sha256"] == sha]
    passing = [d for d in under if d["passed"]]
    if passing:
        d = passing[-1]
        return {"outcome": "move", "passed": True, "decision": d, "failing_rules": [],
                "why": f"decision {d['id']} passed policy {guard['policy']!r} protecting "
                       f"{name}@{alias}"}
    if under:
        d = under[-1]
        failing = [r for r in d["rules"] if r.get("passed") is False]
        blocking = [r for r in failing if r.get("severity") != "warn"]
        rules = "; ".join(f"rule {r.get('index')} `{r.get('text')}`" for r in blocking)
        return {"outcome": "refused", "passed": False, "decision": d, "failing_rules": failing,
                "why": f"decision {d['id']} failed policy {guard['policy']!r} "
                       f"({rules or 'failed'}): only an audited override can move it"}
    return {"outcome": "refused", "passed": None, "decision": None, "failing_rules": [],
            "why": f"{name}@{candidate} has no decision under policy {guard['policy']!r} "
                   f"protecting {name}@{alias}: gate an evaluation of it first, or override"}


def promotion_view(name: str, alias: str, candidate: str | None = None) -> dict[str, Any]:
    """The candidate next to the version ``alias`` points at: the same metrics side by side
    (from each one's newest evaluation, on the same data when there is one), the paired
    baseline deltas when the candidate was compared with that version, and the gate's
    verdict on moving the alias."""
    versions = registry.list_versions(name)  # NotFound names the model
    model = next(m for m in registry.list_models() if m.name == name)
    current = model.aliases.get(alias)
    guard = protection(name, alias)
    if candidate is None or candidate == "":
        if not versions:
            raise NotFound(f"model {name} has no version to promote")
        cand = versions[-1].version
    else:
        cand = registry.get_model_version(version_ref(name, candidate)).version
    cand_ev = _newest_evaluation(name, cand)
    digest = ((cand_ev or {}).get("dataset") or {}).get("digest")
    cur_ev = None
    if current is not None and current != cand:
        cur_ev = (_newest_evaluation(name, current, digest) if digest else None) \
            or _newest_evaluation(name, current)
    same_data = bool(cand_ev and cur_ev and digest and
                     (cur_ev.get("dataset") or {}).get("digest") == digest)
    return {
        "name": name, "alias": alias, "current": current, "candidate": cand,
        "versions": [v.version for v in versions], "aliases": model.aliases,
        "protected": guard,
        "candidate_evaluation": cand_ev and {"id": cand_ev.get("id"),
                                             "dataset": cand_ev.get("dataset")},
        "current_evaluation": cur_ev and {"id": cur_ev.get("id"),
                                          "dataset": cur_ev.get("dataset")},
        "same_data": same_data, "metrics": _metrics(cand_ev, cur_ev),
        "baseline": _baseline_deltas(cand_ev, name, current),
        "verdict": _verdict(name, alias, cand, current, guard),
    }
