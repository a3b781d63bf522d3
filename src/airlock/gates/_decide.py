"""Decide an evaluation against a policy: pure, deterministic, one outcome per rule.

``decide(evaluation, policy)`` reads only the stored evaluation (a plain JSON dict) and the
policy; the same inputs always give the same Decision, including its id
(``"dc-" + sha256(evaluation id + policy sha256)[:16]``).

Per rule kind, the value compared and when the rule passes (bounds are inclusive):

* metric: ``overall[metric][use]`` within ``[min, max]``.
* slice: every slice (of the listed ``columns``, else of every slice column) whose support is
  at least ``min_support`` — without ``min_support``, every slice the evaluation did not flag
  for low support — has ``slices[column][value][metric][use]`` within bounds. Slices below
  support are listed in the evidence as ``skipped``, never gated; the evidence names the
  ``columns`` read and the ``min_support`` used (None: the evaluation's own flag), so a
  reader (the model card) says what the decision gated. The value reported is the
  worst gated slice's. With no gated slice at all the rule passes (and says so).
* fairness: ``fairness[feature]["disparities"][name][use]`` within bounds for every listed
  feature; an intersection ``("sex", "race")`` is read from the key ``"sex & race"`` (any
  order of the parts). The value reported is the worst feature's.
* baseline: from the paired bootstrap stored under ``baseline.deltas[metric]``
  (``delta = candidate - baseline``; ``p_value`` the two-sided bootstrap p-value of "no
  difference"). With ``worse_by = -delta`` for a higher-is-better metric and ``worse_by =
  +delta`` for a lower-is-better one (direction from the evaluation's ``higher_is_better``,
  else the metric's known direction), the rule **fails exactly when**
  ``worse_by > max_drop and p_value < significance``: the candidate is worse by more than the
  tolerated drop *and* the difference is statistically significant. A drop beyond
  ``max_drop`` that is not significant passes; a significant drop within ``max_drop`` passes.
  The value reported is ``delta``; the bound is ``-max_drop`` (higher is better) or
  ``+max_drop`` (lower is better).

* experiment: the endpoint's newest stored A/B analysis (``gate`` attaches it as
  ``experiments[endpoint]``). The variant judged is ``variant``, else the one whose versions
  include the evaluated model version, else the only non-control variant. The rule fails on
  a flagged sample ratio mismatch (``srm``), on a breached guardrail of that variant
  (``guardrails``), and, with ``metric``, when the comparison's ``use`` (``lift_ci_low`` by
  default; withheld or missing: undefined) is outside ``[min, max]``. The value reported is
  that lift (else 1.0 for pass, 0.0 for fail).

A value that is missing or undefined (None, NaN) fails its rule with ``evidence["reason"]``
``"undefined"`` (or naming what is missing): a gate never passes on a number it cannot see.
A rule with ``severity: warn`` is reported like any other but never fails the Decision.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.errors import CheckFailed

from ._policy import Policy
from ._rules import (
    BaselineRule,
    ContractRule,
    ExperimentRule,
    FairnessRule,
    ImportanceRule,
    MetricRule,
    Rule,
    SliceRule,
)

__all__ = ["Decision", "RuleOutcome", "decide", "decision_id"]

UNDEFINED = "undefined"
# the per-group metrics shown as evidence for each disparity
_GROUP_EVIDENCE = {
    "demographic_parity_difference": ("selection_rate",),
    "demographic_parity_ratio": ("selection_rate",),
    "disparate_impact_ratio": ("selection_rate",),
    "equalized_odds_difference": ("tpr", "fpr"),
    "equal_opportunity_difference": ("tpr",),
}


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's result: the number compared, the bound, pass or fail, and the evidence."""

    index: int
    kind: str
    text: str
    metric: str
    feature: str | None
    use: str
    value: float | None
    bound: float | None
    passed: bool
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        """Failed with severity ``fail``: this outcome fails the Decision."""
        return not self.passed and self.severity == "fail"

    @property
    def status(self) -> str:
        """``pass``, ``fail`` or ``warn`` (failed, but only a warning)."""
        return "pass" if self.passed else ("fail" if self.blocking else "warn")

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "text": self.text,
                "metric": self.metric, "feature": self.feature, "use": self.use,
                "value": self.value, "bound": self.bound, "passed": self.passed,
                "status": self.status, "severity": self.severity, "evidence": self.evidence}


