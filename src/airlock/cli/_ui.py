"""`airlock ui`: the web UI (read-only pages and their JSON API) over the store."""

from __future__ import annotations

import typer


def ui_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(5000, "--port", "-p", min=0, max=65535),
    store_uri: str | None = typer.Option(
        None, "--store-uri", help="Metadata store (default: AIRLOCK_STORE_URI or ./.airlock)."),
    log_level: str = typer.Option("warning", "--log-level"),
) -> None:
    """Serve the web UI (runs, models, audit log) until Ctrl-C; prints its URL."""
    try:
        from airlock.ui import serve
    except ImportError as exc:  # pragma: no cover - the extra is missing
        from airlock.errors import DependencyMissing

        raise DependencyMissing(f"airlock ui needs the 'ui' extra: pip install "
                                f"'airlock[ui]' ({exc})") from None
    if store_uri:
        from airlock._config import use_store_uri

        use_store_uri(store_uri)
    serve(host=host, port=port, log_level=log_level.lower())
