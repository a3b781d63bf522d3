"""Evaluating alert rules against endpoints' prediction logs, with state, so an ongoing
breach is announced once ("firing") and its end once ("resolved").

Each rule looks at the last ``window`` of its endpoint's log, ``[now - window, now)``. A rule
whose window holds too little data (no requests, fewer than ``min_requests`` or
``min_labels``) has no value: its state is left as it was. Freshness always has a value: the
age of the newest logged row (infinite when the log is empty).

State (per rule: firing or not, since when, last value and time of evaluation) is one small
JSON file, by default under ``AIRLOCK_HOME/monitor/``, written atomically (temp file, fsync,
rename, fsync of the folder) under an exclusive lock, so two schedulers never interleave. A
state change whose notification could not be delivered is not recorded: the next evaluation
announces it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airlock._files import write_atomic
from airlock.errors import InvalidInput

from ._logscan import (
    Labels,
    LogWindow,
    column_null_rate,
    newest_ts,
    parse_duration,
    read_labels,
    scan_windows,
    window_tables,
)
from ._metrics import performance
from ._notify import LogNotifier, Notification, NotificationFailed, Notifier, WebhookNotifier
from ._result import DriftResult, put_figure
from ._rules import AlertRules, load_rules

__all__ = ["AlertRun", "RuleOutcome", "alert_state", "default_state_path", "evaluate_rules",
           "run_alerts"]

STATE_VERSION = 1


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's evaluation: its value (None: not enough data), whether that breaches the
    threshold, whether the rule is firing after this evaluation, and what changed."""

    rule: str
    kind: str
    endpoint: str
    value: float | None
    threshold: float
    breached: bool | None
    firing: bool = False
    change: str | None = None
    since: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; a value that is missing or not finite is None with ``value_reason``."""
        out: dict[str, Any] = {"rule": self.rule, "kind": self.kind,
                               "endpoint": self.endpoint}
        put_figure(out, "value", self.value, self._why())
        out.update({"threshold": self.threshold, "breached": self.breached,
                    "firing": self.firing, "change": self.change, "since": self.since,
                    "details": self.details})
        return out

    def _why(self) -> str:
        """Why the value is missing or infinite (from what was read)."""
        d = self.details
        if self.kind == "freshness":
            return "infinite: no row has been logged yet"
        if "requests" in d:
            return f"too few requests in the window ({d['requests']})"
        if "labelled" in d:
            return f"too few labelled requests in the window ({d['labelled']})"
        if d.get("rows") == 0:
            return "no logged rows in the window"
        return "not computed" if self.value is None else "infinite"


@dataclass(frozen=True)
class AlertRun:
    at: datetime
    outcomes: tuple[RuleOutcome, ...]
    drift: dict[tuple[str, str], DriftResult]
    errors: tuple[str, ...] = ()

    @property
    def firing(self) -> list[str]:
        return [o.rule for o in self.outcomes if o.firing]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "firing": self.firing,
                "rules": [o.to_dict() for o in self.outcomes],
                "notification_errors": list(self.errors)}


# -- computing rule values -----------------------------------------------------------------
class _Context:
    """Caches one evaluation's reads: the window of each (endpoint, window), labels per
    endpoint, drift per (endpoint, window, reference)."""

    def __init__(self, rules: AlertRules, now: datetime) -> None:
        self.rules, self.now = rules, now
        self._windows: dict[tuple[str, str, bool], LogWindow | None] = {}
        self._labels: dict[str, Labels] = {}
        self.drift: dict[tuple[str, str, str], DriftResult | None] = {}

    def span(self, rule: Any) -> tuple[datetime, datetime]:
        return self.now - parse_duration(self.rules.window_of(rule), "window"), self.now

    def window(self, rule: Any, labelled: bool = False) -> LogWindow | None:
        endpoint, key = self.rules.endpoint_of(rule), self.rules.window_of(rule)
        if (endpoint, key, labelled) not in self._windows:
            since, until = self.span(rule)
            labels = None
            if labelled:
                labels = self._labels.setdefault(endpoint, read_labels(endpoint))
            wins = scan_windows(endpoint, window=until - since + timedelta(milliseconds=1),
                                since=since, until=until, labels=labels)
            self._windows[(endpoint, key, labelled)] = wins[0] if wins else None
        return self._windows[(endpoint, key, labelled)]

    def drift_of(self, rule: Any) -> DriftResult | None:
        endpoint = self.rules.endpoint_of(rule)
        key = (endpoint, self.rules.window_of(rule), rule.reference)
        if key not in self.drift:
            self.drift[key] = self._score(rule, endpoint)
        return self.drift[key]

    def _score(self, rule: Any, endpoint: str) -> DriftResult | None:
        import pyarrow as pa

        from ._endpoint import _reference_columns, _usable, skipped_columns
        from ._monitor import DriftMonitor

        since, until = self.span(rule)
        read = window_tables(endpoint, since, until)
        inputs, outputs = read["inputs"], read["outputs"]
        if inputs is None and outputs is None:
            return None
        cols = {**({n: outputs.column(n) for n in outputs.schema.names} if outputs else {}),
                **({n: inputs.column(n) for n in inputs.schema.names} if inputs else {})}
        current = pa.table(cols)
        if inputs is not None:
            current = current.replace_schema_metadata(inputs.schema.metadata)
        reference, ref_cols = _reference_columns(rule.reference)
        skipped = skipped_columns(current, ref_cols)
        names = [n for n in _usable(current, ref_cols) if n not in skipped]
        if not names:
            raise InvalidInput(f"rule {rule.name!r}: the reference {rule.reference} shares no "
                               f"column with what endpoint {endpoint!r} logs unredacted")
        result = DriftMonitor(columns=names).fit(reference, name=str(rule.reference)) \
            .score(current)
        return replace(result, skipped={n: w for n, w in skipped.items()
                                        if n in current.schema.names or "redact" in w})


def _value(rule: Any, ctx: _Context) -> tuple[float | None, dict[str, Any]]:
    kind = rule.kind
    if kind == "freshness":
        newest = newest_ts(ctx.rules.endpoint_of(rule))
        if newest is None:
            return float("inf"), {"newest": None}
        return (ctx.now - newest).total_seconds(), {"newest": newest.isoformat()}
    if kind == "null_rate":
        since, until = ctx.span(rule)
        rate, rows = column_null_rate(ctx.rules.endpoint_of(rule), rule.column, since, until)
        return rate, {"rows": rows, "column": rule.column}
    if kind in ("latency", "error_rate"):
        return _serving_value(rule, ctx.window(rule))
    if kind == "performance":
        perf = performance(w) if (w := ctx.window(rule, labelled=True)) else None
        n = perf["labelled"] if perf else 0
        if perf is None or n < rule.min_labels or perf.get(rule.metric) is None:
            return None, {"labelled": n}
        return float(perf[rule.metric]), {"labelled": n, "metric": rule.metric}
    return _drift_value(rule, ctx)


def _serving_value(rule: Any, win: LogWindow | None) -> tuple[float | None, dict[str, Any]]:
    import numpy as np

    requests = win.requests if win else 0
    details: dict[str, Any] = {"requests": requests}
    if win is None or requests < rule.min_requests:
        return None, details
    if rule.kind == "latency":
        details["percentile"] = rule.percentile
        return float(np.percentile(win.latencies, rule.percentile)), details
    details["errors"] = win.errors
    return win.errors / requests, details


def _drift_value(rule: Any, ctx: _Context) -> tuple[float | None, dict[str, Any]]:
    result = ctx.drift_of(rule)
    if result is None:
        return None, {"rows": 0}
    if rule.kind == "drift_share":
        return result.drift_share, {"drifted_columns": result.drifted_columns,
                                    "rows": result.current_rows}
    col = result.columns.get(rule.column)
    if col is None:
        raise InvalidInput(f"rule {rule.name!r}: column {rule.column!r} is not compared "
                           "(not in both the reference and the logged inputs)")
    method = rule.statistic or col.method
    value = col.statistic if method == col.method else col.statistics.get(method)
    return (None if value is None else float(value)), {
        "column": rule.column, "statistic": method, "drifted": col.drifted,
        "rows": result.current_rows}


def evaluate_rules(rules: AlertRules, *, now: datetime | None = None) -> tuple[
        list[RuleOutcome], dict[tuple[str, str], DriftResult]]:
    """Every rule's value and breach at ``now`` (no state, no notification)."""
    at = now or datetime.now(UTC)
    ctx = _Context(rules, at)
    out = []
    for rule in rules.rules:
        value, details = _value(rule, ctx)
        breached = None if value is None else rule.breached(value)
        out.append(RuleOutcome(rule.name, rule.kind, rules.endpoint_of(rule), value,
                               rule.threshold_value, breached, bool(breached),
                               details=details))
    drift = {(e, ref): r for (e, _w, ref), r in ctx.drift.items() if r is not None}
    return out, drift


