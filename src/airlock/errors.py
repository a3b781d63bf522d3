"""The one exception tree of airlock.

Every error a user can cause or meet derives from :class:`AirlockError`. Each class carries
the CLI exit code and the HTTP status it maps to, so the CLI and the server never guess::

    AirlockError              exit 2, HTTP 500
    ├── UsageError            exit 2, HTTP 400   bad input, named precisely
    │   ├── InvalidInput      exit 2, HTTP 422   a value of the wrong type or shape
    │   ├── NotFound          exit 2, HTTP 404   unknown run, model, version, alias
    │   └── RequestTimeout    exit 2, HTTP 408   a request body that arrives too slowly
    ├── IntegrityError        exit 2, HTTP 409   an artifact or event hash no longer matches
    ├── UntrustedArtifact     exit 2, HTTP 403   a pickle-based artifact not marked trusted
    ├── StoreVersionError     exit 2, HTTP 500   store from a newer airlock, or not migrated
    ├── StoreUnavailable      exit 2, HTTP 503   database corrupt/emptied, folder read-only
    ├── DependencyMissing     exit 2, HTTP 500   an optional extra is not installed
    ├── CheckFailed           exit 1, HTTP 409   a check or gate ran and did not pass
    ├── Unauthorized          exit 2, HTTP 401   a server call without a valid token
    ├── Forbidden             exit 2, HTTP 403   a valid token whose role does not permit it
    ├── PayloadTooLarge       exit 2, HTTP 413   a request body over the server's limit
    ├── GuardBlocked          exit 2, HTTP 403   an endpoint's input policy blocked the request
    ├── NotificationFailed    exit 2, HTTP 500   an alert could not be delivered (after retries)
    ├── ModelUnavailable      exit 2, HTTP 503   a served model failed and no fallback answered
    │   └── ModelTimeout      exit 2, HTTP 504   … or took longer than the endpoint's timeout
    └── PredictionLogError    exit 2, HTTP 503   rows could not be made durable in the log
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AirlockError",
    "CheckFailed",
    "DependencyMissing",
    "Forbidden",
    "GuardBlocked",
    "IntegrityError",
    "InvalidInput",
    "ModelTimeout",
    "ModelUnavailable",
    "NotFound",
    "NotificationFailed",
    "PayloadTooLarge",
    "PredictionLogError",
    "RequestTimeout",
    "StoreUnavailable",
    "StoreVersionError",
    "Unauthorized",
    "UntrustedArtifact",
    "UsageError",
]


class AirlockError(Exception):
    """Root of every airlock error. ``str(err)`` is one line meant for a person."""

    exit_code: int = 2
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(AirlockError):
    """The caller asked for something that cannot be done as asked."""

    http_status = 400


class InvalidInput(UsageError):
    """A value has the wrong type, shape or range."""

    http_status = 422


class NotFound(UsageError):
    """An unknown run, experiment, model, version, alias or artifact."""

    http_status = 404


class IntegrityError(AirlockError):
    """Stored content no longer matches its recorded sha256 (artifact or audit event)."""

    http_status = 409


class UntrustedArtifact(AirlockError):
    """A pickle-based artifact that nobody marked as trusted."""

    http_status = 403


class StoreVersionError(AirlockError):
    """The store's schema is newer than this airlock, or older and not yet migrated."""


class DependencyMissing(AirlockError):
    """An optional dependency (an extra) is needed for this operation."""


class CheckFailed(AirlockError):
    """A check or gate ran to completion and did not pass."""

    exit_code = 1
    http_status = 409


class Unauthorized(AirlockError):
    """A server endpoint that needs a bearer token got none, or a wrong one."""

    http_status = 401


class Forbidden(AirlockError):
    """A valid token whose roles do not permit the request."""

    http_status = 403


class PayloadTooLarge(AirlockError):
    """A request body larger than the server accepts."""

    http_status = 413


class GuardBlocked(AirlockError):
    """A request the endpoint's input policy blocks (HTTP 403, the policy's reason).
    ``redacted`` holds the request's rows (a pyarrow Table) with every checked text redacted,
    for the prediction log."""

    http_status = 403

    def __init__(self, message: str, redacted: Any = None) -> None:
        super().__init__(message)
        self.redacted = redacted


class NotificationFailed(AirlockError):
    """A notification could not be delivered (after its retries)."""


class ModelUnavailable(AirlockError):
    """A served model raised (not because of the input) and no fallback could answer."""

    http_status = 503


class ModelTimeout(ModelUnavailable):
    """A served model did not answer within the endpoint's ``timeout_ms``."""

    http_status = 504


class PredictionLogError(AirlockError):
    """Rows could not be made durable (disk full, I/O error) or a spool could not be turned
    into a segment: the server should answer 503."""

    http_status = 503


# -- messages shared across the tree (tests import them; not in __all__, which lists the
# exception classes only) ---------------------------------------------------------------------

NO_SUCH_FILE = "no such {what}: {path}"


def file_not_found(path: object, what: str = "file") -> NotFound:
    """The one NotFound for a path that does not exist: ``no such contract file: c.yaml``."""
    return NotFound(NO_SUCH_FILE.format(what=what, path=path))


class StoreUnavailable(AirlockError):
    """The metadata database or the artifact store cannot be read or written as needed: a
    corrupt or emptied database, a read-only folder, missing permissions (exit 2, HTTP 503).
    """

    http_status = 503


class RequestTimeout(UsageError):
    """A client sent its request body slower than the server's ``body_timeout_s``."""

    http_status = 408
