"""uvicorn's HTTP protocol with a deadline for the request line and headers.

uvicorn times out idle keep-alive connections only: a client that sends its headers one byte
a minute holds a connection (and its buffers) forever. Here every request's head must arrive
within ``header_timeout`` seconds of its first byte (or of the connection opening); otherwise
the server answers 408 and closes. The body's deadline is the app's (``_app``), where a 408
can still be a JSON answer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["http_protocol"]

_BODY = b'{"error":"the request headers did not arrive in time"}'
_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n"
        + _BODY)


def http_protocol(header_timeout: float) -> Any:
    """The protocol class for uvicorn's ``http=`` option (httptools, which the serve extra
    brings; "auto" when it is missing)."""
    if _base() is object:  # pragma: no cover - uvicorn[standard] brings httptools
        return "auto"
    TimedHttpToolsProtocol.header_timeout = header_timeout
    return TimedHttpToolsProtocol


def _base() -> Any:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover
        return object
    return HttpToolsProtocol


class TimedHttpToolsProtocol(_base()):  # type: ignore[misc]
    header_timeout = 10.0  # set by http_protocol (a class attribute: workers import it)
    _head_timer: Any = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.write(_408)
            self.transport.close()
