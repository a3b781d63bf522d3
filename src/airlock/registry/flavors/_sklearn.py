"""scikit-learn estimators and pipelines: skops by default, pickle/joblib only when trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airlock.errors import UntrustedArtifact, UsageError

from ._base import EstimatorPredictor, require

FORMATS = ("skops", "pickle", "joblib")


class SklearnFlavor:
    name = "sklearn"

    def detect(self, model: Any) -> bool:
        mod = type(model).__module__
        if not (mod.startswith("sklearn") or hasattr(model, "get_params")):
            return False
        try:
            from sklearn.base import BaseEstimator
        except ImportError:
            return False
        return isinstance(model, BaseEstimator) and hasattr(model, "predict")

    def libraries(self) -> list[str]:
        return ["scikit-learn", "skops", "numpy", "pandas"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return options.get("format") != "skops"

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        fmt = serialization or "skops"
        if fmt not in FORMATS:
            raise UsageError(f"unknown serialization {fmt!r} for sklearn: use one of {FORMATS}")
        if fmt == "skops":
            sio = require("skops.io", "sklearn")
            sio.dump(model, path / "model.skops")
            untrusted = sorted(sio.get_untrusted_types(file=path / "model.skops"))
            return {"format": "skops", "file": "model.skops", "trusted_types": untrusted}
        if fmt == "joblib":
            joblib = require("joblib", "sklearn")
            joblib.dump(model, path / "model.joblib")
            return {"format": "joblib", "file": "model.joblib"}
        import pickle

        with open(path / "model.pkl", "wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return {"format": "pickle", "file": "model.pkl"}

    def load(self, path: Path, options: dict[str, Any]) -> EstimatorPredictor:
        file = path / options["file"]
        fmt = options["format"]
        if fmt == "skops":
            sio = require("skops.io", "sklearn")
            # The file's sha256 was verified against the registry, so it is the file whose
            # types were listed at registration: trust exactly those, unless the caller
            # passed trusted=True at load time.
            trusted = options.get("trusted_types", [])
            if options.get("trust_all_types"):
                trusted = sio.get_untrusted_types(file=file)
            try:
                return EstimatorPredictor(sio.load(file, trusted=trusted))
            except require("skops.io.exceptions", "sklearn").UntrustedTypesFoundException:
                extra = sorted(set(sio.get_untrusted_types(file=file)) - set(trusted))
                raise UntrustedArtifact(
                    f"{file.name} holds types nobody vouched for ({', '.join(extra)}); if you "
                    "trust its source, load it with load_model(..., trusted=True) or "
                    "`--trusted`") from None
        if fmt == "joblib":
            return EstimatorPredictor(require("joblib", "sklearn").load(file))
        import pickle

        with open(file, "rb") as fh:
            return EstimatorPredictor(pickle.load(fh))
