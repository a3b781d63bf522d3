"""Progressive rollouts: move a canary's weight step by step, roll back on a guardrail breach,
promote through the endpoint's protected alias at 100 %.

    start_rollout("adult-income", "adult-income@7", steps=[5, 25, 50, 100], interval="30m",
                  rules="rollout.yaml")
    run_rollouts(once=True)          # one evaluation of every active rollout (cron, k8s)
    rollout_status("adult-income"); abort_rollout("adult-income", reason="…")

The endpoint's first route is the control and must name a protected (or plain) alias of the
candidate's model (``adult-income@production``); another route must serve the candidate.
Weights live in the store (:class:`airlock.store.RolloutStore`); the serving endpoint reads
them on each reload, so they move without a restart. Each evaluation judges the window of
the prediction log since the step began (after the endpoint's reload interval, so that every
request in it was routed by the step's weights): any guardrail breached rolls back at once
(candidate weight 0, an audit event with the evidence); once the step's interval has passed
and every check passed, the weight advances; a check still inconclusive keeps the step
(the window grows) for at most ``max_windows`` intervals, then rolls back. Reaching 100 %
promotes the candidate with :func:`airlock.gates.promote`; when the alias's policy refuses
(no passing decision), the rollout waits at 100 % (``awaiting-approval``) and each later
evaluation tries again; it completes once the gate passes or somebody moved the alias to the
candidate (``airlock promote … --override --reason``). Approvals as such are not part of
the gates yet: the wait is for a passing decision or an audited override.
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airlock.errors import CheckFailed, NotFound, UsageError
from airlock.store import RolloutRecord, get_store, now_ms

from ._rollout_rules import RolloutRules, load_rollout_rules
from ._rollout_stats import read_window, window_analysis, window_drift

__all__ = ["RolloutStatus", "StepOutcome", "abort_rollout", "evaluate_rollout",
           "rollout_status", "run_rollouts", "start_rollout"]

MSG_NOT_SERVED = ("endpoint {endpoint} has not been served from this store: start `airlock "
                  "serve` with its config (the server announces its routes), then the rollout")
MSG_ONE_ROUTE = ("endpoint {endpoint} has one route ({route}): a rollout needs a second "
                 "route serving the candidate (e.g. {{model: NAME@VERSION, name: canary}})")
MSG_CONTROL = ("endpoint {endpoint}: its first route {route} ({model}) must name an alias of "
               "{name} (NAME@ALIAS), the alias the candidate is promoted to")
MSG_NO_CANDIDATE_ROUTE = ("endpoint {endpoint}: no route serves {ref} (routes: {routes}); "
                          "point a canary route at it first")
MSG_SAME = "{ref} is what the control route {route} serves already: nothing to roll out"
MSG_STEPS = ("--steps must be increasing percentages in (0, 100] ending at 100, "
             "e.g. 5,25,50,100; got {steps}")
MSG_INTERVAL = "--interval must be a positive duration (30m, 2h, 45s); got {interval!r}"
MSG_NO_ROLLOUT = "endpoint {endpoint} has no rollout"
MSG_NO_ACTIVE = "endpoint {endpoint} has no active rollout (the latest, {id}, is {status})"
MSG_REASON = "abort needs a non-empty --reason: it is recorded in the audit log"


@dataclass(frozen=True)
class RolloutStatus:
    """Where a rollout stands: its record, the weights the endpoint is told to serve and
    when the controller judges the step next."""

    rollout: RolloutRecord
    served_weights: dict[str, float] | None
    next_check_at: int | None

    def to_dict(self) -> dict[str, Any]:
        r = self.rollout
        return {**r.to_dict(), "percent": r.steps[r.step] if r.steps else None,
                "served_weights": self.served_weights, "next_check_at": self.next_check_at}


@dataclass(frozen=True)
class StepOutcome:
    """What one evaluation of one rollout did: ``wait`` (the step's interval has not passed,
    no breach), ``hold`` (inconclusive: the step goes on), ``advance``, ``promote``,
    ``awaiting-approval``, ``rollback``, or ``skip`` (another controller holds the lease)."""

    endpoint: str
    rollout_id: str
    action: str
    status: str
    step: int
    weights: dict[str, float]
    reason: str | None = None
    verdict: dict[str, Any] | None = None
    promotion: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "rollout": self.rollout_id, "action": self.action,
                "status": self.status, "step": self.step, "weights": self.weights,
                "reason": self.reason, "verdict": self.verdict, "promotion": self.promotion}


# -- start -------------------------------------------------------------------------------
def _steps(steps: Sequence[float] | str) -> list[float]:
    try:
        values = [float(s) for s in (steps.split(",") if isinstance(steps, str) else steps)]
    except (TypeError, ValueError):
        raise UsageError(MSG_STEPS.format(steps=steps)) from None
    ok = (values and values[-1] == 100 and all(0 < v <= 100 and math.isfinite(v)
                                               for v in values)
          and all(a < b for a, b in itertools.pairwise(values)))
    if not ok:
        raise UsageError(MSG_STEPS.format(steps=",".join(f"{v:g}" for v in values) or steps))
    return values


def _interval(interval: str | float | timedelta) -> float:
    from airlock.monitor import parse_duration

    try:
        seconds = parse_duration(interval, "interval").total_seconds() \
            if not isinstance(interval, int | float) else float(interval)
    except UsageError:
        raise UsageError(MSG_INTERVAL.format(interval=interval)) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(MSG_INTERVAL.format(interval=interval))
    return seconds


def _weights(routes: list[str], control: str, candidate: str, percent: float
             ) -> dict[str, float]:
    out = dict.fromkeys(routes, 0.0)
    out[control], out[candidate] = 100.0 - percent, percent
    return out


def start_rollout(endpoint: str, candidate: str, *, steps: Sequence[float] | str = (
        5, 25, 50, 100), interval: str | float | timedelta = "30m",
                  rules: str | Path | dict[str, Any] | RolloutRules | None = None
                  ) -> RolloutStatus:
    """Start rolling ``candidate`` (NAME@VERSION or NAME@ALIAS) out on ``endpoint``: its
    route gets the first step's share at once. Everything is checked before anything is
    written: the rules, the steps, the endpoint's routes (announced by its server), the
    candidate and its route, no other active rollout on the endpoint."""
    from airlock.registry import resolve

    parsed = load_rollout_rules(rules)
    values, seconds = _steps(steps), _interval(interval)
    store = get_store()
    served = store.rollouts.endpoint(endpoint)
    if served is None or not served.get("routes"):
        raise NotFound(MSG_NOT_SERVED.format(endpoint=endpoint))
    routes: list[dict[str, Any]] = served["routes"]
    if len(routes) < 2:
        raise UsageError(MSG_ONE_ROUTE.format(endpoint=endpoint, route=routes[0]["name"]))
    version = resolve(candidate)
    control = routes[0]
    name, _, alias = str(control["model"]).partition("@")
    if name != version.name or not alias or alias.isdigit():
        raise UsageError(MSG_CONTROL.format(endpoint=endpoint, route=control["name"],
                                            model=control["model"], name=version.name))
    ref = f"{version.name}@{version.version}"
    if resolve(control["model"]).version == version.version:
        raise UsageError(MSG_SAME.format(ref=ref, route=control["name"]))
    chosen = next((r for r in routes[1:] if _serves(r["model"], version.name,
                                                     version.version)), None)
    if chosen is None:
        raise UsageError(MSG_NO_CANDIDATE_ROUTE.format(
            endpoint=endpoint, ref=ref,
            routes=", ".join(f"{r['name']}={r['model']}" for r in routes)))
    names = [str(r["name"]) for r in routes]
    record = store.rollouts.start(
        rollout_id=f"ro-{uuid.uuid4().hex[:12]}", endpoint=endpoint, name=version.name,
        version=version.version, control_route=str(control["name"]),
        candidate_route=str(chosen["name"]), alias=alias, steps=values,
        interval_s=seconds, rules=parsed.to_dict(), rules_sha256=parsed.sha256,
        weights=_weights(names, str(control["name"]), str(chosen["name"]), values[0]))
    return _status(record)


def _serves(model: str, name: str, version: int) -> bool:
    from airlock.errors import AirlockError
    from airlock.registry import resolve

    if model.partition("@")[0] != name:
        return False
    try:
        return resolve(model).version == version
    except AirlockError:
        return False


# -- status and abort ----------------------------------------------------------------------
def _settle_ms(endpoint: str) -> int:
    """How long after a weight change every server routes by it: its reload interval,
    plus a second."""
    served = get_store().rollouts.endpoint(endpoint) or {}
    reload = served.get("reload_interval_s")
    return int(((2.0 if reload is None else float(reload)) + 1.0) * 1000)


def _next_check(r: RolloutRecord) -> int | None:
    if r.status == "awaiting-approval":
        return now_ms()
    if not r.active:
        return None
    return r.step_started_at + int(r.interval_s * 1000 * (r.windows + 1))


def _status(record: RolloutRecord) -> RolloutStatus:
    served = get_store().rollouts.endpoint(record.endpoint) or {}
    return RolloutStatus(record, served.get("weights"), _next_check(record))


def _latest(endpoint: str) -> RolloutRecord:
    found = get_store().rollouts.for_endpoint(endpoint)
    if not found:
        raise NotFound(MSG_NO_ROLLOUT.format(endpoint=endpoint))
    return found[-1]


def rollout_status(endpoint: str) -> RolloutStatus:
    """The endpoint's latest rollout (active or not)."""
    return _status(_latest(endpoint))


