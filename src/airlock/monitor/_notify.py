"""Where alerts go: a webhook (POST JSON, with a timeout and retries), the log (Python logging
and one line on stderr), and Prometheus gauges in the node_exporter textfile format.

The webhook body is exactly::

    {"rule": "p95-latency", "state": "firing" | "resolved", "value": 312.5,
     "threshold": 250.0, "endpoint": "adult-income", "at": "2024-03-01T12:00:00+00:00",
     "details": {...}}
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from airlock.errors import NotificationFailed

__all__ = ["LogNotifier", "Notification", "NotificationFailed", "Notifier", "WebhookNotifier",
           "write_prometheus"]

log = logging.getLogger("airlock.monitor.alerts")
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Notification:
    """One state change of one rule."""

    rule: str
    state: str
    value: float | None
    threshold: float
    endpoint: str
    at: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        value = self.value if self.value is None or math.isfinite(self.value) else None
        return {"rule": self.rule, "state": self.state, "value": value,
                "threshold": self.threshold, "endpoint": self.endpoint, "at": self.at,
                "details": dict(self.details)}


class Notifier(Protocol):
    def send(self, note: Notification) -> None: ...


class WebhookNotifier:
    """POSTs the notification's JSON; retries connection errors, timeouts and 408/425/429/5xx
    answers ``retries`` times with exponential backoff (``backoff``, doubled each time)."""

    def __init__(self, url: str, *, timeout: float = 5.0, retries: int = 2,
                 headers: Mapping[str, str] | None = None, backoff: float = 0.5) -> None:
        self.url, self.timeout, self.retries = url, timeout, retries
        self.headers = dict(headers or {})
        self.backoff = backoff

    def send(self, note: Notification) -> None:
        import httpx

        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))
            try:
                resp = httpx.post(self.url, json=note.payload(), timeout=self.timeout,
                                  headers=self.headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if resp.status_code < 300:
                return
            problem = f"HTTP {resp.status_code}"
            if resp.status_code not in RETRY_STATUS:
                break
        raise NotificationFailed(f"webhook {self.url} did not accept the {note.state} "
                                 f"notification of rule {note.rule!r}: {problem}")


class LogNotifier:
    """One line on stderr, and a record on the ``airlock.monitor.alerts`` logger (a warning
    when firing, info when resolved) when logging is configured."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream

    def send(self, note: Notification) -> None:
        value = "no data" if note.value is None else f"{note.value:.6g}"
        line = (f"alert {note.state.upper()}: rule {note.rule} on endpoint {note.endpoint}: "
                f"value {value}, threshold {note.threshold:.6g}")
        if log.hasHandlers():  # else logging's last-resort handler would print it twice
            (log.warning if note.state == "firing" else log.info)(line)
        out = self.stream if self.stream is not None else sys.stderr
        out.write(line + "\n")
        out.flush()


def write_prometheus(path: str | Path, outcomes: Iterable[Any],
                     drift: Mapping[tuple[str, str], Any]) -> Path:
    """Rule values and states and every drift statistic as gauges, written atomically in the
    textfile-collector format (node_exporter ``--collector.textfile.directory``).

    ``drift`` maps (endpoint, reference) to the :class:`DriftResult` of the latest window."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    reg = CollectorRegistry()
    value = Gauge("airlock_alert_value", "Latest value of an alert rule.",
                  ["rule", "kind", "endpoint"], registry=reg)
    firing = Gauge("airlock_alert_firing", "1 when the alert rule is firing.",
                   ["rule", "kind", "endpoint"], registry=reg)
    share = Gauge("airlock_drift_share", "Share of drifted columns in the latest window.",
                  ["endpoint", "reference"], registry=reg)
    stat = Gauge("airlock_drift_statistic", "Drift statistic of a column in the latest window.",
                 ["endpoint", "reference", "column", "method"], registry=reg)
    drifted = Gauge("airlock_drift_column_drifted", "1 when the column drifted.",
                    ["endpoint", "reference", "column"], registry=reg)
    for o in outcomes:
        labels = (o.rule, o.kind, o.endpoint)
        value.labels(*labels).set(float("nan") if o.value is None else o.value)
        firing.labels(*labels).set(1.0 if o.firing else 0.0)
    for (endpoint, reference), result in drift.items():
        share.labels(endpoint, reference).set(result.drift_share)
        for col in result.columns.values():
            drifted.labels(endpoint, reference, col.column).set(1.0 if col.drifted else 0.0)
            for method, v in {**col.statistics, col.method: col.statistic}.items():
                if v is not None:
                    stat.labels(endpoint, reference, col.column, method).set(float(v))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(out), reg)  # writes a temp file and renames it into place
    return out
