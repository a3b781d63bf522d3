"""Verifying an evidence pack (a folder or a zip) without the store: every file the manifest
lists is there with its sha256 and size, nothing else is, the pack hash matches the file
list, the signature (when there is one, or when a public key is given) verifies, and the
audit-log slice is part of one unbroken hash chain. Each problem names its file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.errors import DependencyMissing, NotFound, UsageError

from ._audit import EVENTS, PROOF, check_audit
from ._pack import CRYPTO_MISSING, MANIFEST, SIGNATURE, pack_hash

__all__ = ["VerifyReport", "verify"]

BAD_PUBLIC_KEY = "{path} is not an Ed25519 public key in PEM form (openssl pkey -pubout)"
NOT_FOUND = "no evidence pack at {path}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """``ok`` when nothing is missing, changed, added or wrongly signed."""

    path: Path
    ok: bool
    problems: list[str] = field(default_factory=list)
    files: int = 0
    signed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems}


def _read(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.relative_to(path).as_posix(): p.read_bytes()
                for p in sorted(path.rglob("*")) if p.is_file()}
    if not path.is_file():
        raise NotFound(NOT_FOUND.format(path=path))
    try:
        with zipfile.ZipFile(path) as zf:
            return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"{path} is neither a pack folder nor a zip file ({exc})") from None


def _public_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read the key {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise UsageError(BAD_PUBLIC_KEY.format(path=path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(BAD_PUBLIC_KEY.format(path=path))
    return key


def verify(path: str | Path, *, pub_key: str | Path | None = None) -> VerifyReport:
    """Check the pack at ``path``; with ``pub_key`` it must also be signed by that key."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError as exc:  # pragma: no cover - the extra is in dev
        raise DependencyMissing(CRYPTO_MISSING) from exc
    root = Path(path)
    expected = _public_key(Path(pub_key)) if pub_key is not None else None
    found = _read(root)
    raw = found.pop(MANIFEST, None)
    if raw is None:
        return VerifyReport(root, False, [f"{MANIFEST} is missing"])
    try:
        manifest = json.loads(raw)
        listed = {str(f["path"]): f for f in manifest["files"]}
    except (ValueError, KeyError, TypeError):
        return VerifyReport(root, False, [f"{MANIFEST} is not a pack manifest"])
    sig = found.pop(SIGNATURE, None)
    problems: list[str] = []
    for rel, entry in sorted(listed.items()):
        data = found.get(rel)
        if data is None:
            problems.append(f"{rel}: missing")
        elif len(data) != entry.get("size") or \
                hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            problems.append(f"{rel}: changed (sha256 or size differs from the manifest)")
    problems += [f"{rel}: not in the manifest (unsigned)" for rel in sorted(found)
                 if rel not in listed]
    if pack_hash(list(manifest["files"])) != manifest.get("pack_sha256"):
        problems.append(f"{MANIFEST}: the pack hash does not match its file list")
    if sig is None:
        if expected is not None:
            problems.append(f"{SIGNATURE}: missing: the pack is not signed")
    else:
        try:
            s = json.loads(sig)
            key = expected or Ed25519PublicKey.from_public_bytes(
                base64.b64decode(s["public_key"]))
            key.verify(base64.b64decode(s["signature"]), raw)
        except InvalidSignature:
            whose = f"the key {pub_key}" if expected is not None else "its own public key"
            problems.append(f"{SIGNATURE}: the signature of {MANIFEST} does not verify with "
                            f"{whose}")
        except (ValueError, KeyError, TypeError):
            problems.append(f"{SIGNATURE}: not a pack signature")
    if EVENTS in listed and PROOF in listed and EVENTS in found and PROOF in found:
        try:
            proof = json.loads(found[PROOF])
        except ValueError:
            proof = None
        if not isinstance(proof, dict):
            problems.append(f"{PROOF}: not a chain proof")
        else:
            problems += check_audit(found[EVENTS].decode("utf-8", "replace"), proof)
    return VerifyReport(root, not problems, problems, len(listed), sig is not None)
