"""The production items of a pack, from the audit log and the store: drift checks and alerts
(``drift``), A/B analyses and rollouts (``experiments``) of the endpoints that served the
version.

The log links a version to an endpoint in three ways: a drift check that names it among
the versions that answered (``monitor.checked``), an A/B analysis that saw it answer for a
variant (``experiment.analyzed``), a rollout of it as the candidate (``rollout.*``). Alerts
carry no version: those of a linked endpoint since the version was registered are kept, and
the file says that another version may have been answering then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airlock.errors import NotFound
from airlock.store import EventRecord, Store, VersionRecord

from ._gather import Content, canonical_json

__all__ = ["ALERTS_NOTE", "production_items"]

ALERTS_NOTE = ("alerts of the endpoints that served this version, since it was registered; "
               "an alert carries no version, so another version may have been answering then")


def _served(e: EventRecord, ref: str) -> bool:
    p = e.payload
    if e.action == "monitor.checked":
        return ref in (p.get("versions") or {})
    if e.action == "experiment.analyzed":
        return any(ref in (v or {}) for v in (p.get("versions") or {}).values())
    return e.action.startswith("rollout.") and p.get("candidate") == ref


def production_items(content: Content, status: Callable[..., None], store: Store,
                     version: VersionRecord, events: Sequence[EventRecord]
                     ) -> list[EventRecord]:
    """Add the ``drift`` and ``experiments`` items; returns the events they rest on (for
    the audit slice)."""
    ref = version.ref
    linked = [e for e in events if e.subject.startswith("endpoints/") and _served(e, ref)]
    endpoints = {e.subject for e in linked}
    checks = [e for e in linked if e.action == "monitor.checked"]
    alerts = [e for e in events if e.subject in endpoints and e.action.startswith("alert.")
              and e.time >= version.created_at]
    files = []
    if checks:
        files.append(content.add("production/drift_checks.json",
                                 canonical_json([e.to_dict() for e in checks])))
    if alerts:
        files.append(content.add("production/alerts.json", canonical_json(
            {"note": ALERTS_NOTE, "alerts": [e.to_dict() for e in alerts]})))
    drifted = sum(bool(e.payload.get("drifted_windows")) for e in checks)
    status("drift", bool(checks or alerts), files,
           f"{len(checks)} drift check(s) ({drifted} with drifted windows), "
           f"{len(alerts)} alert change(s)")

    analyses = [e for e in linked if e.action == "experiment.analyzed"]
    results = _records(store.experiments.get, [str(e.payload["experiment"])
                                               for e in analyses])
    runs = [e for e in linked if e.action.startswith("rollout.")]
    rollouts = [{**r, "events": [e.to_dict() for e in runs
                                 if e.payload.get("rollout") == r["id"]]}
                for r in _records(store.rollouts.get, [str(e.payload["rollout"])
                                                       for e in runs])]
    files = []
    if results:
        files.append(content.add("production/experiments.json", canonical_json(results)))
    if rollouts:
        files.append(content.add("production/rollouts.json", canonical_json(rollouts)))
    outcomes = ", ".join(f"{r['id']} {r['status']}" for r in rollouts)
    status("experiments", bool(results or rollouts), files,
           f"{len(results)} A/B analysis(es), {len(rollouts)} rollout(s)"
           + (f": {outcomes}" if outcomes else ""))
    return [*checks, *alerts, *analyses, *runs]


def _records(get: Callable[[str], Any], ids: Sequence[str]) -> list[dict[str, Any]]:
    """Each stored record once, in the order its first event came (a record deleted from
    the store since is left out; its events stay in the audit slice)."""
    out = []
    for rid in dict.fromkeys(ids):
        try:
            out.append(get(rid).to_dict())
        except NotFound:
            continue
    return out
