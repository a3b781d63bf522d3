"""The web UI: ``airlock ui`` serves read-only pages and their JSON API over the store.

    app = create_app()                  # FastAPI app on the store the settings name
    serve(host="127.0.0.1", port=5000)  # uvicorn until Ctrl-C

Pages (server-rendered HTML, SVG charts, no JavaScript needed): runs (per experiment, the
CLI's filter language, server-side sort, pagination), a run, compare, models, a model, a
version, the audit log. Every page reads the same function as its ``/api/...`` route;
``/openapi.json`` documents them.
"""

from __future__ import annotations

from ._app import create_app
from ._server import LOOPBACK, serve, warnings_for

__all__ = ["LOOPBACK", "create_app", "serve", "warnings_for"]
