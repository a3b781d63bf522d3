"""Start the UI with uvicorn; warn when it is reachable beyond this machine without tokens."""

from __future__ import annotations

import ipaddress
import os
import sys

__all__ = ["LOOPBACK", "TOKENS_ENV", "serve", "warnings_for"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKENS_ENV = "AIRLOCK_UI_TOKENS"


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warnings_for(host: str) -> list[str]:
    """What to tell the operator before binding ``host``."""
    if _is_loopback(host) or os.environ.get(TOKENS_ENV, "").strip():
        return []
    return [f"warning: binding {host} without {TOKENS_ENV}: anyone who can reach this "
            "address can read every run, model and audit event in the store"]


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def serve(*, host: str = "127.0.0.1", port: int = 5000, log_level: str = "warning") -> None:
    """Serve until Ctrl-C; prints the URL once the socket is bound."""
    import socket

    import uvicorn

    from ._app import create_app

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
    config = uvicorn.Config(create_app(), log_level=log_level, access_log=False,
                            timeout_keep_alive=5)
    server = uvicorn.Server(config)
    sys.stdout.write(f"airlock ui: serving {url_for(host, bound)} (Ctrl-C to stop)\n")
    sys.stdout.flush()
    server.run(sockets=[sock])
