"""What the endpoint pages show, from the prediction log through ``airlock.monitor`` (the
reads ``airlock monitor endpoint`` and ``airlock monitor run`` do): serving per window
(requests, errors by status, latency p50/p95/p99, routes), performance on feedback labels,
input and prediction drift per column per window (each naming what it was compared with),
and the alert rules given to ``airlock ui --rules`` with their live value and kept state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airlock.errors import AirlockError
from airlock.monitor import (
    AlertRules,
    EndpointReport,
    alert_state,
    evaluate_rules,
    load_rules,
    monitor_endpoint,
)
from airlock.predlog import logged_endpoints, scan_prediction_log

from ._options import UiConfig

__all__ = ["alerts_for", "endpoint_list", "endpoint_view", "endpoints_serving", "load_rule_files",
           "reference_for"]

DRIFT_KINDS = (("input_drift", "inputs"), ("prediction_drift", "predictions"))


def load_rule_files(paths: tuple[Path, ...]) -> list[tuple[Path, AlertRules]]:
    """Every rules file, parsed (a bad file stops the UI at start, naming the problem)."""
    return [(p, load_rules(p)) for p in paths]


def reference_for(name: str, cfg: UiConfig,
                  rules: list[tuple[Path, AlertRules]]) -> tuple[str | None, str]:
    """The input reference of endpoint ``name`` and where it came from: ``--reference``,
    else the reference of the endpoint's first drift rule, else none."""
    if name in cfg.references:
        return cfg.references[name], "airlock ui --reference"
    for path, parsed in rules:
        for rule in parsed.rules:
            ref = getattr(rule, "reference", None)
            if ref and parsed.endpoint_of(rule) == name:
                if "://" not in str(ref) and not Path(ref).exists():
                    return None, (f"rule {rule.name!r} of {path} names {ref}, which is not "
                                  f"there (relative to {Path.cwd()})")
                return str(ref), f"rule {rule.name!r} of {path}"
    return None, "none given (airlock ui --reference ENDPOINT=PROFILE, or a drift rule)"


def alerts_for(name: str | None, rules: list[tuple[Path, AlertRules]]) -> list[dict[str, Any]]:
    """Each rule (of endpoint ``name``, or of all): its value and breach now (evaluated
    without state or notification) next to the state the last ``airlock monitor run``
    kept (firing, since when, last value)."""
    out = []
    for path, parsed in rules:
        mine = [r for r in parsed.rules if name is None or parsed.endpoint_of(r) == name]
        if not mine:
            continue
        state = alert_state(path)
        live, error = _evaluate(parsed.model_copy(update={"rules": mine}))
        for rule in mine:
            o = live.get(rule.name)
            kept = state.get(rule.name) or {}
            out.append({
                "rule": rule.name, "kind": rule.kind, "endpoint": parsed.endpoint_of(rule),
                "window": parsed.window_of(rule), "file": str(path),
                "threshold": rule.threshold_value,
                "value": o["value"] if o else None, "breached": o["breached"] if o else None,
                "details": o["details"] if o else {}, "error": error.get(rule.name),
                "state": {"firing": bool(kept.get("firing")), "since": kept.get("since"),
                          "last_value": kept.get("last_value"),
                          "last_evaluated": kept.get("last_evaluated")} if kept else None,
            })
    return out


def _evaluate(rules: AlertRules) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Outcomes by rule name; a rule that cannot be evaluated gets its error instead (the
    rules are tried together, then one by one so one bad rule spoils only itself)."""
    try:
        outcomes, _ = evaluate_rules(rules)
        return {o.rule: o.to_dict() for o in outcomes}, {}
    except AirlockError:
        pass
    found: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for rule in rules.rules:
        try:
            (o,), _ = evaluate_rules(rules.model_copy(update={"rules": [rule]}))
            found[o.rule] = o.to_dict()
        except AirlockError as exc:
            errors[rule.name] = exc.message
    return found, errors


def endpoint_list(cfg: UiConfig, rules: list[tuple[Path, AlertRules]]) -> dict[str, Any]:
    """Every endpoint with a prediction log in this store, and its alert rules' state."""
    names = logged_endpoints()  # the current store's segments and spools
    alerts = alerts_for(None, rules) if rules else []
    return {"endpoints": [{
        "name": n,
        "rules": sum(1 for a in alerts if a["endpoint"] == n),
        "firing": [a["rule"] for a in alerts if a["endpoint"] == n and a["state"]
                   and a["state"]["firing"]],
        "breached_now": [a["rule"] for a in alerts if a["endpoint"] == n and a["breached"]],
    } for n in names], "rule_files": [str(p) for p, _ in rules],
        "unknown_endpoints": sorted({a["endpoint"] for a in alerts} - set(names))}