@dataclass(frozen=True)
class Decision:
    """A gate outcome: passed when no rule of severity ``fail`` failed."""

    id: str
    evaluation: str
    model: str | None
    policy: str
    policy_sha256: str
    passed: bool
    rules: tuple[RuleOutcome, ...]

    @property
    def failed(self) -> list[RuleOutcome]:
        return [r for r in self.rules if r.blocking]

    @property
    def warnings(self) -> list[RuleOutcome]:
        return [r for r in self.rules if not r.passed and not r.blocking]

    def summary(self) -> str:
        """One line for a person: verdict, then each failed rule with its value."""
        verdict = "passed" if self.passed else "FAILED"
        passed = sum(r.passed for r in self.rules)
        head = (f"policy {self.policy!r} {verdict} for {self.model or self.evaluation} "
                f"({passed}/{len(self.rules)} rules passed"
                f"{f', {len(self.warnings)} warning(s)' if self.warnings else ''})")
        if not self.failed:
            return head
        return head + ": " + "; ".join(
            f"rule {r.index} `{r.text}`: {_value_text(r)}" for r in self.failed)

    def raise_if_failed(self) -> None:
        """Raise CheckFailed (exit 1) with :meth:`summary` when the gate did not pass."""
        if not self.passed:
            raise CheckFailed(self.summary())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "evaluation": self.evaluation, "model": self.model,
                "policy": {"name": self.policy, "sha256": self.policy_sha256},
                "passed": self.passed,
                "summary": {"rules": len(self.rules), "failed": len(self.failed),
                            "warnings": len(self.warnings)},
                "rules": [r.to_dict() for r in self.rules]}


def _value_text(r: RuleOutcome) -> str:
    if r.value is None:
        return str(r.evidence.get("reason", UNDEFINED))
    return f"value {r.value:.6g}"


def decision_id(evaluation_id: str, policy_sha256: str) -> str:
    """The deterministic id of the decision of one evaluation under one policy."""
    return "dc-" + hashlib.sha256((evaluation_id + policy_sha256).encode()).hexdigest()[:16]


def decide(evaluation: Mapping[str, Any], policy: Policy) -> Decision:
    """Judge ``evaluation`` (the stored JSON dict) by every rule of ``policy``."""
    outcomes = tuple(_outcome(rule, evaluation, policy) for rule in policy.rules)
    eval_id = str(evaluation.get("id", ""))
    model = evaluation.get("model") or {}
    if not isinstance(model, Mapping):  # an LLM evaluation: its subject is the prompt
        model = evaluation.get("prompt") or {}
    # contract results can change after the evaluation: they are part of what was decided
    contracts = evaluation.get("contracts") or {}
    key = policy.sha256 + "".join(
        f"|{name}={_map(c).get('result_id')}" for name, c in sorted(contracts.items()))
    experiments = _map(evaluation.get("experiments"))
    key += "".join(f"|experiment:{name}={_map(e).get('result_id')}"
                   for name, e in sorted(experiments.items()))
    return Decision(id=decision_id(eval_id, key), evaluation=eval_id,
                    model=model.get("ref") if isinstance(model, Mapping) else None,
                    policy=policy.name, policy_sha256=policy.sha256,
                    passed=not any(o.blocking for o in outcomes), rules=outcomes)


def _outcome(rule: Rule, ev: Mapping[str, Any], policy: Policy) -> RuleOutcome:
    if isinstance(rule, MetricRule):
        return _metric(rule, ev)
    if isinstance(rule, SliceRule):
        return _slices(rule, ev)
    if isinstance(rule, FairnessRule):
        return _fairness(rule, ev)
    if isinstance(rule, ContractRule):
        return _contract(rule, ev)
    if isinstance(rule, ExperimentRule):
        return _experiment(rule, ev)
    if isinstance(rule, ImportanceRule):
        return _importance(rule, ev)
    return _baseline(rule, ev, policy.catalogue.higher_is_better(rule.metric))


def _contract(rule: ContractRule, ev: Mapping[str, Any]) -> RuleOutcome:
    """Passes when the newest stored validation of the evaluated data under the contract
    passed (``gate`` attaches them as ``contracts``: {name: {passed, result_id}})."""
    status = _map(_map(ev.get("contracts")).get(rule.contract))
    passed = bool(status.get("passed"))
    evidence: dict[str, Any] = dict(status) if status else {
        "reason": f"no validation of the evaluated data under contract {rule.contract!r}"}
    return _make(rule, metric=f"contract:{rule.contract}", use="value",
                 value=1.0 if passed else 0.0, bound=1.0, passed=passed, evidence=evidence)


