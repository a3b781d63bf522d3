"""Run an endpoint under uvicorn: one process, or several workers that uvicorn restarts when
one dies. SIGTERM/SIGINT drain in-flight requests before the models and logs close."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from airlock.errors import DependencyMissing

from ._config import EndpointConfig

__all__ = ["app_from_env", "run"]

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
    """The app factory uvicorn's workers call: the config travels in an environment variable."""
    from ._app import create_app

    return create_app(EndpointConfig.model_validate_json(os.environ[_ENV]))


def run(config: EndpointConfig, *, host: str = "127.0.0.1", port: int = 8080,
        workers: int = 1, log_level: str = "warning", access_log: bool = False,
        graceful_timeout_s: float = 30.0) -> None:
    """Serve until SIGTERM/SIGINT (blocking)."""
    _require()
    import uvicorn

    # Micro-batches are small: OpenMP teams in every model call (HistGradientBoosting,
    # LightGBM, XGBoost) only fight the server's threads and each other for the cores.
    # One thread per worker, unless the operator says otherwise.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    common: dict[str, Any] = {
        "host": host, "port": port, "log_level": log_level, "access_log": access_log,
        "timeout_graceful_shutdown": graceful_timeout_s, "timeout_keep_alive": 30,
    }
    if workers <= 1:
        from ._app import create_app

        uvicorn.run(create_app(config), **common)
        return
    os.environ[_ENV] = config.model_dump_json()
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="airlock-metrics-")
    uvicorn.run("airlock.serve._server:app_from_env", factory=True, workers=workers, **common)
