"""What every flavor provides. Serving and batch only ever see :class:`Predictor`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from airlock.errors import AirlockError, DependencyMissing, UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MODEL_FILE_FAULT", "EstimatorPredictor", "Flavor", "Predictor", "classifier_outputs",
           "loading", "model_file_fault", "require"]

#: The one message for a model file a flavor cannot read (truncated, garbage, another
#: flavor's file, a declared size the file does not hold).
MODEL_FILE_FAULT = "cannot load the {flavor} model file {file}: {fault}"

Outputs = dict[str, np.ndarray[Any, Any]]


class Predictor(Protocol):
    def predict(self, df: pd.DataFrame) -> Outputs: ...


class Flavor(Protocol):
    name: str

    def detect(self, model: Any) -> bool: ...

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        """Write the model into the empty folder ``path``; return the loader options."""
        ...

    def pickle_based(self, options: dict[str, Any]) -> bool: ...

    def load(self, path: Path, options: dict[str, Any]) -> Predictor: ...

    def libraries(self) -> list[str]: ...


def require(module: str, extra: str) -> Any:
    """Import an optional dependency or say which extra provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyMissing(
            f"this model needs {module!r}: pip install 'airlock[{extra}]'") from exc


def model_file_fault(flavor: str, file: Path | str, fault: str) -> UsageError:
    return UsageError(MODEL_FILE_FAULT.format(flavor=flavor, file=file, fault=fault))


# a library's own prefix before its message: xgboost's "[12:00:00] /src/x.cc:12: ",
# onnxruntime's "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : ", "Load model from P failed:"
_NOISE = re.compile(r"^(\[[0-9:]+\] \S+:[0-9]+: |\[ONNXRuntimeError\] : [0-9]+ : \w+ : "
                    r"|Load model from .*? failed:)+")


def _fault_text(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = _NOISE.sub("", lines[0]).strip() if lines else ""
    if not text or isinstance(exc, MemoryError | UnicodeDecodeError | RecursionError):
        text = f"{type(exc).__name__}{': ' + text if text else ''}"
    return text[:300]


@contextmanager
def loading(flavor: str, file: Path) -> Iterator[None]:
    """Whatever a library raises while it reads ``file`` becomes one UsageError naming the
    file and the fault (the first line of the library's message, without its source
    location or stack trace). AirlockErrors pass through as they are."""
    try:
        yield
    except AirlockError:
        raise
    except Exception as exc:  # MemoryError too: a declared size the machine cannot hold
        raise model_file_fault(flavor, file, _fault_text(exc)) from exc


def _shared_transform(model: Any, X: Any) -> tuple[Any, Any]:
    """For a scikit-learn Pipeline, transform once and ask only its last step: the same
    numbers as ``pipeline.predict`` and ``pipeline.predict_proba``, less work."""
    steps = getattr(model, "steps", None)
    if not steps or len(steps) < 2 or not hasattr(model, "__getitem__"):
        return model, X
    final = steps[-1][1]
    if not hasattr(final, "predict") or not hasattr(final, "predict_proba"):
        return model, X
    return final, model[:-1].transform(X)


# Classifiers whose ``predict`` is ``classes_[argmax(predict_proba)]`` (or the argmax of a
# score that predict_proba maps monotonically), so one predict_proba call gives both outputs.
# Not here on purpose: SVC/NuSVC (Platt-scaled probabilities can disagree with the decision
# function), threshold-tuned classifiers (FixedThresholdClassifier, TunedThresholdClassifierCV),
# SGDClassifier (modified_huber probabilities tie), and anything unknown: those run both.
ARGMAX_CLASSIFIERS = frozenset({
    "sklearn.linear_model.LogisticRegression", "sklearn.linear_model.LogisticRegressionCV",
    "sklearn.ensemble.RandomForestClassifier", "sklearn.ensemble.ExtraTreesClassifier",
    "sklearn.ensemble.HistGradientBoostingClassifier",
    "sklearn.ensemble.GradientBoostingClassifier", "sklearn.ensemble.BaggingClassifier",
    "sklearn.ensemble.AdaBoostClassifier", "sklearn.tree.DecisionTreeClassifier",
    "sklearn.tree.ExtraTreeClassifier", "sklearn.naive_bayes.GaussianNB",
    "sklearn.naive_bayes.MultinomialNB", "sklearn.naive_bayes.BernoulliNB",
    "sklearn.naive_bayes.ComplementNB", "sklearn.naive_bayes.CategoricalNB",
    "sklearn.neighbors.KNeighborsClassifier", "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.neural_network.MLPClassifier", "xgboost.sklearn.XGBClassifier",
    "lightgbm.sklearn.LGBMClassifier",
})


def _qualname(model: Any) -> str:
    cls = type(model)
    module = cls.__module__
    for public in ("sklearn.linear_model", "sklearn.ensemble", "sklearn.tree",
                   "sklearn.naive_bayes", "sklearn.neighbors", "sklearn.neural_network"):
        if module.startswith(public + "."):  # sklearn.ensemble._forest → sklearn.ensemble
            module = public
    return f"{module}.{cls.__name__}"


def _labels_from_proba(model: Any) -> bool:
    """True when ``model``'s labels are ``classes_[argmax(predict_proba)]`` (one call)."""
    if _qualname(model) not in ARGMAX_CLASSIFIERS:
        return False
    classes = getattr(model, "classes_", None)
    return isinstance(classes, np.ndarray) and classes.ndim == 1 and len(classes) >= 2


def classifier_outputs(model: Any, X: Any) -> Outputs:
    """``prediction`` plus ``proba_<class>`` per class when the model has predict_proba,
    computed with one predict_proba call where the label is its argmax."""
    n = len(X)
    if n and hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        model, X = _shared_transform(model, X)
    proba = None
    if n and hasattr(model, "predict_proba") and _labels_from_proba(model):
        proba = np.asarray(model.predict_proba(X))
        out: Outputs = {"prediction": np.asarray(model.classes_).take(proba.argmax(axis=1))}
    else:
        out = {"prediction": np.asarray(model.predict(X)).reshape(n, -1)[:, 0]
               if n else np.asarray(model.predict(X))}
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        if proba is None:
            proba = np.asarray(model.predict_proba(X))
        for j, cls in enumerate(model.classes_):
            out[f"proba_{cls}"] = proba[:, j]
    return out


class EstimatorPredictor:
    """Any object with the scikit-learn ``predict`` (and ``predict_proba``) interface."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, df: Any) -> Outputs:
        return classifier_outputs(self.model, df)
