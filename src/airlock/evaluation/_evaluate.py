"""``airlock.evaluate``: score a dataset with a registered model and compute everything an
evaluation holds (overall metrics with CIs, slices, fairness, baseline deltas), store it
with the model's sha256, the data fingerprint, the config and the seed, and optionally gate
it against a policy. The same inputs give the same JSON, id included.

This package sits below ``gates`` and beside ``monitor``, so it imports neither: a policy
arrives loaded (anything shaped like :class:`GatePolicy`, as ``airlock.gates.Policy`` is) and
whoever wants the stored outputs (prediction drift's reference profile) passes ``on_stored``.
``airlock.evaluate`` wires both."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from airlock.data import fingerprint
from airlock.errors import UsageError
from airlock.registry import LoadedModel, load_model
from airlock.store import get_store

from ._data import group_codes, read_table, require_columns
from ._fairness import intersect
from ._sections import baseline_section, fairness_section, section_boot, slice_section
from ._targets import TASKS, build_target, detect_task
from ._types import TaskCalculator

__all__ = ["EvalConfig", "Evaluation", "GatePolicy", "evaluate", "get_evaluation",
           "permutation_importance"]

DEFAULT_IMPORTANCE_REPEATS = 5
MSG_POLICY_NOT_LOADED = ("evaluation.evaluate takes a loaded policy (airlock.gates.load_policy); "
                         "airlock.evaluate also takes a path or YAML text (got {kind})")


class GatePolicy(Protocol):
    """What :func:`evaluate` needs of a policy: the columns its rules name, a check that
    every rule applies before anything is computed, and the verdict on the result
    (``record`` stores the decision). ``airlock.gates.Policy`` is one."""

    def slice_columns(self) -> list[str]: ...

    def sensitive_features(self) -> list[str]: ...

    def check_applicable(self, task: str, columns: set[str], slices: list[str],
                         sensitive: list[str], has_baseline: bool) -> None: ...

    def judge(self, evaluation: Mapping[str, Any], *, record: bool) -> Any: ...


class EvalConfig(BaseModel):
    """Everything that decides an evaluation's numbers (stored with it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    task: str | None = None
    slices: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    crossings: bool = False
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    bootstrap: int = Field(1000, ge=0, le=100_000)
    seed: int = 0
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    min_support: int = Field(30, ge=1)
    k: int = Field(10, ge=1)
    query: str | None = None
    positive_label: str | None = None
    #: permutation-importance repeats (0: none); with SHAP for tree models
    importance: int = Field(0, ge=0, le=100)

    @field_validator("task")
    @classmethod
    def _known_task(cls, v: str | None) -> str | None:
        if v is not None and v not in TASKS:
            raise ValueError(f"unknown task {v!r}: use one of {', '.join(TASKS)}")
        return v


@dataclass(frozen=True)
class Evaluation:
    """A stored evaluation; ``result`` is its JSON (``to_dict()`` adds the decision)."""

    id: str
    result: dict[str, Any]
    decision: Any = None

    @property
    def passed(self) -> bool | None:
        return None if self.decision is None else bool(self.decision.passed)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.result)
        if self.decision is not None:
            out["decision"] = self.decision.to_dict()
        return out


def calculator(task: str, cfg: EvalConfig, classes: list[Any]) -> TaskCalculator:
    if task == "binary":
        from ._binary import BinaryTask

        return BinaryTask(threshold=cfg.threshold)
    if task == "multiclass":
        from ._multiclass import MulticlassTask

        return MulticlassTask(classes=classes)
    if task == "regression":
        from ._regression import RegressionTask

        return RegressionTask()
    from ._ranking import RankingTask

    return RankingTask(k=cfg.k)


def _config(target: str, options: dict[str, Any]) -> EvalConfig:
    from pydantic import ValidationError

    for key in ("slices", "sensitive"):
        if isinstance(options.get(key), str):
            options[key] = tuple(c.strip() for c in options[key].split(",") if c.strip())
    try:
        return EvalConfig(target=target, **options)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"invalid evaluation option {where}: {err['msg']}") from None


def _merge(given: Any, extra: list[str]) -> tuple[str, ...]:
    if isinstance(given, str):
        given = [c.strip() for c in given.split(",") if c.strip()]
    return tuple(dict.fromkeys([*(given or ()), *extra]))


