"""Model serving: Open Inference Protocol v2 and MLflow scoring over one ASGI app, with
weighted and sticky routing, shadow and fallback models, adaptive micro-batching, hot reload
of aliases, a durable prediction log, Prometheus metrics and bearer-token auth.

    config = load_endpoint_config("endpoint.yaml")   # or EndpointConfig(...)
    run(config, port=8080)                           # what ``airlock serve`` runs
    app = create_app(config)                         # the ASGI app, for your own server

``preflight(config)`` checks everything that can fail at start-up and returns the
:class:`Endpoint` with its models loaded; ``Endpoint(config, input_hooks=…, output_hooks=…)``
adds guardrail hooks (``pa.Table -> pa.Table``). The prediction log it writes is read with
:mod:`airlock.predlog`.
"""

from __future__ import annotations

from ._app import create_app
from ._config import EndpointConfig, load_endpoint_config
from ._endpoint import Endpoint
from ._server import preflight, run

__all__ = ["Endpoint", "EndpointConfig", "create_app", "load_endpoint_config", "preflight",
           "run"]
