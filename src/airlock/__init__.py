"""airlock: data contract → tracked run → registered model or prompt → gate → serve → monitor.

The public Python API. Heavy modules are imported on first use, so ``import airlock`` stays
fast; every name below is listed in ``__all__`` and resolved lazily.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from airlock import errors

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # tracking
    "start_run": "airlock.tracking",
    "active_run": "airlock.tracking",
    "Run": "airlock.tracking",
    "get_run": "airlock._api",
    "search_runs": "airlock._api",
    "get_metric_history": "airlock._api",
    "download_artifacts": "airlock._api",
    # registry
    "register_model": "airlock.registry",
    "load_model": "airlock.registry",
    "set_alias": "airlock._api",
    "delete_alias": "airlock.registry",
    "get_model_version": "airlock.registry",
    "list_models": "airlock.registry",
    "list_versions": "airlock.registry",
    "LoadedModel": "airlock.registry",
    "import_mlflow": "airlock.registry",
    # prompts
    "register_prompt": "airlock.prompts",
    "load_prompt": "airlock.prompts",
    "list_prompts": "airlock.prompts",
    "diff_prompts": "airlock.prompts",
    "Prompt": "airlock.prompts",
    # data
    "fingerprint": "airlock.data",
    # evaluation, gates, reports
    "evaluate": "airlock._api",
    "get_evaluation": "airlock.evaluation",
    "Evaluation": "airlock.evaluation",
    "load_policy": "airlock.gates",
    "gate": "airlock._api",
    "protect": "airlock._api",
    "promote": "airlock.gates",
    "approve": "airlock.gates",
    "approvals": "airlock.gates",
    "model_card": "airlock.evidence",
    "render_report": "airlock.evaluation",
    # data contracts
    "Contract": "airlock.contracts",
    "ContractResult": "airlock.contracts",
    # monitoring
    "DriftMonitor": "airlock.monitor",
    "DriftResult": "airlock.monitor",
    "Profile": "airlock.monitor",
    "monitor_endpoint": "airlock.monitor",
    "EndpointReport": "airlock.monitor",
    "load_rules": "airlock.monitor",
    "run_alerts": "airlock.monitor",
    "AlertRules": "airlock.monitor",
    # guardrails
    "Guard": "airlock.guard",
    "Verdict": "airlock.guard",
    "MessagesVerdict": "airlock.guard",
    "GuardPolicy": "airlock.guard",
    "load_guard_policy": "airlock.guard",
    "evaluate_guard": "airlock.guard",
    "GuardEvaluation": "airlock.guard",
    # LLM features
    "evaluate_llm": "airlock.llm",
    "LlmEvaluation": "airlock.llm",
    # audit
    "list_events": "airlock._api",
    "verify_events": "airlock._api",
    "alias_history": "airlock._api",
}

__all__ = ["__version__", "errors", *sorted(_LAZY)]

if TYPE_CHECKING:
    from airlock._api import (
        alias_history,
        download_artifacts,
        evaluate,
        gate,
        get_metric_history,
        get_run,
        list_events,
        protect,
        search_runs,
        set_alias,
        verify_events,
    )
    from airlock.contracts import Contract, ContractResult
    from airlock.data import fingerprint
    from airlock.evaluation import Evaluation, get_evaluation, render_report
    from airlock.evidence import model_card
    from airlock.gates import approvals, approve, load_policy, promote
    from airlock.guard import (
        Guard,
        GuardEvaluation,
        GuardPolicy,
        MessagesVerdict,
        Verdict,
        evaluate_guard,
        load_guard_policy,
    )
    from airlock.llm import LlmEvaluation, evaluate_llm
    from airlock.monitor import (
        AlertRules,
        DriftMonitor,
        DriftResult,
        EndpointReport,
        Profile,
        load_rules,
        monitor_endpoint,
        run_alerts,
    )
    from airlock.prompts import Prompt, diff_prompts, list_prompts, load_prompt, register_prompt
    from airlock.registry import (
        LoadedModel,
        delete_alias,
        get_model_version,
        import_mlflow,
        list_models,
        list_versions,
        load_model,
        register_model,
    )
    from airlock.tracking import Run, active_run, start_run


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'airlock' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