def evaluate(model: str | LoadedModel, data: Any, *, target: str,
             baseline: str | LoadedModel | None = None, policy: GatePolicy | None = None,
             store: bool = True, on_stored: Callable[[str, pa.Table], object] | None = None,
             **options: Any) -> Evaluation:
    """Evaluate ``model`` on ``data`` (a CSV/Parquet path or any table).

    Options (see :class:`EvalConfig`): task, slices, sensitive, crossings, threshold,
    bootstrap, seed, confidence, min_support, k, query, positive_label. With ``policy``
    (a loaded Policy) the result is gated and, when ``store``, the decision stored.
    ``on_stored(evaluation_id, outputs)`` runs once a new evaluation is stored, with the
    model's outputs on the data."""
    if policy is not None and isinstance(policy, str | Path):
        raise UsageError(MSG_POLICY_NOT_LOADED.format(kind=type(policy).__name__))
    pol = policy
    if pol is not None:  # the columns the policy's rules name are evaluated too
        options["slices"] = _merge(options.get("slices"), pol.slice_columns())
        if getattr(pol, "needs_importance", False) and not options.get("importance"):
            options["importance"] = DEFAULT_IMPORTANCE_REPEATS  # an importance rule needs it
    cfg = _config(target, dict(options))
    sensitive = list(dict.fromkeys([*cfg.sensitive, *(pol.sensitive_features() if pol else [])]))
    needed_cols = {"target": [cfg.target], "slice": list(cfg.slices), "sensitive": sensitive,
                   "query": [cfg.query] if cfg.query else []}
    lm = model if isinstance(model, LoadedModel) else load_model(model)
    base = None
    if baseline is not None:
        base = baseline if isinstance(baseline, LoadedModel) else load_model(baseline)
    wanted = list(dict.fromkeys([*lm.input_columns, *(base.input_columns if base else []),
                                 *(c for cols in needed_cols.values() for c in cols)]))
    table = read_table(data, wanted if lm.input_columns else None)
    require_columns(table, needed_cols)
    # the data's fingerprint is hashed (GIL released) while the model scores and the
    # metrics are computed; a failure of either is raised once both have stopped
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="airlock-fingerprint") as pool:
        dataset = pool.submit(_dataset, data, table)
        outputs = lm.predict_arrow(table)
        task = cfg.task or detect_task(outputs, table.column(cfg.target))
        if pol is not None:
            pol.check_applicable(task=task, columns=set(table.column_names),
                                 slices=list(cfg.slices), sensitive=sensitive,
                                 has_baseline=base is not None)
        result = _compute(lm, base, table, outputs, task, cfg, sensitive)
        result["dataset"] = dataset.result()
    result = {"id": _eval_id(result), **result}
    evaluation = Evaluation(result["id"], result)
    if store and _save(evaluation) and on_stored is not None:
        on_stored(evaluation.id, outputs)
    if pol is not None:
        evaluation = Evaluation(evaluation.id, result, pol.judge(evaluation.result,
                                                                 record=store))
    return evaluation


def _compute(lm: LoadedModel, base: LoadedModel | None, table: pa.Table, outputs: pa.Table,
             task: str, cfg: EvalConfig, sensitive: list[str]) -> dict[str, Any]:
    query = table.column(cfg.query) if cfg.query else None
    t = build_target(task, outputs, table.column(cfg.target),
                     positive_label=cfg.positive_label, query=query)
    calc = calculator(task, cfg, list(t.classes))
    boot: dict[str, Any] = {"n_boot": cfg.bootstrap, "seed": cfg.seed,
                            "confidence": cfg.confidence}
    zeros = np.zeros(t.n, dtype=np.int64)
    groups = {c: group_codes(table.column(c)) for c in cfg.slices}
    if cfg.crossings:
        for i, a in enumerate(cfg.slices):
            for b in cfg.slices[i + 1:]:
                groups[f"{a} & {b}"] = intersect(*groups[a], *groups[b])
    result: dict[str, Any] = {
        "model": _model_info(lm), "task": task, "target": cfg.target,
        "config": _config_dump(cfg), "support": t.n,
        "classes": list(t.classes),
        "higher_is_better": {m: calc.higher_is_better(m) for m in calc.metric_names()},
        "overall": calc.grouped(t, zeros, 1, **boot)[0],
        "slices": {c: slice_section(calc, t, codes, labels, cfg.min_support,
                                    section_boot(boot, "slice", c))
                   for c, (codes, labels) in groups.items()},
        "fairness": fairness_section(calc, task, t, table, sensitive, cfg, boot),
        "extras": calc.extras(t), "baseline": None,
    }
    if cfg.importance:
        result["importance"] = _importance(lm, table, t, task, cfg, groups, boot)
    if base is not None:
        tb = build_target(task, base.predict_arrow(table), table.column(cfg.target),
                          positive_label=cfg.positive_label, classes=list(t.classes) or None,
                          query=query)
        result["baseline"] = baseline_section(calc, t, tb, groups, cfg.min_support, boot)
        result["baseline"]["model"] = _model_info(base)
    return result