def _drift_table(windows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Per column per window: statistic, p-value, threshold, drifted; what each window
    was compared with; and why a window has no figure."""
    columns: dict[str, None] = {}
    compared: dict[str, None] = {}
    cells = []
    for w in windows:
        d = w.get(key)
        if d is None:
            cells.append({"start": w["start"], "missing": (w.get("missing") or {}).get(
                key, "not computed"), "columns": {}})
            continue
        compared.setdefault(str(d.get("reference") or "—"), None)
        for c in d["columns"]:
            columns.setdefault(c, None)
        cells.append({"start": w["start"], "reference": d.get("reference"),
                      "drift_share": d.get("drift_share"), "drifted": d.get("drifted"),
                      "skipped": d.get("skipped") or {}, "columns": d["columns"]})
    return {"columns": list(columns), "compared_with": list(compared), "windows": cells}


def endpoint_view(name: str, cfg: UiConfig, rules: list[tuple[Path, AlertRules]], *,
                  window: str | None = None, since: str | None = None,
                  until: str | None = None, drift: bool = True
                  ) -> tuple[dict[str, Any], EndpointReport]:
    """The endpoint's report over its log (and the report object, for its page)."""
    reference, reference_from = reference_for(name, cfg, rules)
    report = monitor_endpoint(name, window=window or cfg.window, since=since or None,
                              until=until or None, reference=reference if drift else None,
                              prediction_reference=cfg.prediction_references.get(name)
                              if drift else None, drift=drift)
    d = report.to_dict()
    windows = d["windows"]
    out: dict[str, Any] = {
        "endpoint": name, "window": window or cfg.window, "since": since or "",
        "until": until or "", "drift_on": drift, "reference": reference,
        "reference_from": reference_from, "report": d,
        "drift": {label: _drift_table(windows, key) for key, label in DRIFT_KINDS},
        "statuses": _statuses(windows), "alerts": alerts_for(name, rules),
    }
    return out, report


def _statuses(windows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Requests by HTTP status per window, and each status's share of the requests."""
    codes = sorted({c for w in windows for c in (w.get("statuses") or {})})
    return {"codes": codes, "windows": [
        {"start": w["start"], "requests": w["requests"],
         "counts": {c: (w.get("statuses") or {}).get(c, 0) for c in codes},
         "share": {c: ((w.get("statuses") or {}).get(c, 0) / w["requests"])
                   if w["requests"] else None for c in codes}} for w in windows]}


def endpoints_serving(model: str, version: int) -> list[dict[str, Any]]:
    """The endpoints whose log shows ``model@version`` answering clients (or shadowing):
    how many requests, and when last (one streamed pass over four columns per log)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = []
    for name in logged_endpoints():
        served = shadowed = 0
        newest: int | None = None
        for b in scan_prediction_log(name, columns=["ts", "model", "version",
                                                    "shadow_version"]):
            mine = pc.fill_null(pc.equal(b.column("model"), model), False)
            answered = pc.and_(mine, pc.fill_null(pc.equal(b.column("version"), version),
                                                  False))
            shadow = pc.and_(mine, pc.fill_null(pc.equal(b.column("shadow_version"), version),
                                                False))
            served += int(pc.sum(answered).as_py() or 0)
            shadowed += int(pc.sum(shadow).as_py() or 0)
            hit = pc.filter(b.column("ts"), pc.or_(answered, shadow))
            if len(hit):
                top = pc.max(hit.cast(pa.int64())).as_py()
                newest = top if newest is None or top > newest else newest
        if served or shadowed:
            out.append({"endpoint": name, "requests": served, "shadow_requests": shadowed,
                        "last_ms": newest})
    return out
