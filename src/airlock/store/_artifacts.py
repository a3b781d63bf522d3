"""The artifact store: content-addressed files on any fsspec filesystem.

Local writes (and downloads into a local cache) go through ``write_atomic``: a unique temporary
file in the destination folder, fsync'd and renamed into place, so a crash never leaves half a
file under a recorded name. Object stores (s3://) write whole objects, which is atomic by
construction. A tree (a model version's folder) that fails part-way is removed again, so no
half of it stays under its prefix.

On S3, a call that meets a 500, 502, 503, 504, a throttling answer (SlowDown) or a dropped
connection is retried with an exponential backoff and jitter (botocore's ``standard`` retry
mode: ``AWS_MAX_ATTEMPTS`` attempts, default 3, each pause at most 20 s; ``AWS_RETRY_MODE``
chooses another mode), and s3fs tries a throttled call at most :data:`S3_RETRIES` times: a
lasting fault ends in one StoreUnavailable after a bounded time, not a hang.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import fsspec

from airlock._files import write_atomic
from airlock.errors import (
    AirlockError,
    DependencyMissing,
    IntegrityError,
    NotFound,
    StoreUnavailable,
    UsageError,
    file_not_found,
)

__all__ = ["ArtifactStore", "sha256_file"]

CHUNK = 1 << 20
#: s3fs's own tries of a throttled call (each is botocore's retried attempts).
S3_RETRIES = 2


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class ArtifactStore:
    """Files under one root URI (a local folder or e.g. ``s3://bucket/prefix``)."""

    def __init__(self, uri: str, **storage_options: Any) -> None:
        self.uri = uri.rstrip("/")
        try:
            self.fs, root = fsspec.core.url_to_fs(self.uri, **_with_retries(self.uri,
                                                                             storage_options))
        except ImportError as exc:
            raise DependencyMissing(
                f"the artifact URI {uri!r} needs an extra: {exc}. For s3:// install "
                "'airlock[s3]'"
            ) from exc
        except ValueError as exc:
            raise UsageError(f"AIRLOCK_ARTIFACT_URI is not usable: {uri!r} ({exc})") from exc
        self.root = root.rstrip("/")
        if hasattr(self.fs, "retries") and "retries" not in storage_options:
            self.fs.retries = S3_RETRIES  # s3fs: a class attribute, not an option
        self.is_local = "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )

    # -- addressing ---------------------------------------------------------------------
    def _full(self, key: str) -> str:
        key = key.strip("/")
        if not key or ".." in key.split("/"):
            raise UsageError(f"invalid artifact path {key!r}")
        return f"{self.root}/{key}"

    def url(self, key: str) -> str:
        """A URI for ``key`` that fsspec can open."""
        full = self._full(key)
        return full if self.is_local else self.fs.unstrip_protocol(full)

    def local_path(self, key: str) -> Path | None:
        """The file's path when the store is local (no copy needed), else None."""
        return Path(self._full(key)) if self.is_local else None

    # -- writing ------------------------------------------------------------------------
    def put_file(self, src: Path, key: str) -> tuple[int, str]:
        """Copy ``src`` to ``key``; returns (size, sha256) of what was written."""
        full = self._full(key)
        try:
            if self.is_local:
                return _atomic_local_copy(src, Path(full))
            digest = sha256_file(src)
            size = src.stat().st_size
            with self._remote_faults("write", key):
                self.fs.put_file(str(src), full)
            return size, digest
        except (FileNotFoundError, IsADirectoryError):
            raise
        except OSError as exc:  # read-only folder, no permission, disk full
            if exc.filename is not None and Path(exc.filename) == src:
                raise
            raise StoreUnavailable(
                f"cannot write the artifact store at {exc.filename or self.url(key)}: "
                f"{exc.strerror or exc}") from exc

    def put_bytes(self, data: bytes, key: str) -> None:
        """Write ``data`` as ``key`` (atomically: a reader sees the old or the new bytes)."""
        full = self._full(key)
        if not self.is_local:
            with self._remote_faults("write", key):
                self.fs.pipe_file(full, data)
            return
        dest = Path(full)
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(dest, data)

    def put_tree(self, src: Path, prefix: str) -> list[tuple[str, int, str]]:
        """Copy a file or a folder; returns (relative path, size, sha256) for every file."""
        if src.is_file():
            size, digest = self.put_file(src, f"{prefix}/{src.name}")
            return [(src.name, size, digest)]
        if not src.is_dir():
            raise file_not_found(src, "file or directory")
        out = []
        written: list[str] = []  # the failing file too: its answer may be lost, not its write
        try:
            for path in sorted(p for p in src.rglob("*") if p.is_file()):
                rel = path.relative_to(src).as_posix()
                written.append(f"{prefix}/{rel}")
                size, digest = self.put_file(path, written[-1])
                out.append((rel, size, digest))
        except Exception as exc:  # nothing of the tree stays under its prefix
            left = self.remove(written)
            if not isinstance(exc, StoreUnavailable):
                raise
            kept = (f"; {len(left)} of its files could not be removed from "
                    f"{self.url(prefix)}" if left else "; nothing of it was kept")
            raise StoreUnavailable(f"{exc.message}{kept}") from exc
        return out

    def remove(self, keys: list[str]) -> list[str]:
        """Delete ``keys`` (best effort, each retried as any call); returns those left."""
        left = []
        for key in keys:
            try:
                if self.is_local:
                    Path(self._full(key)).unlink(missing_ok=True)
                else:
                    self.fs.rm_file(self._full(key))
            except FileNotFoundError:
                pass
            except Exception:  # the store is down: say what is left, do not hide the cause
                left.append(key)
        return left

    @contextmanager
    def _remote_faults(self, doing: str, key: str) -> Iterator[None]:
        """An object store's failure (after its retries) as one StoreUnavailable naming the
        object; a missing object stays FileNotFoundError for the caller to name."""
        try:
            yield
        except (AirlockError, FileNotFoundError):
            raise
        except Exception as exc:
            text = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise StoreUnavailable(f"cannot {doing} the artifact store at {self.url(key)}: "
                                   f"{text}") from exc

    # -- reading ------------------------------------------------------------------------
    def _fresh(self, full: str) -> None:
        """Forget cached listings of remote stores so we see the object as it is now."""
        if not self.is_local:
            self.fs.invalidate_cache(full)

    def open(self, key: str) -> IO[bytes]:
        full = self._full(key)
        self._fresh(full)
        with self._remote_faults("read", key):
            if not self.fs.exists(full):
                raise NotFound(f"artifact not found: {self.url(key)}")
            return self.fs.open(full, "rb")  # type: ignore[no-any-return]

    def exists(self, key: str) -> bool:
        with self._remote_faults("read", key):
            return bool(self.fs.exists(self._full(key)))

    def list(self, prefix: str) -> Iterator[str]:
        """Keys (relative to ``prefix``) of every file under ``prefix``."""
        base = self._full(prefix)
        if self.is_local:  # os.walk: fsspec's find stats every file (slow on big logs)
            if os.path.isfile(base):
                yield ""
                return
            found = sorted(os.path.join(root, name) for root, _dirs, names in os.walk(base)
                           for name in names)
        else:
            with self._remote_faults("read", prefix):
                if not self.fs.exists(base):
                    return
                found = sorted(self.fs.find(base))
        for path in found:
            yield path[len(base) + 1 :]

    def verify(self, key: str, sha256: str) -> None:
        """Raise IntegrityError when the stored bytes no longer hash to ``sha256``."""
        local = self.local_path(key)
        if local is not None:
            if not local.is_file():
                raise IntegrityError(f"artifact {local} is missing")
            got = sha256_file(local)
        else:
            h = hashlib.sha256()
            try:
                with self.open(key) as fh:
                    while chunk := fh.read(CHUNK):
                        h.update(chunk)
            except NotFound:
                raise IntegrityError(f"artifact {self.url(key)} is missing") from None
            got = h.hexdigest()
        if got != sha256:
            raise IntegrityError(
                f"artifact {self.url(key)} failed its integrity check: sha256 is "
                f"{got[:12]}…, the registry recorded {sha256[:12]}…"
            )

    def fetch(self, prefix: str, dest: Path, files: dict[str, str]) -> Path:
        """Copy ``files`` (relative path → sha256) under ``prefix`` into ``dest``, verified."""
        for rel, digest in files.items():
            target = dest / rel
            if target.exists() and sha256_file(target) == digest:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, self._download(f"{prefix}/{rel}", digest))
        return dest

    def _download(self, key: str, digest: str) -> Callable[[IO[bytes]], None]:
        """A writer for :func:`write_atomic`: the object's bytes, refused unless they hash to
        ``digest`` (then the target is left as it was)."""
        full = self._full(key)

        def download(out: IO[bytes]) -> None:
            self._fresh(full)
            h = hashlib.sha256()
            try:
                with self._remote_faults("read", key), self.fs.open(full, "rb") as fh:
                    while chunk := fh.read(CHUNK):
                        h.update(chunk)
                        out.write(chunk)
            except FileNotFoundError:
                raise IntegrityError(f"artifact {self.url(key)} is missing") from None
            got = h.hexdigest()
            if got != digest:
                raise IntegrityError(
                    f"artifact {self.url(key)} failed its integrity check: "
                    f"sha256 is {got[:12]}…, the registry recorded {digest[:12]}…"
                )
        return download


def _with_retries(uri: str, options: dict[str, Any]) -> dict[str, Any]:
    """An S3 root's storage options with bounded retries (the caller's own options win)."""
    if uri.split("://", 1)[0] not in ("s3", "s3a"):
        return options
    config = dict(options.get("config_kwargs") or {})
    config.setdefault("retries", {"mode": os.environ.get("AWS_RETRY_MODE") or "standard"})
    return {**options, "config_kwargs": config}


def _atomic_local_copy(src: Path, dest: Path) -> tuple[int, str]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0

    def copy(out: IO[bytes]) -> None:
        nonlocal size
        with open(src, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
    write_atomic(dest, copy)
    return size, h.hexdigest()
