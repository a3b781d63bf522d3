"""Writing an evidence pack: the gathered files, the index, ``manifest.json`` (every file
with its sha256 and size, the pack's own hash, airlock's and the store's versions) and, with
a key, ``manifest.sig`` (Ed25519 over the manifest's bytes).

A pack is a folder, or with ``as_zip`` one zip file whose entries are sorted and carry the
store's time, so the same store exported twice gives the same bytes either way.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airlock import __version__
from airlock._files import write_atomic
from airlock.errors import DependencyMissing, UsageError
from airlock.store import get_store, store_revision

from ._gather import Content, canonical_json, gather_pack
from ._index import Completeness, check_framework, completeness, index_html, index_md

__all__ = ["FORMAT", "MANIFEST", "SIGNATURE", "ExportResult", "export", "load_private_key",
           "pack_hash"]

FORMAT = "airlock-evidence-pack/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
NOT_A_PACK = ("{path} exists and is not an evidence pack (no manifest.json): choose an "
              "empty or new folder")
CANNOT_WRITE = "cannot write the evidence pack to {path}: {why}"
BAD_KEY = "{path} is not an Ed25519 private key in PEM form (openssl genpkey -algorithm ed25519)"
BAD_MIN = "--min-completeness must be between 0 and 1, not {value}"
CRYPTO_MISSING = "signing evidence packs needs cryptography: pip install 'airlock[evidence]'"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Where the pack went, its manifest's sha256 and its completeness."""

    path: Path
    manifest_sha256: str
    completeness: Completeness
    min_completeness: float | None
    signed: bool
    files: int

    @property
    def passed(self) -> bool:
        """False when the completeness is below the minimum asked for."""
        return self.min_completeness is None or self.completeness.score >= self.min_completeness

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "manifest_sha256": self.manifest_sha256,
                "completeness": self.completeness.score, "missing": self.completeness.missing}


def pack_hash(files: Sequence[dict[str, Any]]) -> str:
    """The pack's own hash: sha256 of the canonical JSON of its sorted file list."""
    return hashlib.sha256(canonical_json(list(files))).hexdigest()


def load_private_key(path: str | Path) -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError as exc:  # pragma: no cover - the extra is in dev
        raise DependencyMissing(CRYPTO_MISSING) from exc
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise UsageError(BAD_KEY.format(path=path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(BAD_KEY.format(path=path))
    return key


def export(ref: str, out: str | Path, *, as_zip: bool = False, framework: str = "both",
           min_completeness: float | None = None, sign_key: str | Path | None = None,
           endpoints: Sequence[str | Path] = (), guard_policies: Sequence[str | Path] = ()
           ) -> ExportResult:
    """Write the evidence pack of the version ``ref`` names to the folder ``out`` (or, with
    ``as_zip``, the zip file ``out``). ``endpoints`` and ``guard_policies`` are config files
    the store does not keep, included as they are. The result's ``passed`` is False below
    ``min_completeness``; the pack is written either way."""
    check_framework(framework)
    if min_completeness is not None and not 0.0 <= min_completeness <= 1.0:
        raise UsageError(BAD_MIN.format(value=min_completeness))
    key = load_private_key(sign_key) if sign_key is not None else None
    target = Path(out)
    _check_target(target, as_zip)
    content = gather_pack(ref, attachments={"endpoints": [Path(p) for p in endpoints],
                                            "guard": [Path(p) for p in guard_policies]})
    comp = completeness(content, framework)
    meta = {"as_of": _iso(content.created_at), "airlock": __version__,
            "store_revision": store_revision(), "framework": framework}
    content.add("index.md", index_md(content, comp, meta))
    content.add("index.html", index_html(content, comp, meta))
    manifest = canonical_json(_manifest(content, comp, meta))
    files = {MANIFEST: manifest, **content.files}
    if key is not None:
        files[SIGNATURE] = _signature(key, manifest)
    if as_zip:
        _write_zip(target, files, content.created_at)
    else:
        _write_folder(target, files)
    return ExportResult(target, hashlib.sha256(manifest).hexdigest(), comp, min_completeness,
                        key is not None, len(files))


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _manifest(content: Content, comp: Completeness, meta: dict[str, Any]) -> dict[str, Any]:
    files = [{"path": p, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
             for p, b in sorted(content.files.items())]
    v = content.version
    return {
        "format": FORMAT,
        "airlock_version": meta["airlock"],
        "store": {"schema_revision": meta["store_revision"],
                  "backend": get_store().engine.dialect.name},
        "subject": {"ref": v.ref, "requested": content.requested, "name": v.name,
                    "version": v.version, "model_sha256": v.manifest.get("sha256")},
        "as_of": meta["as_of"],
        "framework": meta["framework"],
        "completeness": comp.to_dict(),
        "items": [{"item": s.item.id, "present": s.present, "required": s.item.required,
                   "applicable": s.applicable, "files": list(s.files)}
                  for s in content.statuses],
        "files": files,
        "pack_sha256": pack_hash(files),
    }


def _signature(key: Any, manifest: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    return canonical_json({
        "algorithm": "ed25519", "signs": MANIFEST,
        "public_key": base64.b64encode(public).decode(),
        "signature": base64.b64encode(key.sign(manifest)).decode(),
    })


def _check_target(target: Path, as_zip: bool) -> None:
    if as_zip:
        if target.is_dir():
            raise UsageError(CANNOT_WRITE.format(path=target, why="it is a folder"))
        return
    if target.exists() and not target.is_dir():
        raise UsageError(CANNOT_WRITE.format(path=target, why="it is a file"))
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise UsageError(NOT_A_PACK.format(path=target))


def _oserror(target: Path, exc: OSError) -> UsageError:
    why = exc.strerror or type(exc).__name__
    return UsageError(CANNOT_WRITE.format(path=target, why=why.lower()))


def _write_folder(target: Path, files: dict[str, bytes]) -> None:
    """Write into a fresh sibling folder, then swap it in (an older pack is replaced whole,
    so no stale file of it stays behind)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise _oserror(target, exc) from None
    try:
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o644)
        os.chmod(tmp, 0o755)
        if target.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / "pack")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _oserror(target, exc) from None


def _write_zip(target: Path, files: dict[str, bytes], at_ms: int) -> None:
    stamp = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).timetuple()[:6]
    when = max(stamp, ZIP_EPOCH)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for rel in sorted(files):
            info = zipfile.ZipInfo(rel, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[rel], compresslevel=6)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, buf.getvalue())
    except OSError as exc:
        raise _oserror(target, exc) from None