# -- state ---------------------------------------------------------------------------------
def default_state_path(rules_path: str | Path) -> Path:
    """``AIRLOCK_HOME/monitor/alerts-<name>-<hash of the rules file's path>.json``."""
    from airlock._config import settings

    path = Path(rules_path).absolute()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return settings().home / "monitor" / f"alerts-{path.stem}-{digest}.json"


def _load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"alert state file {path} is not readable JSON ({exc}); move it "
                           "away to start afresh") from None
    rules = doc.get("rules") if isinstance(doc, dict) else None
    return rules if isinstance(rules, dict) else {}


def alert_state(rules_path: str | Path, state_path: str | Path | None = None
                ) -> dict[str, dict[str, Any]]:
    """What the last ``run_alerts`` of the rules file kept, per rule name: ``firing``,
    ``since``, ``last_value``, ``last_evaluated``, ``threshold``; empty when it never ran
    (read only: nothing is evaluated, locked or written)."""
    path = Path(state_path) if state_path is not None else default_state_path(rules_path)
    return {str(k): dict(v) for k, v in _load_state(path).items() if isinstance(v, dict)}


def _save_state(path: Path, rules: dict[str, Any]) -> None:
    data = json.dumps({"version": STATE_VERSION, "rules": rules}, indent=2, sort_keys=True)
    write_atomic(path, data + "\n")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -- one run ------------------------------------------------------------------------------