def abort_rollout(endpoint: str, *, reason: str) -> RolloutStatus:
    """Stop the endpoint's active rollout: candidate weight 0, audited with ``reason``."""
    reason = (reason or "").strip()
    if not reason:
        raise UsageError(MSG_REASON)
    r = _latest(endpoint)
    if not r.active:
        raise UsageError(MSG_NO_ACTIVE.format(endpoint=endpoint, id=r.id, status=r.status))
    weights = _weights(list(r.weights), r.control_route, r.candidate_route, 0.0)
    done = get_store().rollouts.update(
        r.id, action="rollout.aborted", payload={"reason": reason, "weights": weights},
        holder=None, endpoint_weights=weights, status="aborted", weights=weights,
        reason=reason)
    return _status(done)


# -- one evaluation ------------------------------------------------------------------------
@dataclass
class _Checks:
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, kind: str, outcome: str, **figures: Any) -> None:
        self.items.append({"name": name, "kind": kind, "outcome": outcome, **figures})

    def with_outcome(self, outcome: str) -> list[dict[str, Any]]:
        return [c for c in self.items if c["outcome"] == outcome]


def _comparison(analysis: dict[str, Any], metric: str) -> dict[str, Any]:
    return next(c for c in analysis["comparisons"] if c["metric"] == metric)


