"""The web UI: ``airlock ui`` serves pages and their JSON API over the store.

    app = create_app(UiConfig(rules=("alerts.yaml",)))   # FastAPI app on the current store
    serve(UiConfig(), host="127.0.0.1", port=5000)      # uvicorn until Ctrl-C

Pages (server-rendered HTML and SVG; a small script only enhances: table sorting, live
refresh of endpoint pages): runs (per experiment, the CLI's filter language, server-side
sort, pagination), a run, compare, models, a model, a version, evaluations and decisions,
the promotion view, contracts, endpoints (serving, performance, drift, alerts), reports and
the audit log. Every page reads the same function as its ``/api/...`` route;
``/openapi.json`` documents them. Writes (alias, protect, approve, promote) need a token of
``AIRLOCK_TOKENS`` whose role permits them, and are audited as its actor.
"""

from __future__ import annotations

from ._app import create_app
from ._options import UiConfig
from ._server import LOOPBACK, serve, warnings_for

__all__ = ["LOOPBACK", "UiConfig", "create_app", "serve", "warnings_for"]
