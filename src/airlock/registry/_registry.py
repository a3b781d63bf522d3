"""Register, resolve, alias and load model versions.

A version's files are written under ``models/<name>/<uuid>/`` first and recorded in the
database second, so a crash in between leaves an unreferenced folder, never a version
pointing at missing files. Loading verifies every file's sha256 before any byte is parsed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airlock._config import settings
from airlock.data import fingerprint, to_arrow
from airlock.errors import IntegrityError, UntrustedArtifact, UsageError
from airlock.store import DatasetInfo, ModelRecord, Store, VersionRecord, get_store, sha256_file
from airlock.tracking import Run, active_run, package_versions

from ._loaded import LoadedModel
from ._ref import ModelRef, check_model_name, parse_ref
from ._signature import infer_signature
from .flavors import Flavor, detect_flavor, get_flavor

__all__ = [
    "delete_alias",
    "get_model_version",
    "list_models",
    "list_versions",
    "load_model",
    "load_model_files",
    "register_model",
    "register_saved",
    "resolve",
    "set_alias",
    "version_folder",
]

MANIFEST_FILE = "airlock-manifest.json"


def _files_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def register_model(
    name: str, model: Any, *, run: Run | str | None = None, input_example: Any = None,
    datasets: Sequence[Any] = (), description: str | None = None, flavor: str | None = None,
    serialization: str | None = None, trusted: bool = False, intended_use: str | None = None,
    signature: dict[str, Any] | None = None,
) -> VersionRecord:
    """Save ``model`` as the next version of ``name``; returns the new version.

    ``serialization`` picks the format within a flavor (sklearn: ``skops`` by default,
    ``pickle`` or ``joblib``); pickle-based formats only load when ``trusted=True`` here
    or at load time. ``datasets`` are paths, tables or fingerprints (lineage);
    ``intended_use`` goes into the model card. ``signature`` (``{"inputs": [{name, type,
    nullable}]}``) is recorded as given instead of inferred from ``input_example``."""
    check_model_name(name)
    fl = get_flavor(flavor) if flavor else detect_flavor(model)
    with tempfile.TemporaryDirectory(prefix="airlock-model-") as tmp:
        path = Path(tmp)
        options = fl.save(model, path, serialization=serialization)
        _check_skops_types(fl, options, trusted)
        example = None if input_example is None else to_arrow(input_example)
        if signature is None and example is not None:
            signature = _signature(fl, path, options, example, name)
        elif signature is None and getattr(model, "feature_names_in_", None) is not None:
            signature = {"inputs": [{"name": str(n), "type": None, "nullable": True}
                                    for n in model.feature_names_in_]}
        return register_saved(name, path, fl, options, run=run, signature=signature,
                              datasets=datasets, description=description, trusted=trusted,
                              example=example,
                              extra={"intended_use": intended_use} if intended_use else None)


#: Modules whose types a skops file may hold without trusted=True (plus the flavor's own
#: libraries): estimators and the arrays they hold, never e.g. ``posix.system``.
SKOPS_TRUSTED_MODULES = ("sklearn", "numpy", "scipy")
#: Wrappers trusted by name: the callable a partial wraps is listed (and checked) on its own.
SKOPS_TRUSTED_NAMES = frozenset({"functools.partial"})
_MODULE_OF = {"scikit-learn": "sklearn", "xgboost-cpu": "xgboost"}


def _check_skops_types(fl: Flavor, options: dict[str, Any], trusted: bool) -> None:
    """Keep in ``trusted_types`` only types from the allow-list; refuse the others unless
    the caller passed trusted=True (they vouch for the object)."""
    types = options.get("trusted_types")
    if options.get("format") != "skops" or not types:
        return
    modules = {*SKOPS_TRUSTED_MODULES, *(_MODULE_OF.get(lib, lib) for lib in fl.libraries())}
    modules -= {"skops"}
    outside = sorted(t for t in types
                     if t.split(".")[0] not in modules and t not in SKOPS_TRUSTED_NAMES)
    if outside and not trusted:
        raise UntrustedArtifact(
            f"the model holds types outside the modules airlock trusts "
            f"({', '.join(sorted(modules))}): {', '.join(outside)}; if you trust this "
            "object, register it with register_model(..., trusted=True)")


def _signature(fl: Flavor, path: Path, options: dict[str, Any], example: Any,
               name: str) -> dict[str, Any]:
    import pyarrow as pa

    predictor = fl.load(path, options)
    outputs = pa.table(predictor.predict(example.to_pandas()))
    return infer_signature(example, outputs)


def register_saved(
    name: str, path: Path, fl: Flavor, options: dict[str, Any], *,
    run: Run | str | None = None, signature: dict[str, Any] | None = None,
    datasets: Sequence[Any] = (), description: str | None = None, trusted: bool = False,
    example: Any = None, extra: dict[str, Any] | None = None,
) -> VersionRecord:
    """Upload a flavor's saved folder and record it as a new version (used by importers)."""
    store = get_store()
    if example is not None:
        example.slice(0, 5).to_pandas().to_json(path / "input_example.json", orient="split",
                                                 index=False)
    files = {p.relative_to(path).as_posix(): sha256_file(p)
             for p in sorted(path.rglob("*")) if p.is_file() and p.name != MANIFEST_FILE}
    infos = [d if isinstance(d, DatasetInfo) else fingerprint(d) for d in datasets]
    run_id = run.id if isinstance(run, Run) else run
    if run_id is None and (current := active_run()) is not None:
        run_id = current.id
    manifest: dict[str, Any] = {
        "format_version": 1, "flavor": fl.name, "loader": type(fl).__module__,
        "options": options, "signature": signature or {"inputs": []},
        "libraries": package_versions(tuple(fl.libraries())),
        "python": platform.python_version(), "files": files, "sha256": _files_digest(files),
        "trusted": bool(trusted), "pickle_based": fl.pickle_based(options),
        "datasets": [d.to_dict() for d in infos], **(extra or {}),
    }
    (path / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    prefix = f"models/{name}/{uuid.uuid4().hex}"
    uploaded = store.artifacts.put_tree(path, prefix)
    try:
        return store.models.register(
            name=name, flavor=fl.name, artifact_uri=prefix, manifest=manifest, run_id=run_id,
            description=description, datasets=infos)
    except BaseException:  # no version row: its files must not stay behind as orphans
        store.artifacts.remove([f"{prefix}/{rel}" for rel, _, _ in uploaded])
        raise


def resolve(ref: str | ModelRef) -> VersionRecord:
    """The version a reference names (latest, number or alias)."""
    r = parse_ref(ref)
    store = get_store()
    if r.version is not None:
        return store.models.get_version(r.name, r.version)
    if r.alias is not None:
        return store.models.get_by_alias(r.name, r.alias)
    versions = store.models.list_versions(r.name)
    if not versions:
        raise UsageError(f"model {r.name} has no versions")
    return versions[-1]


def get_model_version(ref: str | ModelRef) -> VersionRecord:
    return resolve(ref)


def set_alias(ref: str | ModelRef, alias: str) -> VersionRecord:
    """Point ``alias`` at the version ``ref`` names (``name@3``); audited."""
    version = resolve(ref)
    get_store().models.set_alias(version.name, alias, version.version)
    return get_store().models.get_version(version.name, version.version)


def delete_alias(name: str, alias: str) -> int:
    check_model_name(name)
    return get_store().models.delete_alias(name, alias)


def list_models() -> list[ModelRecord]:
    return get_store().models.list_models()


def list_versions(name: str) -> list[VersionRecord]:
    return get_store().models.list_versions(check_model_name(name))


def load_model(ref: str | ModelRef, *, trusted: bool | None = None) -> LoadedModel:
    """Load a version for prediction after verifying the sha256 of every file.

    A pickle-based artifact loads only when it was registered with ``trusted=True`` or
    ``trusted=True`` is passed here."""
    version = resolve(ref)
    _check_trusted(version, trusted)
    return _load(version, _materialise(get_store(), version), trusted)


def load_model_files(version: VersionRecord, path: Path, *,
                     trusted: bool | None = None) -> LoadedModel:
    """Load ``version`` from a local folder holding copies of its files (a batch worker's,
    which may not reach the store): every file's sha256 is checked against the manifest
    before any byte is parsed, and the same trust rules as :func:`load_model` apply."""
    _check_trusted(version, trusted)
    for rel, digest in version.manifest["files"].items():
        file = path / rel
        got = sha256_file(file) if file.is_file() else None
        if got != digest:
            raise IntegrityError(
                f"{version.ref}: the file {rel} " + ("is missing" if got is None else
                f"failed its integrity check: sha256 is {got[:12]}…, the registry recorded "
                f"{digest[:12]}…"))
    return _load(version, path, trusted)


def version_folder(ref: str | ModelRef, *, trusted: bool | None = None
                   ) -> tuple[VersionRecord, Path]:
    """(the version, a local folder with its files), every file's sha256 verified against
    the manifest: for code that reads a version's files itself (an index copies its
    embedder's)."""
    version = resolve(ref)
    _check_trusted(version, trusted)
    path = _materialise(get_store(), version)
    _only_listed_files(path, version, dict(version.manifest["options"]))
    return version, path


def _check_trusted(version: VersionRecord, trusted: bool | None) -> None:
    manifest = version.manifest
    if manifest.get("pickle_based") and not (trusted or manifest.get("trusted")):
        raise UntrustedArtifact(
            f"{version.ref} is stored as {manifest['options'].get('format')} (pickle-based, "
            "can run arbitrary code when loaded) and is not marked trusted; if you trust its "
            "source, load it with load_model(..., trusted=True) or `--trusted`"
        )


def _load(version: VersionRecord, path: Path, trusted: bool | None) -> LoadedModel:
    manifest = version.manifest
    fl = get_flavor(version.flavor)
    options = dict(manifest["options"])
    _only_listed_files(path, version, options)
    if trusted:  # the caller vouches for the artifact: skops may load any type it holds
        options["trust_all_types"] = True
    return LoadedModel(version, fl.load(path, options))


def _only_listed_files(path: Path, version: VersionRecord, options: dict[str, Any]) -> None:
    """The loader reads only files the manifest lists (and so hashed): refuse a file it
    names outside the folder or not listed, and any file planted beside the listed ones."""
    listed: dict[str, str] = version.manifest["files"]
    file = options.get("file")
    if file is not None and (not isinstance(file, str) or file not in listed
                             or Path(file).is_absolute() or ".." in Path(file).parts):
        raise IntegrityError(f"{version.ref} names the file {file!r}, which its manifest "
                             "does not list: refusing to load it")
    for folder, _dirs, names in os.walk(path, followlinks=False):
        for name in names:
            rel = (Path(folder) / name).relative_to(path).as_posix()
            partial = name.startswith(".") and name.endswith(".part")  # an interrupted fetch
            if rel != MANIFEST_FILE and rel not in listed and not partial:
                raise IntegrityError(f"{version.ref} holds a file its manifest does not list "
                                     f"({rel}): refusing to load it")
        for name in _dirs:
            if (Path(folder) / name).is_symlink():
                raise IntegrityError(f"{version.ref} holds a symlink its manifest does not "
                                     f"list ({name}): refusing to load it")


def _materialise(store: Store, version: VersionRecord) -> Path:
    """A local folder with the version's files, each verified against the manifest."""
    files: dict[str, str] = version.manifest["files"]
    local = store.artifacts.local_path(version.artifact_uri)
    if local is not None:
        for rel, digest in files.items():
            store.artifacts.verify(f"{version.artifact_uri}/{rel}", digest)
        return local
    cache = settings().home / "cache" / "models" / version.manifest["sha256"]
    return store.artifacts.fetch(version.artifact_uri, cache, files)