def _experiment_variant(rule: ExperimentRule, result: Mapping[str, Any],
                        ev: Mapping[str, Any]) -> str | None:
    if rule.variant is not None:
        return rule.variant
    model = _map(ev.get("model"))
    ref = model.get("ref") or (f"{model.get('name')}@{model.get('version')}"
                               if model.get("name") else None)
    variants = _map(result.get("variants"))
    for name, v in variants.items():
        if ref is not None and ref in _map(_map(v).get("versions")):
            return str(name)
    others = [n for n in variants if n != result.get("control")]
    return str(others[0]) if len(others) == 1 else None


def _experiment(rule: ExperimentRule, ev: Mapping[str, Any]) -> RuleOutcome:
    """Judges the endpoint's newest stored analysis (see the module docstring)."""
    stored = _map(_map(ev.get("experiments")).get(rule.experiment))
    result = _map(stored.get("result"))
    metric = f"experiment:{rule.experiment}" + (f":{rule.metric}" if rule.metric else "")
    if not result:
        return _make(rule, metric=metric, use=rule.use, value=None, bound=rule.min,
                     passed=False, evidence={"reason": "no stored experiment analysis of "
                                             f"endpoint {rule.experiment!r}"})
    variant = _experiment_variant(rule, result, ev)
    srm = _map(result.get("srm"))
    evidence: dict[str, Any] = {"result_id": stored.get("result_id"), "variant": variant,
                                "control": result.get("control"),
                                "srm_p_value": srm.get("p_value"),
                                "srm_flagged": bool(srm.get("flagged"))}
    problems = []
    if variant is None:
        problems.append("cannot tell which variant serves the candidate: set `variant`")
    comps = [_map(c) for c in result.get("comparisons") or [] if _map(c).get("variant")
             == variant]
    if rule.srm and srm.get("flagged"):
        problems.append(f"sample ratio mismatch (p = {_num(srm.get('p_value')) or 0:.2g})")
    breached = [str(c.get("metric")) for c in comps if _map(c.get("guardrail")).get("breached")]
    evidence["breached"] = breached
    if rule.guardrails and breached:
        problems.append("guardrail breached: " + ", ".join(breached))
    value: float | None = None
    if rule.metric is not None:
        comp = next((c for c in comps if c.get("metric") == rule.metric), None)
        if comp is None:
            problems.append(f"the analysis has no comparison of {rule.metric} for {variant}")
        else:
            evidence.update({k: comp.get(k) for k in ("lift", "lift_ci_low", "lift_ci_high",
                                                      "relative_lift", "p_value",
                                                      "significant", "method")})
            value = _num(comp.get(rule.use))
            if value is None:
                problems.append(str(comp.get("reason") or UNDEFINED))
            elif not _within(value, rule.min, rule.max):
                problems.append(f"{rule.metric} {rule.use} {value:.4g} is out of bounds")
    if problems:
        evidence["reason"] = "; ".join(problems)
    passed = not problems
    if rule.metric is None:
        value = 1.0 if passed else 0.0
    return _make(rule, metric=metric, use=rule.use, value=value,
                 bound=_bound(value, rule.min, rule.max) if rule.metric else 1.0,
                 passed=passed, evidence=evidence)
MSG_NO_IMPORTANCE = "the evaluation has no permutation importance (evaluate with --importance)"


def _importance(rule: ImportanceRule, ev: Mapping[str, Any]) -> RuleOutcome:
    """Passes when no listed column ranks within ``not_in_top`` and none has an importance
    (``use``: value, ci_low or ci_high) above ``max``; the value reported is the worst
    listed column's importance (the highest)."""
    features = _map(_map(ev.get("importance")).get("features"))
    per: list[dict[str, Any]] = []
    for name in rule.features:
        entry = _map(features.get(name))
        if not entry:
            reason = (MSG_NO_IMPORTANCE if not features else
                      f"{name!r} is not an input feature of the model (its features: "
                      f"{', '.join(features)})")
            per.append({"feature": name, "value": None, "rank": None, "passed": False,
                        "reason": reason})
            continue
        value, rank = _num(entry.get(rule.use)), entry.get("rank")
        ok = (value is not None and isinstance(rank, int)
              and (rule.not_in_top is None or rank > rule.not_in_top)
              and (rule.max is None or value <= rule.max))
        row = {"feature": name, "value": value, "rank": rank, "passed": ok}
        if value is None:
            row["reason"] = UNDEFINED
        per.append(row)
    undefined = [p for p in per if p["value"] is None]
    worst = undefined[0] if undefined else max(per, key=lambda p: p["value"])
    evidence: dict[str, Any] = {"features": per, "not_in_top": rule.not_in_top,
                                "metric": _map(ev.get("importance")).get("metric")}
    if "reason" in worst:
        evidence["reason"] = worst["reason"]
    return _make(rule, metric="importance", use=rule.use, value=worst["value"],
                 bound=rule.max, passed=all(p["passed"] for p in per), evidence=evidence,
                 feature=", ".join(rule.features))


