"""Gate stored evaluations, protect aliases with a policy, promote through the gate.

* ``gate(evaluation, policy)`` decides the *stored* evaluation and records the Decision under
  its deterministic id; gating the same evaluation under the same policy again records
  nothing new (idempotent).
Each works alike on models and prompts (one namespace: the name says which).

* ``protect(name, alias, policy)`` declares ``name@alias`` protected by ``policy`` (its source
  text and sha256 are stored); changing the policy of a protected alias needs
  ``replace=True``, and its audit event records the old and the new sha256.
* ``promote(ref, to)`` moves an unprotected alias like ``set_alias``; a protected alias moves
  only with a passing Decision for exactly that version under exactly the protecting policy
  (same sha256), or with ``override=True`` and a non-empty ``reason``, which records a
  ``promotion.override`` audit event (actor, reason, failing rules of the newest decision for
  that version under the policy). The check and the move share one transaction.
* When the protecting policy requires approvals (:mod:`airlock.gates._approvals`), the
  passing decision must also carry enough valid approvals; an override then records which
  approvals were missing (``missing_approvals``) besides the failing rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airlock._yaml import parse_yaml
from airlock.errors import AirlockError, CheckFailed, UsageError
from airlock.prompts import PromptRef, list_prompt_versions, resolve_prompt
from airlock.registry import ModelRef, list_versions, parse_ref, resolve
from airlock.store import Store, get_store

from ._approvals import ApprovalPolicy, approval_status, parse_approvals
from ._decide import Decision, decide
from ._load import load_policy
from ._policy import Policy

__all__ = ["gate", "promote", "protect"]

MSG_OVERRIDE_REASON = "--override needs a non-empty --reason: it is recorded in the audit log"
MSG_REASON_WITHOUT_OVERRIDE = "--reason is only recorded with --override"
MSG_NOT_PROTECTED = "{name}@{alias} is not protected by a policy: promote it without --override"
MSG_FAILED = ("{name}@{version} failed policy {policy!r} protecting {name}@{alias} "
              "(decision {decision}: {rules}); promote it with --override --reason, or "
              "evaluate a better version")
MSG_CONTRACT_FAILED = "the newest validation ({result}) failed {n} {noun}: "
MSG_ALREADY_PROTECTED = ("{name}@{alias} is already protected by policy {policy!r} "
                         "(sha256 {sha}…): give --replace to protect it with policy "
                         "{new!r} (sha256 {new_sha}…) instead")
MSG_NEEDS_APPROVAL = ("{name}@{version} has a passing decision under policy {policy!r} "
                      "protecting {name}@{alias} but {valid} of the {required} approval(s) it "
                      "requires ({what}); run `airlock approve {name}@{version} --alias "
                      "{alias}` as another actor, or promote with --override --reason")
MSG_NO_DECISION = ("{name}@{version} has no passing decision under policy {policy!r} "
                   "protecting {name}@{alias}{other}; run `airlock gate EVAL_ID --policy …` "
                   "(or `airlock eval … --policy …`), or promote with --override --reason")


def _evaluation_id(evaluation: Any) -> str:
    if isinstance(evaluation, str):
        return evaluation
    ev_id = evaluation.get("id") if isinstance(evaluation, Mapping) else getattr(
        evaluation, "id", None)
    if not isinstance(ev_id, str) or not ev_id:
        raise UsageError("gate() takes an evaluation id, or an evaluation with an `id`")
    return ev_id


def _contract_status(evaluation: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """The newest stored validation, per contract, of the data the evaluation used."""
    digest = (evaluation.get("dataset") or {}).get("digest")
    out: dict[str, Any] = {}
    if not digest:
        return out
    for name in names:
        results = get_store().contracts.for_dataset(digest, name)
        if results:
            newest = results[-1]
            out[name] = {"passed": bool(newest["passed"]), "result_id": newest["id"],
                         "dataset": digest}
            if not newest["passed"]:
                out[name]["reason"] = _validation_failure(newest)
    return out


def experiment_status(endpoints: list[str]) -> dict[str, Any]:
    """The newest stored A/B analysis of each endpoint, as an experiment rule reads it."""
    out: dict[str, Any] = {}
    for name in endpoints:
        rows = get_store().experiments.latest(name, limit=1)
        if rows:
            keep = ("srm", "variants", "comparisons", "control", "guardrail_breached",
                    "window", "config_hash")
            out[name] = {"result_id": rows[0].id, "created_at": rows[0].created_at,
                         "result": {k: rows[0].result.get(k) for k in keep}}
    return out


def _validation_failure(stored: Mapping[str, Any]) -> str:
    """Why a stored validation failed: its failing checks of severity error, with detail."""
    result = stored.get("result") or {}
    checks = [c for c in result.get("checks") or [] if isinstance(c, Mapping)
              and not c.get("passed") and c.get("severity") != "warn"]
    said = [" ".join(str(x) for x in (c.get("name"), c.get("column")) if x)
            + (f" ({c['detail']})" if c.get("detail") else "") for c in checks[:3]]
    more = f" and {len(checks) - 3} more" if len(checks) > 3 else ""
    noun = "check" if len(checks) == 1 else "checks"
    return (MSG_CONTRACT_FAILED.format(result=stored.get("id"), n=len(checks), noun=noun)
            + ("; ".join(said) + more if said else "see the stored result"))


def gate(evaluation: str | Mapping[str, Any] | Any, policy: Policy | str | Path) -> Decision:
    """Decide a stored evaluation (its id, or an evaluation carrying its id) against
    ``policy`` (a Policy, a path or YAML text) and record the Decision.

    Raises UsageError naming the rule when the policy cannot apply to the evaluation (a
    metric of another task, a feature or slice column that was not evaluated, a baseline rule
    without a baseline). Returns the Decision whether it passed or not."""
    pol = load_policy(policy)
    store = get_store()
    stored = store.evaluations.get(_evaluation_id(evaluation))  # decide what was stored
    pol.check_evaluation(stored)
    if pol.contracts():
        stored = {**stored, "contracts": _contract_status(stored, pol.contracts())}
    if pol.experiments():
        stored = {**stored, "experiments": experiment_status(pol.experiments())}
    decision = decide(stored, pol)
    subject = _subject(stored)
    name, version = subject.get("name"), subject.get("version")

    def recorded() -> bool:
        if not isinstance(name, str):
            return False
        return any(d["id"] == decision.id for d in store.evaluations.decisions(name, version))

    if not recorded():
        try:
            store.evaluations.save_decision(
                decision_id=decision.id, evaluation_id=decision.evaluation,
                policy_name=pol.name, policy_sha256=pol.sha256, passed=decision.passed,
                result=decision.to_dict())
        except Exception:
            if not recorded():  # not a concurrent gate that stored the same decision first
                raise
    return decision


def protect(name: str, alias: str, policy: Policy | str | Path, *,
            replace: bool = False) -> dict[str, Any]:
    """Protect ``name@alias`` with ``policy``; from now on it moves only through promote.

    An alias already protected by another policy keeps it unless ``replace=True`` (else
    UsageError naming the policy in force): the audit event of a replacement records the
    old and the new sha256. Protecting again with the same policy changes nothing.
    Returns ``{"name", "alias", "policy", "policy_sha256", "replaced", "changed"}``:
    ``replaced`` is the sha256 of the policy replaced (None when there was none), ``changed``
    False when the alias was already protected by this very policy."""
    pol = load_policy(policy)
    if _is_prompt(name):
        list_prompt_versions(name)
    else:
        list_versions(name)  # NotFound for an unknown model, UsageError for a bad name
    _check_alias(alias)
    store = get_store()
    out: dict[str, Any] = {"name": name, "alias": alias, "policy": pol.name,
                           "policy_sha256": pol.sha256}
    current = store.evaluations.protection(name, alias) or {}
    old = str(current["policy_sha256"]) if current else None
    if old == pol.sha256:
        return {**out, "replaced": None, "changed": False}
    if old is not None and not replace:
        raise UsageError(MSG_ALREADY_PROTECTED.format(
            name=name, alias=alias, policy=_policy_name(str(current["policy"]), old),
            sha=old[:12], new=pol.name, new_sha=pol.sha256[:12]))
    store.evaluations.protect(name, alias, pol.text, pol.sha256, previous=old)
    return {**out, "replaced": old, "changed": True}


def _check_alias(alias: str) -> None:
    if (not isinstance(alias, str) or not alias or alias.isdigit()
            or not alias.replace("-", "").replace("_", "").isalnum()):
        raise UsageError(f"invalid alias {alias!r}: use letters, digits, '-' or '_', not only "
                         "digits (a number names a version)")


def promote(ref: str | ModelRef | PromptRef, to: str, *, override: bool = False,
            reason: str | None = None) -> dict[str, Any]:
    """Point alias ``to`` at the version ``ref`` names, through the gate when protected.

    Returns ``{"name", "alias", "from", "to", "protected"}`` plus, for a protected alias,
    ``policy_sha256`` and either ``decision`` (the passing decision's id) or ``override``.
    Raises CheckFailed when a protected alias has no passing decision and no override."""
    reason = reason.strip() if isinstance(reason, str) else None
    if override and not reason:
        raise UsageError(MSG_OVERRIDE_REASON)
    if reason and not override:
        raise UsageError(MSG_REASON_WITHOUT_OVERRIDE)
    prompt = _is_prompt(ref.name if not isinstance(ref, str) else parse_ref(ref).name)
    version = resolve_prompt(str(ref)) if prompt else resolve(str(ref))
    name, number = version.name, version.version
    store = get_store()
    _check_alias(to)
    guard = store.evaluations.protection(name, to)
    if guard is None:
        if override:
            raise UsageError(MSG_NOT_PROTECTED.format(name=name, alias=to))
        if prompt:
            before = store.prompts.set_alias(name, to, number)
        else:
            before, _ = store.models.set_alias(name, to, number)
        return {"name": name, "alias": to, "from": before, "to": number, "protected": False}
    sha = str(guard["policy_sha256"])
    failing = _failing_rules(_newest_decision(store, name, number, sha)) if override else []
    rule = _approval_rule(guard)
    status = approval_status(store, name, number, to, sha, rule) if rule is not None else None
    try:
        out = store.evaluations.promote(name, to, number,
                                        override_reason=reason if override else None,
                                        failing_rules=failing, approvals=status)
    except CheckFailed:
        raise CheckFailed(_refusal(store, name, number, to, guard, status)) from None
    return {**out, "protected": True}


def _is_prompt(name: str) -> bool:
    """Whether ``name`` is a prompt (models and prompts share one namespace; a name held by
    both is refused as ambiguous by the store)."""
    return get_store().prompts.kind_of(name) == "prompt"


def _subject(stored: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a stored evaluation evaluated: its ``model`` mapping, or the ``prompt`` of an
    LLM evaluation (whose ``model`` names the chat model it ran)."""
    for key in ("model", "prompt"):
        value = stored.get(key)
        if isinstance(value, Mapping):
            return value
    return {}
def _approval_rule(guard: Mapping[str, Any]) -> ApprovalPolicy | None:
    """The approvals the protecting policy requires (None: none). Its rules were checked
    against their catalogue when the alias was protected; here only ``approvals`` is read,
    so an LLM or RAG gate (another catalogue's metrics) works as a model's does."""
    text = str(guard["policy"])
    try:
        return load_policy(text).approvals
    except AirlockError:
        data = parse_yaml(text, what="policy").data
    if not isinstance(data, Mapping) or "approvals" not in data:
        return None
    return parse_approvals(data["approvals"], "policy", {}, None)


def _newest_decision(store: Store, name: str, version: int,
                     sha: str) -> dict[str, Any] | None:
    under = [d for d in store.evaluations.decisions(name, version) if d["policy_sha256"] == sha]
    return under[-1] if under else None


def _failing_rules(decision: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The rules a stored decision failed, in the compact form an audit event keeps."""
    if decision is None:
        return []
    rules = (decision.get("result") or {}).get("rules") or []
    return [{"decision": decision["id"], "index": r.get("index"), "text": r.get("text"),
             "value": r.get("value"), "bound": r.get("bound"),
             "severity": r.get("severity"), "reason": (r.get("evidence") or {}).get("reason")}
            for r in rules if isinstance(r, Mapping) and not r.get("passed")]


def _policy_name(text: str, sha: str) -> str:
    try:
        return load_policy(text).name
    except AirlockError:  # rules of another catalogue (an LLM gate), or another version's
        pass
    try:
        name = parse_yaml(text, what="policy").data.get("name")
    except (AirlockError, AttributeError):
        name = None
    return name if isinstance(name, str) and name else sha[:12]


def _refusal(store: Store, name: str, version: int, alias: str,
             guard: Mapping[str, Any], approvals: Mapping[str, Any] | None = None) -> str:
    """Why promotion was refused, naming the failed rules when a decision exists, or the
    approvals missing when a passing decision has too few."""
    sha = str(guard["policy_sha256"])
    policy = _policy_name(str(guard["policy"]), sha)
    missing = (approvals or {}).get("missing")
    if missing is not None and missing.get("decision") is not None:
        rule = _approval_rule(guard)
        return MSG_NEEDS_APPROVAL.format(
            name=name, version=version, policy=policy, alias=alias, valid=missing["valid"],
            required=missing["required"], what=rule.text if rule else "")
    newest = _newest_decision(store, name, version, sha)
    if newest is not None and not newest["passed"]:
        failed = [r for r in _failing_rules(newest) if r["severity"] == "fail"]
        rules = "; ".join(f"rule {r['index']} `{r['text']}` failed" for r in failed)
        return MSG_FAILED.format(name=name, version=version, policy=policy, alias=alias,
                                 decision=newest["id"], rules=rules or "failed")
    others = [d for d in store.evaluations.decisions(name, version)
              if d["passed"] and d["policy_sha256"] != sha]
    other = (f" (a passing decision exists under a different policy, {others[-1]['policy_name']!r}"
             f" sha256 {str(others[-1]['policy_sha256'])[:12]}…)" if others else "")
    return MSG_NO_DECISION.format(name=name, version=version, policy=policy, alias=alias,
                                  other=other)
