"""A CycloneDX 1.6 JSON software bill of materials of a training run's recorded packages,
through ``cyclonedx-python-lib`` (extra ``[evidence]``).

The model version is the BOM's subject (a ``machine-learning-model`` component) and depends
on every package the run recorded. Nothing varies between two calls on the same run: the
serial number is derived from the run id and the timestamp is the run's start.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from airlock.errors import DependencyMissing
from airlock.store import RunRecord, VersionRecord

__all__ = ["SBOM_MISSING", "sbom_json"]

SBOM_MISSING = ("the CycloneDX SBOM needs cyclonedx-python-lib: pip install "
                "'airlock[evidence]'")


def sbom_json(version: VersionRecord, run: RunRecord) -> str:
    """The SBOM as CycloneDX JSON text (spec 1.6)."""
    try:
        from cyclonedx.model.bom import Bom, BomMetaData
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.output.json import JsonV1Dot6
        from packageurl import PackageURL
    except ImportError as exc:  # pragma: no cover - the extra is in dev
        raise DependencyMissing(SBOM_MISSING) from exc
    packages: dict[str, Any] = (run.env or {}).get("packages") or {}
    components = []
    for name, ver in sorted(packages.items()):
        purl = PackageURL("pypi", name=name, version=str(ver))
        components.append(Component(name=name, version=str(ver), type=ComponentType.LIBRARY,
                                    purl=purl, bom_ref=purl.to_string()))
    subject = Component(name=version.name, version=str(version.version),
                        type=ComponentType.MACHINE_LEARNING_MODEL,
                        bom_ref=f"model:{version.ref}",
                        hashes=_hashes(version))
    meta = BomMetaData(timestamp=dt.datetime.fromtimestamp(run.start_time / 1000, dt.UTC),
                       component=subject)
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"airlock:run:{run.id}"),
              metadata=meta, components=components)
    bom.register_dependency(subject, components)
    return str(JsonV1Dot6(bom).output_as_string(indent=2)) + "\n"


def _hashes(version: VersionRecord) -> list[Any]:
    from cyclonedx.model import HashAlgorithm, HashType

    digest = version.manifest.get("sha256")
    return [HashType(alg=HashAlgorithm.SHA_256, content=str(digest))] if digest else []