def _margin_check(checks: _Checks, name: str, comp: dict[str, Any], margin: float, *,
                  kind: str = "guardrail", enough: bool = True, why: str = "") -> None:
    """Candidate minus control against ``margin`` (higher is worse)."""
    figures = {"lift": comp.get("lift"), "ci_low": comp.get("lift_ci_low"),
               "ci_high": comp.get("lift_ci_high"), "margin": margin}
    low, high = comp.get("lift_ci_low"), comp.get("lift_ci_high")
    if low is None or high is None:
        checks.add(name, kind, "inconclusive", **figures,
                   reason=comp.get("reason") or "not computed")
    elif low > margin:
        checks.add(name, kind, "breach", **figures,
                   reason=f"worse than the control by more than {margin:g}")
    elif not enough:
        checks.add(name, kind, "inconclusive", **figures, reason=why)
    elif high < margin:
        checks.add(name, kind, "pass", **figures)
    else:
        checks.add(name, kind, "inconclusive", **figures,
                   reason=f"not yet shown within {margin:g} of the control")


def _judge(r: RolloutRecord, rules: RolloutRules, since: datetime, until: datetime
           ) -> dict[str, Any]:
    g = rules.guardrails
    drift = g.drift is not None and (g.drift.inputs or g.drift.predictions)
    window = read_window(r.endpoint, [r.control_route, r.candidate_route], since, until,
                         drift=drift)
    srm_p = g.srm.p_value if g.srm is not None else 0.001
    analysis = window_analysis(window, control=r.control_route, candidate=r.candidate_route,
                               weights=r.weights, alpha=rules.alpha, srm_p_value=srm_p)
    variants = analysis["variants"]
    units = {k: int(v["units"]) for k, v in variants.items()}
    checks = _Checks()
    if g.error_rate is not None:
        _margin_check(checks, "error_rate", _comparison(analysis, "error_rate"),
                      g.error_rate.max_increase)
    if g.guard_block_rate is not None:
        _margin_check(checks, "guard_block_rate", _comparison(analysis, "guard_block_rate"),
                      g.guard_block_rate.max_increase)
    if g.latency_p95 is not None:
        enough = min(units.values()) >= 20
        _margin_check(checks, "latency_p95", _comparison(analysis, "latency_p95"),
                      g.latency_p95.max_increase_ms, enough=enough,
                      why="fewer than 20 requests in a variant")
    if g.srm is not None:
        srm = analysis["srm"]
        outcome = "breach" if srm["flagged"] else (
            "inconclusive" if srm["p_value"] is None else "pass")
        checks.add("srm", "guardrail", outcome, p_value=srm["p_value"],
                   threshold=srm["threshold"], observed=srm["observed"],
                   expected=srm["expected"], reason=srm.get("reason"))
    if g.drift is not None:
        for part, on in (("inputs", g.drift.inputs), ("outputs", g.drift.predictions)):
            if not on:
                continue
            d = window_drift(window, control=r.control_route, candidate=r.candidate_route,
                             part=part, min_rows=g.drift.min_rows, columns=g.drift.columns,
                             p_value=g.drift.p_value)
            outcome = "inconclusive" if d["drifted"] is None else (
                "breach" if d["drifted"] else "pass")
            checks.add(f"drift_{'predictions' if part == 'outputs' else part}", "guardrail",
                       outcome, **d)
    acc = rules.success.accuracy
    if acc is not None:
        labelled = min(int(variants[k]["accuracy"]["n"]) for k in variants)
        comp = _comparison(analysis, "accuracy")
        flipped = {**comp, "lift": None if comp.get("lift") is None else -comp["lift"],
                   "lift_ci_low": None if comp.get("lift_ci_high") is None
                   else -comp["lift_ci_high"],
                   "lift_ci_high": None if comp.get("lift_ci_low") is None
                   else -comp["lift_ci_low"]}  # a decrease of accuracy is what is worse
        _margin_check(checks, "accuracy_decrease", flipped, acc.max_decrease, kind="success",
                      enough=labelled >= acc.min_labelled,
                      why=f"fewer than {acc.min_labelled} labelled requests in a variant")
    return {"window": analysis["window"], "units": units, "checks": checks.items,
            "analysis": analysis}


