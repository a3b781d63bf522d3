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
    from airlock.serve import EndpointConfig, load_endpoint_config, preflight, run

    if (ref is None) == (config is None):
        fail("give a model reference or --config endpoint.yaml (one of them)")
    cfg = load_endpoint_config(config) if config else EndpointConfig.for_ref(str(ref))
    cfg = _override(cfg, max_batch_size, max_wait_ms, no_batching, timeout_ms)
    endpoint = preflight(cfg)
    url = f"http://{_display_host(host)}:{port}"
    for line in describe(endpoint, url, workers):
        typer.echo(line)
    if workers > 1:
        endpoint = None  # each worker loads its own; the supervisor keeps no model
    _announce_ready(url, host, port)
    run(cfg, host=host, port=port, workers=workers, log_level=log_level.lower(),
        access_log=access_log, endpoint=endpoint)


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


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def describe(endpoint: Any, url: str, workers: int) -> list[str]:
    """What ``airlock serve`` serves, in a few lines of at most 80 columns."""
    cfg = endpoint.config
    total = sum(r.weight for r in cfg.routes) or 1.0
    lines = [f"airlock serve: endpoint {cfg.name}"]
    for route, name, slot in zip(cfg.routes, endpoint.route_names, endpoint.routes,
                                 strict=True):
        lines.append(f"  {name:<9} {_served(slot)}  {100 * route.weight / total:.3g}%")
    for slot in (endpoint.shadow, endpoint.fallback):
        if slot is not None:
            lines.append(f"  {slot.role:<9} {_served(slot)}")
    batching = (f"batching ≤ {cfg.batching.max_batch_size} rows, "
                f"{cfg.batching.max_wait_ms:g} ms" if cfg.batching.enabled else "no batching")
    lines.append(f"  {workers} worker{'s' if workers > 1 else ''}, {batching}, "
                 f"{'logging on' if cfg.logging.enabled else 'logging off'}")
    lines.append(f"  url       {url}")
    lines.append(f"  POST      /v2/models/{cfg.name}/infer (OIP v2), /invocations (MLflow)")
    return lines


def _served(slot: Any) -> str:
    version = slot.current.version
    got = f"{version.name}@{version.version}"
    return got if slot.ref == got else f"{slot.ref} → {got}"


def _announce_ready(url: str, host: str, port: int) -> None:
    """Print ``ready: URL`` once the server answers /v2/health/ready (a daemon thread: it
    needs no hook into uvicorn and works for any number of workers)."""
    import threading
    import time
    import urllib.error
    import urllib.request

    probe = f"http://{_display_host(host)}:{port}/v2/health/ready"

    def wait() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(probe, timeout=1) as r:
                    if r.status == 200:
                        typer.echo(f"ready: {url}")
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)

    threading.Thread(target=wait, name="airlock-ready", daemon=True).start()