# -- helpers -------------------------------------------------------------------------------
def _num(x: Any) -> float | None:
    """A finite float, or None for anything undefined (None, NaN, text, booleans)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def _map(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _within(value: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _shortfall(value: float, lo: float | None, hi: float | None) -> float:
    """How far outside the bounds ``value`` lies (0 inside): orders the worst first."""
    return max(lo - value if lo is not None else 0.0, value - hi if hi is not None else 0.0)


def _bound(value: float | None, lo: float | None, hi: float | None) -> float | None:
    """The bound that decided: the violated one, else ``min`` when set, else ``max``."""
    if value is not None and hi is not None and value > hi:
        return hi
    return lo if lo is not None else hi


def _ci(entry: Mapping[str, Any]) -> dict[str, float | None]:
    return {k: _num(entry.get(k)) for k in ("value", "ci_low", "ci_high")}


def _make(rule: Rule, *, metric: str, use: str, value: float | None, bound: float | None,
          passed: bool, evidence: dict[str, Any], feature: str | None = None) -> RuleOutcome:
    return RuleOutcome(index=rule.index, kind=rule.kind, text=rule.text, metric=metric,
                       feature=feature, use=use, value=value, bound=bound, passed=passed,
                       severity=rule.severity, evidence=evidence)


# -- rule kinds ------------------------------------------------------------------------------
def _metric(rule: MetricRule, ev: Mapping[str, Any]) -> RuleOutcome:
    overall = _map(ev.get("overall"))
    value: float | None = None
    evidence: dict[str, Any] = {"reason": f"metric {rule.metric!r} is not in the evaluation"}
    if rule.metric in overall:
        entry = _map(overall[rule.metric])
        evidence = dict(_ci(entry))
        value = _num(entry.get(rule.use))
        if value is None:
            evidence["reason"] = UNDEFINED
    return _make(rule, metric=rule.metric, use=rule.use, value=value,
                 bound=_bound(value, rule.min, rule.max),
                 passed=value is not None and _within(value, rule.min, rule.max),
                 evidence=evidence)


def _slices(rule: SliceRule, ev: Mapping[str, Any]) -> RuleOutcome:
    slices = _map(ev.get("slices"))
    columns = list(rule.columns) if rule.columns else list(slices)
    gated: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    missing = [c for c in columns if c not in slices]
    for column in columns:
        for group, raw in _map(slices.get(column)).items():
            entry = _map(raw)
            support = entry.get("support")
            row = {"column": column, "value": group, "support": support}
            n = _num(support)
            low = (n is None or n < rule.min_support if rule.min_support is not None
                   else bool(entry.get("flagged")))
            if low:
                skipped.append(row)
                continue
            row["metric_value"] = _num(_map(entry.get(rule.metric)).get(rule.use))
            gated.append(row)
    undefined = [r for r in gated if r["metric_value"] is None]
    failing = sorted((r for r in gated if r["metric_value"] is not None
                      and not _within(r["metric_value"], rule.min, rule.max)),
                     key=lambda r: (-_shortfall(r["metric_value"], rule.min, rule.max),
                                    r["column"], str(r["value"])))
    defined = [r["metric_value"] for r in gated if r["metric_value"] is not None]
    if failing:
        value: float | None = failing[0]["metric_value"]
    elif defined:
        value = min(defined) if rule.min is not None else max(defined)
    else:
        value = None
    evidence: dict[str, Any] = {"gated": len(gated), "failing": failing,
                                "undefined": undefined, "skipped": skipped,
                                "columns": columns, "min_support": rule.min_support}
    if missing:
        evidence["reason"] = f"slice column(s) not in the evaluation: {', '.join(missing)}"
    elif undefined:
        evidence["reason"] = UNDEFINED
    elif not gated:
        evidence["note"] = "no slice had enough support to gate"
    return _make(rule, metric=rule.metric, use=rule.use, value=value,
                 bound=_bound(value, rule.min, rule.max),
                 passed=not (failing or undefined or missing), evidence=evidence)


def _fairness_entry(fairness: Mapping[str, Any], feature: tuple[str, ...]) -> Any:
    key = " & ".join(feature)
    if key in fairness:
        return fairness[key]
    wanted = set(feature)
    for k, entry in fairness.items():
        parts = [p.strip() for p in str(k).split("&")]
        if len(parts) == len(feature) and set(parts) == wanted:
            return entry
    return None


def _one_feature(rule: FairnessRule, fairness: Mapping[str, Any],
                 feature: tuple[str, ...]) -> dict[str, Any]:
    name = " & ".join(feature)
    entry = _fairness_entry(fairness, feature)
    if entry is None:
        return {"feature": name, "value": None, "passed": False,
                "reason": f"feature {name!r} was not evaluated"}
    disparity = _map(_map(entry).get("disparities")).get(rule.fairness)
    if disparity is None:
        return {"feature": name, "value": None, "passed": False,
                "reason": f"{rule.fairness} was not computed for {name!r}"}
    value = _num(_map(disparity).get(rule.use))
    shown = _GROUP_EVIDENCE.get(rule.fairness, (rule.fairness.removesuffix("_difference"),))
    groups = {str(g): {"support": _map(m).get("support"),
                       **{k: _num(_map(m).get(k)) for k in shown}}
              for g, m in _map(_map(entry).get("by_group")).items()}
    out: dict[str, Any] = {"feature": name, **_ci(_map(disparity)), "value": value,
                           "passed": value is not None and _within(value, rule.min, rule.max),
                           "by_group": groups}
    if value is None:
        out["reason"] = UNDEFINED
    return out


def _fairness(rule: FairnessRule, ev: Mapping[str, Any]) -> RuleOutcome:
    fairness = _map(ev.get("fairness"))
    per = [_one_feature(rule, fairness, f) for f in rule.features]
    bad = [p for p in per if not p["passed"]]
    undefined = [p for p in per if p["value"] is None]
    if undefined:
        worst = undefined[0]
    elif bad:
        worst = max(bad, key=lambda p: _shortfall(p["value"], rule.min, rule.max))
    else:
        pick = min if rule.min is not None else max
        worst = pick(per, key=lambda p: float(p["value"]))
    evidence: dict[str, Any] = {"features": per}
    if "reason" in worst:
        evidence["reason"] = worst["reason"]
    return _make(rule, metric=rule.fairness, use=rule.use, value=worst["value"],
                 bound=_bound(worst["value"], rule.min, rule.max), passed=not bad,
                 evidence=evidence, feature=rule.feature_text)


def _baseline(rule: BaselineRule, ev: Mapping[str, Any], known: bool) -> RuleOutcome:
    """``known``: the catalogue's direction, used when the evaluation records none."""
    hib = _map(ev.get("higher_is_better")).get(rule.metric)
    hib = known if not isinstance(hib, bool) else hib
    bound = -rule.max_drop if hib else rule.max_drop
    base = ev.get("baseline")
    evidence: dict[str, Any] = {"max_drop": rule.max_drop, "significance": rule.significance,
                                "higher_is_better": hib}
    entry = _map(_map(base).get("deltas")).get(rule.metric)
    if not isinstance(base, Mapping):
        evidence["reason"] = "the evaluation has no baseline comparison"
    elif entry is None:
        evidence["reason"] = f"metric {rule.metric!r} was not compared with the baseline"
    evidence["baseline_model"] = _map(_map(base).get("model")).get("ref")
    delta = p_value = None
    if entry is not None:
        d = _map(entry)
        evidence.update({k: _num(d.get(k)) for k in
                         ("candidate", "baseline", "delta", "ci_low", "ci_high", "p_value")})
        delta, p_value = _num(d.get("delta")), _num(d.get("p_value"))
        if delta is None or p_value is None:
            evidence["reason"] = UNDEFINED
    passed = False
    if delta is not None and p_value is not None:
        worse_by = -delta if hib else delta
        significant = p_value < rule.significance
        evidence.update(worse_by=worse_by, significant=significant)
        passed = not (worse_by > rule.max_drop and significant)
        evidence["regressed_slices"] = [
            s for s in _map(base).get("regressed_slices") or []
            if isinstance(s, Mapping) and s.get("metric") == rule.metric]
    return _make(rule, metric=rule.metric, use="delta", value=delta, bound=bound,
                 passed=passed, evidence=evidence)