def evaluate_rollout(rollout: RolloutRecord | str, *, holder: str | None = None,
                     now: int | None = None) -> StepOutcome:
    """Judge one active rollout once and act on the verdict (see the module docstring).
    ``holder``: the lease this controller holds on the endpoint (see :func:`run_rollouts`)."""
    store = get_store()
    r = store.rollouts.get(rollout) if isinstance(rollout, str) else rollout
    if not r.active:
        return _outcome(r, "none", r.reason)
    if r.status == "awaiting-approval":
        return _promote(r, holder, None)
    rules = load_rollout_rules(r.rules)
    at = now if now is not None else now_ms()
    since_ms = r.step_started_at + _settle_ms(r.endpoint)
    if at <= since_ms:
        return _outcome(r, "wait", "the endpoint is picking the step's weights up")
    since = datetime.fromtimestamp(since_ms / 1000, UTC)
    verdict = _judge(r, rules, since, datetime.fromtimestamp(at / 1000, UTC))
    checks = verdict["checks"]
    breached = [c for c in checks if c["outcome"] == "breach"]
    if breached:
        reason = "; ".join(f"{c['name']} breached ({c.get('reason')})" for c in breached)
        return _rollback(r, holder, verdict, reason)
    due = r.step_started_at + int(r.interval_s * 1000 * (r.windows + 1))
    if at < due:
        done = store.rollouts.update(r.id, action=None, payload={}, holder=holder,
                                     verdict=verdict)
        return _outcome(done, "wait", None, verdict)
    few = {k: n for k, n in verdict["units"].items() if n < rules.min_requests}
    open_checks = [c for c in checks if c["outcome"] != "pass"]
    if not few and not open_checks:
        return _advance(r, holder, verdict)
    reason = "; ".join(
        [*(f"{k}: {n} requests, fewer than min_requests {rules.min_requests}"
           for k, n in few.items()),
         *(f"{c['name']} inconclusive ({c.get('reason')})" for c in open_checks)])
    if r.windows + 1 >= rules.max_windows:
        return _rollback(r, holder, verdict, f"not shown safe in {rules.max_windows} "
                                             f"windows at {r.steps[r.step]:g} %: {reason}")
    done = store.rollouts.update(r.id, action=None, payload={}, holder=holder,
                                 verdict=verdict, windows=r.windows + 1, reason=reason)
    return _outcome(done, "hold", reason, verdict)


def _outcome(r: RolloutRecord, action: str, reason: str | None,
             verdict: dict[str, Any] | None = None,
             promotion: dict[str, Any] | None = None) -> StepOutcome:
    return StepOutcome(r.endpoint, r.id, action, r.status, r.step, dict(r.weights), reason,
                       verdict, promotion)


def _evidence(verdict: dict[str, Any]) -> dict[str, Any]:
    """What an audit event keeps of a verdict: the window, the requests and every check."""
    return {"window": verdict["window"], "units": verdict["units"],
            "checks": verdict["checks"]}


