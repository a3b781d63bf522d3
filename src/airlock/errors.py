"""The one exception tree of airlock.

Every error a user can cause or meet derives from :class:`AirlockError`. Each class carries
the CLI exit code and the HTTP status it maps to, so the CLI and the server never guess::

    AirlockError              exit 2, HTTP 500
    ├── UsageError            exit 2, HTTP 400   bad input, named precisely
    │   ├── InvalidInput      exit 2, HTTP 422   a value of the wrong type or shape
    │   └── NotFound          exit 2, HTTP 404   unknown run, model, version, alias
    ├── IntegrityError        exit 2, HTTP 409   an artifact or event hash no longer matches
    ├── UntrustedArtifact     exit 2, HTTP 403   a pickle-based artifact not marked trusted
    ├── StoreVersionError     exit 2, HTTP 500   store from a newer airlock, or not migrated
    ├── DependencyMissing     exit 2, HTTP 500   an optional extra is not installed
    └── CheckFailed           exit 1, HTTP 409   a check or gate ran and did not pass
"""

from __future__ import annotations

__all__ = [
    "AirlockError",
    "CheckFailed",
    "DependencyMissing",
    "IntegrityError",
    "InvalidInput",
    "NotFound",
    "StoreVersionError",
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
