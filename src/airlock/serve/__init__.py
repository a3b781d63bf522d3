"""Model serving: Open Inference Protocol v2 and MLflow scoring over one ASGI app, with
weighted and sticky routing, shadow and fallback models, adaptive micro-batching, hot reload
of aliases, a durable prediction log, Prometheus metrics and bearer-token auth."""

from __future__ import annotations

from airlock.predlog import (
    PredictionLog,
    PredictionLogError,
    Redactor,
    log_locations,
    make_batch_records,
    make_feedback,
    make_records,
    read_prediction_log,
    recover_spools,
    scan_prediction_log,
)

from ._app import create_app
from ._config import EndpointConfig, load_endpoint_config
from ._endpoint import Answer, Endpoint, TableHook
from ._server import preflight, run

__all__ = [
    "Answer",
    "Endpoint",
    "EndpointConfig",
    "PredictionLog",
    "PredictionLogError",
    "Redactor",
    "TableHook",
    "create_app",
    "load_endpoint_config",
    "log_locations",
    "make_batch_records",
    "make_feedback",
    "make_records",
    "preflight",
    "read_prediction_log",
    "recover_spools",
    "run",
    "scan_prediction_log",
]
