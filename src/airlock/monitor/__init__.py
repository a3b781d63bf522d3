"""Monitoring: data drift of current data against a reference, from data or from small,
mergeable reference profiles.

``DriftMonitor(...).fit(reference).score(current) -> DriftResult``; ``Profile.from_data(data)``
builds a reference profile in one streamed pass, ``p1.merge(p2)`` rolls profiles up, and
``profile.save(path)`` / ``Profile.load(path)`` keep it (a versioned JSON format, a few KB per
column). ``DriftResult.to_dict()`` is the JSON the CLI prints; ``save_drift_report(result,
path)`` writes the offline drift report (results never render themselves: pages render them).

Served endpoints: ``monitor_endpoint(name, window="1h")`` reads the prediction log in a
stream (serving figures, performance from feedback labels, prediction and input drift per
window; ``save_endpoint_report(report, path)`` writes its page, ``endpoint_sections`` gives its
sections for a page with its own shell); ``run_alerts(rules_yaml)`` evaluates alert rules with
state and notifications (webhook, log), ``alert_state(rules_yaml)`` reads the state the last
run kept, and ``write_prometheus`` exports the gauges. ``record_endpoint_check(report)``
keeps a drift check in the audit log, and alert rules record each firing and resolution
there (``notify: {audit: true}``, the default), for evidence packs.
"""

from __future__ import annotations

from ._alerts import (
    AlertRun,
    RuleOutcome,
    alert_state,
    default_state_path,
    evaluate_rules,
    run_alerts,
)
from ._endpoint import EndpointReport, WindowReport, monitor_endpoint
from ._endpoint_html import endpoint_sections, render_endpoint_report, save_endpoint_report
from ._history import AuditNotifier, record_endpoint_check
from ._logscan import parse_duration, to_datetime
from ._monitor import DriftMonitor
from ._notify import (
    LogNotifier,
    Notification,
    NotificationFailed,
    WebhookNotifier,
    write_prometheus,
)
from ._profile import CategoricalProfile, NumericProfile, Profile
from ._reference import evaluation_reference, record_prediction_profile
from ._report import render_drift_report, save_drift_report
from ._result import ColumnDrift, DriftResult
from ._rules import AlertRules, load_rules

__all__ = ["AlertRules", "AlertRun", "AuditNotifier", "CategoricalProfile", "ColumnDrift",
           "DriftMonitor", "DriftResult", "EndpointReport", "LogNotifier", "Notification",
           "NotificationFailed", "NumericProfile", "Profile", "RuleOutcome", "WebhookNotifier",
           "WindowReport", "alert_state", "default_state_path", "endpoint_sections",
           "evaluate_rules", "evaluation_reference", "load_rules", "monitor_endpoint",
           "parse_duration", "record_endpoint_check", "record_prediction_profile",
           "render_drift_report", "render_endpoint_report", "run_alerts", "save_drift_report",
           "save_endpoint_report", "to_datetime", "write_prometheus"]
