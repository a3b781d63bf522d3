"""Start the UI with uvicorn; warn when it is reachable beyond this machine without tokens.

On a loopback address reading needs no token. Bound to another address with tokens
configured, every page and API route needs one (sign in at ``/login``); without tokens the
UI serves anyone who can reach it, read-only, after a warning.
"""

from __future__ import annotations

import ipaddress
import sys

from airlock._config import TOKENS_ENV, access_tokens

from ._options import UiConfig

__all__ = ["LOOPBACK", "serve", "url_for", "warnings_for"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warnings_for(host: str) -> list[str]:
    """What to tell the operator before binding ``host``."""
    if is_loopback(host) or access_tokens().enabled:
        return []
    return [f"warning: binding {host} without {TOKENS_ENV}: anyone who can reach this "
            "address can read every run, model and audit event in the store (writes stay "
            "off)"]


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def serve(config: UiConfig | None = None, *, host: str = "127.0.0.1", port: int = 5000,
          log_level: str = "warning") -> None:
    """Serve until Ctrl-C; prints the URL once the socket is bound."""
    import socket

    import uvicorn

    from ._app import create_app

    cfg = config or UiConfig()
    if not is_loopback(host) and access_tokens().enabled:
        cfg = cfg.model_copy(update={"reads_need_token": True})
    app = create_app(cfg)  # a bad AIRLOCK_TOKENS or rules file stops here, before binding
    for line in warnings_for(host):
        sys.stderr.write(line + "\n")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from airlock.errors import UsageError

        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False,
                                           timeout_keep_alive=5))
    access = "sign-in needed to read" if cfg.reads_need_token else "reads open"
    writes = "writes need a token" if app.state.ctx.tokens.enabled else "read-only"
    sys.stdout.write(f"airlock ui: serving {url_for(host, bound)} ({access}, {writes}; "
                     "Ctrl-C to stop)\n")
    sys.stdout.flush()
    server.run(sockets=[sock])