def permutation_importance(model: str | LoadedModel, data: Any, *, target: str,
                           repeats: int = DEFAULT_IMPORTANCE_REPEATS, **options: Any
                           ) -> dict[str, Any]:
    """Only the ``importance`` section of an evaluation (permutation importance per feature,
    per slice with ``slices=``, mean |SHAP| of a tree model), nothing stored. Options as
    :func:`evaluate` (task, seed, bootstrap, confidence, slices, positive_label…)."""
    cfg = _config(target, {**options, "importance": repeats})
    lm = model if isinstance(model, LoadedModel) else load_model(model)
    wanted = list(dict.fromkeys([*lm.input_columns, cfg.target, *cfg.slices]))
    table = read_table(data, wanted if lm.input_columns else None)
    require_columns(table, {"target": [cfg.target], "slice": list(cfg.slices)})
    outputs = lm.predict_arrow(table)
    task = cfg.task or detect_task(outputs, table.column(cfg.target))
    t = build_target(task, outputs, table.column(cfg.target),
                     positive_label=cfg.positive_label)
    groups = {c: group_codes(table.column(c)) for c in cfg.slices}
    boot = {"n_boot": cfg.bootstrap, "seed": cfg.seed, "confidence": cfg.confidence}
    return _importance(lm, table, t, task, cfg, groups, boot)


def _config_dump(cfg: EvalConfig) -> dict[str, Any]:
    """The stored config; ``importance`` only when asked for, so the ids of evaluations
    without it stay what they were."""
    return cfg.model_dump(mode="json", exclude={"importance"} if not cfg.importance else None)


def _importance(lm: LoadedModel, table: pa.Table, t: Any, task: str, cfg: EvalConfig,
                groups: dict[str, tuple[np.ndarray[Any, Any], list[str]]],
                boot: dict[str, Any]) -> dict[str, Any]:
    """Permutation importance of every input column (and mean |SHAP| of a tree model)."""
    from ._explain import shap_section
    from ._importance import importance_section

    features = list(lm.input_columns)
    if not features:
        raise UsageError(f"{lm.ref} has no input signature: permutation importance needs "
                         "the model's input columns")
    y = table.column(cfg.target)

    def target_of(outputs: pa.Table, rows: np.ndarray[Any, Any]) -> Any:
        return build_target(task, outputs, y.take(pa.array(rows)),
                            positive_label=cfg.positive_label,
                            classes=list(t.classes) or None)

    out = importance_section(lm.predict_arrow, target_of, task, table, t, features, groups,
                             repeats=cfg.importance, seed=cfg.seed, n_boot=boot["n_boot"],
                             confidence=cfg.confidence)
    out["shap"] = shap_section(lm, table, features)
    return out


def _model_info(lm: LoadedModel) -> dict[str, Any]:
    v = lm.version
    return {"ref": v.ref, "name": v.name, "version": v.version, "flavor": v.flavor,
            "sha256": v.manifest.get("sha256")}


def _dataset(data: Any, table: pa.Table) -> dict[str, Any]:
    """The fingerprint of the data as the caller has it (the file's bytes, or the whole
    table: ``table`` is the caller's table as Arrow, so it is not converted again), so a
    contract validation of the same data finds the same digest."""
    path = isinstance(data, str | Path)
    info = fingerprint(data if path else table,
                       name=Path(data).name if path else "evaluation-data")
    return {"name": info.name, "digest": info.digest, "rows": table.num_rows,
            "schema": {f.name: str(f.type) for f in table.schema}}


def _eval_id(result: dict[str, Any]) -> str:
    key = json.dumps({"model": result["model"]["sha256"], "data": result["dataset"]["digest"],
                      "config": result["config"], "task": result["task"],
                      "baseline": (result["baseline"] or {}).get("model", {}).get("sha256")},
                     sort_keys=True)
    return "ev-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _save(ev: Evaluation) -> bool:
    """Store ``ev``; False when the same inputs were evaluated (and stored) before."""
    from airlock.errors import NotFound
    from airlock.store import DatasetInfo

    evals = get_store().evaluations
    try:
        evals.get(ev.id)
        return False  # the same inputs were evaluated before: identical result, stored
    except NotFound:
        pass
    d = ev.result["dataset"]
    model = ev.result["model"]
    evals.save(eval_id=ev.id, name=model["name"], version=model["version"],
               model_sha256=ev.result["model"]["sha256"], task=ev.result["task"],
               result=ev.result,
               dataset=DatasetInfo(d["name"], d["digest"], d["schema"], d["rows"]))
    return True


def get_evaluation(eval_id: str) -> Evaluation:
    """A stored evaluation by id (``airlock.errors.NotFound`` when unknown)."""
    result = get_store().evaluations.get(eval_id)
    return Evaluation(eval_id, result)