def _rollback(r: RolloutRecord, holder: str | None, verdict: dict[str, Any],
              reason: str) -> StepOutcome:
    weights = _weights(list(r.weights), r.control_route, r.candidate_route, 0.0)
    done = get_store().rollouts.update(
        r.id, action="rollout.rolled_back",
        payload={"reason": reason, "step": r.step, "percent": r.steps[r.step],
                 "weights": weights, "evidence": _evidence(verdict)},
        holder=holder, endpoint_weights=weights, status="rolled-back", weights=weights,
        verdict=verdict, reason=reason)
    return _outcome(done, "rollback", reason, verdict)


def _advance(r: RolloutRecord, holder: str | None, verdict: dict[str, Any]) -> StepOutcome:
    step = r.step + 1
    percent = r.steps[step]
    weights = _weights(list(r.weights), r.control_route, r.candidate_route, percent)
    done = get_store().rollouts.update(
        r.id, action="rollout.advanced",
        payload={"step": step, "percent": percent, "weights": weights,
                 "evidence": _evidence(verdict)},
        holder=holder, endpoint_weights=weights, step=step, weights=weights,
        step_started_at=now_ms(), windows=0, verdict=verdict, reason=None)
    if percent >= 100:
        return _promote(done, holder, verdict)
    return _outcome(done, "advance", None, verdict)


def _promote(r: RolloutRecord, holder: str | None,
             verdict: dict[str, Any] | None) -> StepOutcome:
    """Move the protected alias through its gate; the endpoint goes back to its config's
    weights (both routes now serve the candidate). Refused: wait at 100 %."""
    from airlock.gates import promote
    from airlock.registry import resolve

    store = get_store()
    try:
        if resolve(f"{r.name}@{r.alias}").version == r.version:  # approved and moved already
            moved: dict[str, Any] = {"name": r.name, "alias": r.alias, "from": r.version,
                                     "to": r.version, "already": True}
        else:
            moved = promote(f"{r.name}@{r.version}", to=r.alias)
    except CheckFailed as exc:
        if r.status == "awaiting-approval" and r.reason == str(exc):
            return _outcome(r, "awaiting-approval", str(exc))
        done = store.rollouts.update(
            r.id, action="rollout.awaiting_approval", payload={"reason": str(exc)},
            holder=holder, status="awaiting-approval", reason=str(exc))
        return _outcome(done, "awaiting-approval", str(exc), verdict)
    done = store.rollouts.update(
        r.id, action="rollout.promoted", payload={"promotion": moved}, holder=holder,
        endpoint_weights=None, status="completed", reason=None)
    return _outcome(done, "promote", None, verdict, moved)


# -- the controller loop -------------------------------------------------------------------
def _default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_rollouts(endpoint: str | None = None, *, once: bool = False,
                 poll_s: float | None = None, lease_s: float = 60.0,
                 holder: str | None = None,
                 on_outcome: Callable[[StepOutcome], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> list[StepOutcome]:
    """Evaluate the active rollouts (of ``endpoint``, or all), each under a lease of
    ``lease_s`` seconds so two controllers never drive one endpoint. ``once``: one
    evaluation each, then return. Otherwise loop every ``poll_s`` seconds (default: a fifth
    of the shortest interval, 0.2-10 s) until ``should_stop()``, or, with ``endpoint``,
    until its rollout has ended. Returns every outcome (``on_outcome`` sees each as it
    happens)."""
    if endpoint is not None:
        _latest(endpoint)  # NotFound for an endpoint that never had a rollout
    me = holder or _default_holder()
    store = get_store()
    outcomes: list[StepOutcome] = []
    held: set[str] = set()
    try:
        while True:
            active = [r for r in store.rollouts.active()
                      if endpoint is None or r.endpoint == endpoint]
            for r in active:
                taken = store.rollouts.acquire(r.endpoint, me, lease_s)
                if taken is not None:
                    out = _outcome(r, "skip", f"the lease is held by {taken}")
                else:
                    held.add(r.endpoint)
                    out = evaluate_rollout(store.rollouts.get(r.id), holder=me)
                outcomes.append(out)
                if on_outcome is not None:
                    on_outcome(out)
            if once or (endpoint is not None and not active) or \
                    (should_stop is not None and should_stop()):
                return outcomes
            shortest = min((r.interval_s for r in active), default=50.0)
            time.sleep(poll_s if poll_s is not None else min(10.0, max(0.2, shortest / 5)))
    finally:
        for name in held:
            store.rollouts.release(name, me)
