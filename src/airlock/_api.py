"""Helpers of the public API that join packages no lower package may join: evaluation with
its gate and prediction drift's reference, and the read side of runs and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock.store import (
    EventRecord,
    MetricPoint,
    RunRecord,
    VerifyResult,
    get_store,
    parse_filter,
)
from airlock.store import parse_order_by as _parse_order_by

if TYPE_CHECKING:
    import pyarrow as pa

    from airlock.evaluation import Evaluation
    from airlock.gates import Decision, Policy
    from airlock.prompts import Prompt, PromptRef
    from airlock.registry import LoadedModel, ModelRef
    from airlock.store import VersionRecord

__all__ = ["alias_history", "download_artifacts", "evaluate", "gate", "get_metric_history",
           "get_run", "list_events", "protect", "search_runs", "set_alias", "verify_events"]

MSG_UNKNOWN_NAME = "model or prompt not found: {name}"


def evaluate(model: str | LoadedModel, data: Any, *, target: str,
             baseline: str | LoadedModel | None = None,
             policy: str | Path | Policy | None = None, store: bool = True,
             **options: Any) -> Evaluation:
    """Evaluate ``model`` on ``data`` (a CSV/Parquet path or any table), as
    :func:`airlock.evaluation.evaluate` does, with ``policy`` a path, YAML text or Policy:
    the result is gated and the decision stored. A stored evaluation also records a profile
    of the model's predictions, the reference prediction drift is compared with.

    Options: task, slices, sensitive, crossings, threshold, bootstrap, seed, confidence,
    min_support, k, query, positive_label."""
    from airlock.evaluation import evaluate as evaluate_only

    pol = None
    if policy is not None:
        from airlock.gates import load_policy

        pol = load_policy(policy)
    return evaluate_only(model, data, target=target, baseline=baseline, policy=pol,
                         store=store, on_stored=_record_predictions, **options)


def _record_predictions(evaluation_id: str, outputs: pa.Table) -> None:
    from airlock.monitor import record_prediction_profile

    record_prediction_profile(evaluation_id, outputs)


def get_run(run_id: str) -> RunRecord:
    return get_store().runs.get(run_id)


def get_metric_history(run_id: str, key: str) -> list[MetricPoint]:
    """Every logged point of metric ``key`` of run ``run_id``, by step then time."""
    return get_store().runs.metric_history(run_id, key)


def download_artifacts(run_id: str, dest: str | Path) -> list[Path]:
    """Copy every artifact of run ``run_id`` into the folder ``dest`` (created if needed),
    each verified against the sha256 recorded when it was logged; returns the files."""
    from airlock.errors import IntegrityError

    run = get_run(run_id)
    folder = Path(dest)
    root = folder.resolve()
    for a in run.artifacts:  # a recorded path never leaves the folder (an edited database)
        if not (root / a.path).resolve().is_relative_to(root):
            raise IntegrityError(f"artifact path {a.path!r} of run {run.id} leaves the folder")
    get_store().artifacts.fetch(f"runs/{run.id}/artifacts", folder,
                                {a.path: a.sha256 for a in run.artifacts})
    return [folder / a.path for a in run.artifacts]


def search_runs(filter: str | None = None, *, experiment: str | None = None,
                order_by: str | None = None, limit: int | None = None) -> list[RunRecord]:
    """Runs matching ``filter`` (e.g. ``metrics.val_auc > 0.9 and params.max_depth = 6``)."""
    return get_store().runs.search(experiment=experiment, clauses=parse_filter(filter),
                                   order_by=_parse_order_by(order_by), limit=limit)


def list_events(*, subject: str | None = None, action: str | None = None,
                limit: int | None = None) -> list[EventRecord]:
    return get_store().events.list(subject=subject, action=action, limit=limit)


def verify_events() -> VerifyResult:
    return get_store().events.verify()


def alias_history(name: str) -> list[EventRecord]:
    """Every alias set, move and removal of model ``name``: who, when, from, to."""
    from airlock.registry import list_versions

    list_versions(name)  # NotFound for an unknown model
    return get_store().events.list(subject=f"models/{name}", action="alias.")


def set_alias(ref: str | ModelRef | PromptRef, alias: str) -> VersionRecord | Prompt:
    """Point ``alias`` at the model or prompt version ``ref`` names (``name@3``); audited.

    Models and prompts share one namespace, so the name says which registry it is: a model
    gives its VersionRecord, a prompt its :class:`~airlock.prompts.Prompt`. A protected alias
    refuses (CheckFailed): it moves through :func:`airlock.promote`."""
    from airlock.errors import NotFound
    from airlock.prompts import set_prompt_alias
    from airlock.registry import parse_ref
    from airlock.registry import set_alias as set_model_alias

    name = ref.name if not isinstance(ref, str) else parse_ref(ref).name
    kind = get_store().prompts.kind_of(name)
    if kind is None:
        raise NotFound(MSG_UNKNOWN_NAME.format(name=name))
    if kind == "prompt":
        return set_prompt_alias(str(ref), alias)
    return set_model_alias(str(ref), alias)


def gate(evaluation: Any, policy: str | Path | Policy) -> Decision:
    """:func:`airlock.gates.gate` on a stored evaluation, with a policy path or text loaded
    against the evaluation's metric catalogue: an LLM evaluation (``llm eval --prompt``) is
    gated by metric rules on the LLM metrics (:func:`airlock.llm.load_llm_gate`), a RAG
    evaluation (``rag eval``) by rules on the retrieval metrics (``load_rag_gate``)."""
    from collections.abc import Mapping

    from airlock.gates import Policy
    from airlock.gates import gate as gate_stored

    if not isinstance(policy, Policy):
        ev_id = evaluation if isinstance(evaluation, str) else (
            evaluation.get("id") if isinstance(evaluation, Mapping)
            else getattr(evaluation, "id", None))
        task = get_store().evaluations.get(ev_id).get("task") if isinstance(ev_id, str) \
            else None
        if task == "llm":
            from airlock.llm import load_llm_gate

            policy = load_llm_gate(policy)
        elif task == "rag":
            from airlock.llm import load_rag_gate

            policy = load_rag_gate(policy)
    return gate_stored(evaluation, policy)


def protect(name: str, alias: str, policy: str | Path | Policy, *,
            replace: bool = False) -> dict[str, Any]:
    """:func:`airlock.gates.protect`, with a policy path or text loaded for what ``name``
    is: a prompt's protecting policy is a gate of metric rules on the LLM metrics (its
    promotions need a passing decision of an ``llm eval --prompt``)."""
    from airlock.gates import Policy
    from airlock.gates import protect as protect_alias

    if not isinstance(policy, Policy) and get_store().prompts.kind_of(name) == "prompt":
        from airlock.llm import load_llm_gate

        policy = load_llm_gate(policy)
    return protect_alias(name, alias, policy, replace=replace)
