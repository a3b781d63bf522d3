"""Run an endpoint under uvicorn: one process, or several workers that uvicorn restarts when
one dies. SIGTERM/SIGINT drain in-flight requests before the models and logs close."""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
from typing import Any

from airlock.errors import DependencyMissing

from ._config import EndpointConfig

__all__ = ["app_from_env", "preflight", "run", "settle_heap", "uvicorn_options"]

_ENV = "AIRLOCK_SERVE_CONFIG"


def _require() -> None:
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise DependencyMissing(f"serving needs the serve extra: pip install 'airlock[serve]' "
                                f"({exc.name} is missing)") from None


def app_from_env() -> Any:
    """The app factory uvicorn's workers call. The environment variable holds the path of a
    0600 file with the config, never the config itself: tokens written in the YAML must not
    be readable in the workers' environment (``/proc/PID/environ``)."""
    from pathlib import Path

    from ._app import create_app
    from ._protocol import http_protocol

    config = EndpointConfig.model_validate_json(Path(os.environ[_ENV]).read_bytes())
    http_protocol(config.header_timeout_s)  # this worker's protocol class reads it
    endpoint = preflight(config)  # this worker's models, loaded before it serves
    settle_heap()
    return create_app(config, endpoint=endpoint)


def settle_heap() -> None:
    """Collect once, then freeze everything alive (the models and the libraries they pulled
    in: numpy, scikit-learn, pandas, Arrow, ~10^6 objects) out of the garbage collector's
    reach. Without it every full collection walks all of them: measured 2-6 per 13 s of 1-row
    traffic at up to 330 ms each, the whole of the p99. Objects made later are collected as
    usual. Called by the processes airlock runs (never by :func:`create_app`, which may live
    in somebody else's process)."""
    gc.collect()
    gc.freeze()


def uvicorn_options(config: EndpointConfig) -> dict[str, Any]:
    """The uvicorn settings every airlock server runs with (tests start theirs with them)."""
    from ._protocol import http_protocol

    return {"timeout_keep_alive": 30, "http": http_protocol(config.header_timeout_s)}


def _config_file(config: EndpointConfig) -> str:
    """The config in a new file only this user can read (removed when the server exits)."""
    fd, path = tempfile.mkstemp(prefix="airlock-endpoint-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, config.model_dump_json().encode())
    finally:
        os.close(fd)
    return path


def run(config: EndpointConfig, *, host: str = "127.0.0.1", port: int = 8080,
        workers: int = 1, log_level: str = "warning", access_log: bool = False,
        graceful_timeout_s: float = 30.0, endpoint: Any = None) -> None:
    """Serve until SIGTERM/SIGINT (blocking). ``endpoint``: an :class:`Endpoint` for
    ``config`` whose models are loaded already (one worker only; else the models are loaded
    here, as :func:`preflight` does, before uvicorn starts)."""
    _require()
    import uvicorn

    # Micro-batches are small: OpenMP teams in every model call (HistGradientBoosting,
    # LightGBM, XGBoost) only fight the server's threads and each other for the cores.
    # One thread per worker, unless the operator says otherwise.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    common: dict[str, Any] = {
        "host": host, "port": port, "log_level": log_level, "access_log": access_log,
        "timeout_graceful_shutdown": graceful_timeout_s, **uvicorn_options(config),
    }
    if workers <= 1:
        from ._app import create_app

        endpoint = endpoint if endpoint is not None else preflight(config)
        settle_heap()
        uvicorn.run(create_app(config, endpoint=endpoint), **common)
        return
    path = _config_file(config)
    os.environ[_ENV] = path
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="airlock-metrics-")
    try:
        uvicorn.run("airlock.serve._server:app_from_env", factory=True, workers=workers,
                    **common)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def preflight(config: EndpointConfig) -> Any:
    """Everything that can fail at start-up, checked before uvicorn starts (whose failed
    start-up is a traceback and exit 3): each reference resolves, each model file is there,
    matches its sha256 and is trusted (the model is loaded), auth can protect what the config
    says, guard policies load, the prediction-log spool is writable. Raises the
    :class:`~airlock.errors.AirlockError` that names the fault; returns the
    :class:`Endpoint` with its models loaded (a one-worker server serves it as it is)."""
    from ._auth import Authenticator
    from ._endpoint import Endpoint

    Authenticator(config.auth)
    endpoint = Endpoint(config)
    for slot in endpoint.slots:
        slot.load()
    if config.logging.enabled:
        _check_spool()
    return endpoint


def _check_spool() -> None:
    from airlock.errors import UsageError
    from airlock.predlog import log_locations

    spool = log_locations()[1]
    try:
        spool.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".airlock-probe-", dir=spool)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"the prediction-log spool {spool} is not writable "
                         f"({exc.strerror or type(exc).__name__}); fix its permissions or "
                         "set logging.enabled: false") from None