def notifiers_for(rules: AlertRules) -> list[Notifier]:
    out: list[Notifier] = []
    hook = rules.notify.webhook
    if hook is not None:
        out.append(WebhookNotifier(hook.url, timeout=hook.timeout, retries=hook.retries,
                                   headers=hook.headers))
    if rules.notify.log:
        out.append(LogNotifier())
    if rules.notify.audit:
        from ._history import AuditNotifier

        out.append(AuditNotifier())
    return out


def _transition(o: RuleOutcome, prev: dict[str, Any], at: str) -> tuple[RuleOutcome, str | None]:
    was = bool(prev.get("firing"))
    if o.breached is None:  # no data: the state stays as it was
        return replace(o, firing=was, since=prev.get("since")), None
    if o.breached and not was:
        return replace(o, firing=True, since=at), "firing"
    if not o.breached and was:
        return replace(o, firing=False, since=None), "resolved"
    return replace(o, since=prev.get("since") if was else None), None


def _announce(o: RuleOutcome, change: str, at: str,
              notifiers: Sequence[Notifier]) -> list[str]:
    note = Notification(o.rule, change, o.value, o.threshold, o.endpoint, at,
                        {"kind": o.kind, **o.details})
    errors = []
    for n in notifiers:
        try:
            n.send(note)
        except NotificationFailed as exc:
            errors.append(str(exc))
    return errors


def run_alerts(rules: AlertRules | str | Path, *, state_path: str | Path | None = None,
               now: datetime | None = None,
               notifiers: Sequence[Notifier] | None = None) -> AlertRun:
    """Evaluate every rule, announce what changed since the last run, keep the new state."""
    if not isinstance(rules, AlertRules):
        if state_path is None:
            state_path = default_state_path(rules)
        rules = load_rules(rules)
    if state_path is None:
        raise InvalidInput("run_alerts needs a state_path when given parsed rules")
    path = Path(state_path)
    at_dt = now or datetime.now(UTC)
    at = at_dt.isoformat()
    sinks = notifiers_for(rules) if notifiers is None else list(notifiers)
    with _locked(path):
        state = _load_state(path)
        outcomes, drift = evaluate_rules(rules, now=at_dt)
        final, errors = [], []
        for o in outcomes:
            prev = state.get(o.rule) or {}
            new, change = _transition(o, prev, at)
            failed = _announce(new, change, at, sinks) if change else []
            errors += failed
            if failed:  # not delivered: keep the old state so the next run announces it
                new = replace(new, firing=bool(prev.get("firing")), since=prev.get("since"))
            else:
                new = replace(new, change=change)
            final.append(new)
            state[o.rule] = {"firing": new.firing, "since": new.since,
                             "last_value": new.to_dict()["value"], "last_evaluated": at,
                             "threshold": new.threshold}
        _save_state(path, state)
    return AlertRun(at_dt, tuple(final), drift, tuple(errors))
