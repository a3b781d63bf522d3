"""`airlock serve`: an endpoint over HTTP (Open Inference Protocol v2 + MLflow scoring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._common import fail


def serve_command(
    ref: str | None = typer.Argument(None, help="A model reference, e.g. adult-income@production."),
    config: Path | None = typer.Option(None, "--config", "-c",
                                       help="An endpoint YAML (routes, shadow, fallback…)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port", "-p", min=0, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, max=64),
    max_batch_size: int | None = typer.Option(None, "--max-batch-size", min=1),
    max_wait_ms: float | None = typer.Option(None, "--max-wait-ms", min=0),
    no_batching: bool = typer.Option(False, "--no-batching", help="Score each request alone."),
    timeout_ms: float | None = typer.Option(None, "--timeout-ms", min=1),
    log_level: str = typer.Option("warning", "--log-level"),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log"),
) -> None:
    """Serve a model (or an endpoint config) until Ctrl-C / SIGTERM, which drain first."""
    from airlock.serve import EndpointConfig, load_endpoint_config, run

    if (ref is None) == (config is None):
        fail("give a model reference or --config endpoint.yaml (one of them)")
    cfg = load_endpoint_config(config) if config else EndpointConfig.for_ref(str(ref))
    cfg = _override(cfg, max_batch_size, max_wait_ms, no_batching, timeout_ms)
    _preflight(cfg)
    run(cfg, host=host, port=port, workers=workers, log_level=log_level.lower(),
        access_log=access_log)


def _override(cfg: Any, size: int | None, wait: float | None, off: bool,
              timeout: float | None) -> Any:
    batching: dict[str, Any] = {}
    if size is not None:
        batching["max_batch_size"] = size
    if wait is not None:
        batching["max_wait_ms"] = wait
    if off:
        batching["enabled"] = False
    update: dict[str, Any] = {}
    if batching:
        update["batching"] = cfg.batching.model_copy(update=batching)
    if timeout is not None:
        update["timeout_ms"] = timeout
    return cfg.model_copy(update=update) if update else cfg


def _preflight(cfg: Any) -> None:
    """Fail fast, with one line, on a reference that does not resolve (before uvicorn)."""
    from airlock.registry import resolve

    refs = [r.model for r in cfg.routes] + [r for r in (cfg.shadow, cfg.fallback) if r]
    for ref in refs:
        resolve(ref)
