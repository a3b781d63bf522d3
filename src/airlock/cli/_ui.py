"""`airlock ui`: the web UI (pages and their JSON API) over the store."""

from __future__ import annotations

from pathlib import Path

import typer


def _references(values: list[str] | None, option: str = "--reference") -> dict[str, str]:
    from airlock.errors import UsageError

    out: dict[str, str] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise UsageError(f"{option} takes ENDPOINT=PROFILE, not {value!r}")
        if "://" not in path and not Path(path.strip()).exists():
            from airlock.errors import file_not_found

            raise file_not_found(path.strip(), "reference")
        out[name.strip()] = path.strip()
    return out


def ui_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(5000, "--port", "-p", min=0, max=65535),
    store_uri: str | None = typer.Option(
        None, "--store-uri", help="Metadata store (default: AIRLOCK_STORE_URI or ./.airlock)."),
    rules: list[Path] | None = typer.Option(
        None, "--rules", help="Alert rules (YAML) whose rules and state the endpoint pages "
        "show; repeatable."),
    reference: list[str] | None = typer.Option(
        None, "--reference", help="ENDPOINT=PROFILE: the reference of an endpoint's input "
        "drift (a saved profile or data); repeatable."),
    prediction_reference: list[str] | None = typer.Option(
        None, "--prediction-reference", help="ENDPOINT=PROFILE: the reference of an "
        "endpoint's prediction drift (default: the profile recorded when the served version "
        "was evaluated); repeatable."),
    window: str = typer.Option("1h", "--window", help="Endpoint pages' default window."),
    refresh: int = typer.Option(10, "--refresh", min=0, max=3600,
                                help="Endpoint pages refresh every N seconds (0: never)."),
    log_level: str = typer.Option("warning", "--log-level"),
) -> None:
    """Serve the web UI until Ctrl-C; prints its URL. Writes (alias, protect, promote) need
    AIRLOCK_TOKENS (ACTOR:ROLE=TOKEN entries, comma-separated)."""
    try:
        from airlock.ui import UiConfig, serve
    except ImportError as exc:  # pragma: no cover - the extra is missing
        from airlock.errors import DependencyMissing

        raise DependencyMissing(f"airlock ui needs the 'ui' extra: pip install "
                                f"'airlock[ui]' ({exc})") from None
    from airlock.monitor import parse_duration

    parse_duration(window, "--window")
    if store_uri:
        from airlock._config import use_store_uri

        use_store_uri(store_uri)
    config = UiConfig(rules=tuple(rules or ()), references=_references(reference),
                      prediction_references=_references(prediction_reference,
                                                        "--prediction-reference"),
                      window=window, refresh_seconds=refresh)
    serve(config, host=host, port=port, log_level=log_level.lower())
