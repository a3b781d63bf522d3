"""Production history in the audit log, where an evidence pack finds it: a drift check of an
endpoint (``monitor.checked``) and every alert that fired or resolved (``alert.firing``,
``alert.resolved``), each an event on ``endpoints/NAME``.

A check keeps what a reviewer needs to read it without the prediction log: the span and
window, the references compared with, the versions that answered (``model@version`` →
requests), and per window its requests, error rate and the verdict of each drift kind
(drifted or not, drift share, drifted columns) or why it is missing.
"""

from __future__ import annotations

from typing import Any

from airlock.errors import AirlockError, NotificationFailed
from airlock.store import EventRecord, get_store

from ._endpoint import EndpointReport
from ._notify import Notification

__all__ = ["AuditNotifier", "record_endpoint_check"]

DRIFT_KINDS = ("input_drift", "prediction_drift")


def _verdict(drift: dict[str, Any] | None) -> dict[str, Any] | None:
    if drift is None:
        return None
    return {k: drift.get(k) for k in ("reference", "drifted", "drift_share",
                                      "drifted_columns")}


def _window(w: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"start": w["start"], "end": w["end"],
                           "requests": w.get("requests"), "error_rate": w.get("error_rate")}
    for kind in DRIFT_KINDS:
        out[kind] = _verdict(w.get(kind))
    label = w.get("label_drift")
    out["label_drift"] = None if label is None else {
        k: label.get(k) for k in ("drifted", "statistic", "p_value") if k in label}
    out["missing"] = dict(w.get("missing") or {})
    return out


def record_endpoint_check(report: EndpointReport) -> EventRecord:
    """Record ``report`` (from :func:`monitor_endpoint`) as a ``monitor.checked`` event on
    the endpoint's subject; returns the event."""
    d = report.to_dict()
    windows = [_window(w) for w in d["windows"]]
    drifted = [w["start"] for w in windows
               if any((w[k] or {}).get("drifted") for k in DRIFT_KINDS)]
    payload = {"endpoint": report.endpoint, "window_seconds": d["window_seconds"],
               "since": d["since"], "until": d["until"], "reference": d["reference"],
               "prediction_reference": d["prediction_reference"],
               "versions": d["versions"], "requests": d["totals"].get("requests"),
               "windows": windows, "drifted_windows": drifted}
    return get_store().events.observe("monitor.checked", f"endpoints/{report.endpoint}",
                                      payload)


class AuditNotifier:
    """Records each alert state change in the audit log (``alert.firing`` or
    ``alert.resolved`` on ``endpoints/NAME``); a store that cannot be written is a failed
    notification, so the state change is announced again on the next run."""

    def send(self, note: Notification) -> None:
        try:
            get_store().events.observe(f"alert.{note.state}", f"endpoints/{note.endpoint}",
                                       note.payload())
        except AirlockError as exc:
            raise NotificationFailed(f"audit log: {exc}") from exc
