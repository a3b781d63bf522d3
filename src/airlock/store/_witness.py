"""The audit chain's head, kept outside the database too: ``audit/head.json`` in the
artifact store, signed with an HMAC key that is not in the database (see ``_config``).

The file is a lower bound: after every committed write that appended events it records
the newest event's number and hash (a later head is never overwritten by an earlier one).
``events verify`` checks that the database still holds that event with that hash, so an
emptied, replaced or truncated database, or a deleted tail, is detected. A crash between
the commit and this write leaves the file one head behind, never ahead.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass

from airlock._config import audit_key
from airlock.errors import IntegrityError

from ._artifacts import ArtifactStore

__all__ = ["HEAD_FILE", "ChainWitness", "SignedHead"]

HEAD_FILE = "audit/head.json"


@dataclass(frozen=True, slots=True)
class SignedHead:
    seq: int
    hash: str


def _mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"airlock-audit-head\x1f{seq}\x1f{digest}".encode(),
                    hashlib.sha256).hexdigest()


class ChainWitness:
    """Reads and advances the signed head file of one artifact store."""

    def __init__(self, artifacts: ArtifactStore) -> None:
        self._artifacts = artifacts

    @property
    def where(self) -> str:
        return self._artifacts.url(HEAD_FILE)

    def exists(self) -> bool:
        return self._artifacts.exists(HEAD_FILE)

    def _read_raw(self) -> dict[str, object] | None:
        if not self._artifacts.exists(HEAD_FILE):
            return None
        with self._artifacts.open(HEAD_FILE) as fh:
            raw = fh.read()
        try:
            body = json.loads(raw)
        except ValueError:
            raise IntegrityError(f"the signed audit head {self.where} is not JSON") from None
        if not isinstance(body, dict) or not {"seq", "hash", "mac"} <= body.keys():
            raise IntegrityError(f"the signed audit head {self.where} is malformed")
        return body

    def read(self) -> SignedHead | None:
        """The signed head, or None when there is none; IntegrityError if it was forged."""
        body = self._read_raw()
        if body is None:
            return None
        seq, digest = body["seq"], body["hash"]
        if not isinstance(seq, int) or not isinstance(digest, str):
            raise IntegrityError(f"the signed audit head {self.where} is malformed")
        key = audit_key(create=False)
        if key is None or not hmac.compare_digest(str(body["mac"]), _mac(key, seq, digest)):
            raise IntegrityError(
                f"the signed audit head {self.where} does not verify with the audit key "
                "(edited, or signed with another key)")
        return SignedHead(seq, digest)

    def record(self, seq: int, digest: str) -> None:
        """Advance the head to event ``seq`` (called after the commit). Best effort: a
        store that cannot write it (read-only) keeps the older head, which still bounds."""
        with contextlib.suppress(OSError, IntegrityError), self._locked():
            body = self._read_raw()
            old = None if body is None else body.get("seq")
            if isinstance(old, int) and old >= seq:
                return
            key = audit_key()
            assert key is not None
            text = json.dumps({"seq": seq, "hash": digest, "mac": _mac(key, seq, digest)})
            self._artifacts.put_bytes(text.encode(), HEAD_FILE)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        local = self._artifacts.local_path(HEAD_FILE)
        if local is None:  # object stores: last writer wins (heads only move forward)
            yield
            return
        import fcntl

        local.parent.mkdir(parents=True, exist_ok=True)
        with open(local.with_name("head.lock"), "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
