"""Prometheus metrics of one server: requests, latency, batch sizes, in-flight, errors.

With several workers the values live in ``PROMETHEUS_MULTIPROC_DIR`` (set by the server before
the workers start) and ``/metrics`` adds them up across workers.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
                    0.15, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter(
            "airlock_requests", "Inference requests answered",
            ["endpoint", "model", "version", "route", "status"], registry=reg)
        self.latency = Histogram(
            "airlock_request_latency_seconds", "Time from request read to answer",
            ["endpoint", "route"], buckets=_LATENCY_BUCKETS, registry=reg)
        self.batch_size = Histogram(
            "airlock_batch_rows", "Rows scored per model call", ["endpoint", "role"],
            buckets=_BATCH_BUCKETS, registry=reg)
        self.in_flight = Gauge("airlock_in_flight_requests", "Requests being answered",
                               ["endpoint"], registry=reg, multiprocess_mode="livesum")
        self.errors = Counter("airlock_errors", "Requests answered with an error",
                              ["endpoint", "kind"], registry=reg)
        self.reloads = Counter("airlock_model_reloads", "Alias moves picked up",
                               ["endpoint", "role"], registry=reg)
        self.fallbacks = Counter("airlock_fallbacks", "Requests the fallback answered",
                                 ["endpoint", "reason"], registry=reg)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry: Any = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
