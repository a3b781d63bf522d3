"""The validation of one policy rule: its kind from its keys, every value checked, names
checked against the metric catalogue; each error names the rule, its line and the problem."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, NoReturn, cast

from airlock.errors import UsageError
from airlock.evaluation import MetricCatalogue

from ._rules import (
    DEFAULT_SIGNIFICANCE,
    EXPERIMENT_USES,
    SEVERITIES,
    USES,
    BaselineRule,
    ContractRule,
    ExperimentRule,
    ExperimentUse,
    FairnessRule,
    ImportanceRule,
    MetricRule,
    Rule,
    Severity,
    SliceRule,
    Use,
    where,
)

__all__ = ["MSG_BAD_USE", "MSG_MIN_GT_MAX", "MSG_NO_BOUND", "MSG_UNKNOWN_KEY", "parse_rule",
           "type_name"]

DIFFERENCE_SUFFIX = "_difference"
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
MSG_UNKNOWN_KEY = "unknown key {key!r} in a {kind} rule (allowed: {allowed})"
MSG_NO_BOUND = "needs `min` or `max`"
MSG_MIN_GT_MAX = "min {lo:g} is greater than max {hi:g}"
MSG_BAD_USE = "`use` must be one of value, ci_low, ci_high (got {got!r})"


def type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)


_COMMON = {"severity"}
_ALLOWED: dict[str, set[str]] = {
    "metric": {"metric", "min", "max", "use", "per_slice"} | _COMMON,
    "slice": {"metric", "per_slice", "min", "max", "min_support", "columns", "use"} | _COMMON,
    "fairness": {"fairness", "feature", "min", "max", "use"} | _COMMON,
    "baseline": {"metric", "max_drop", "significance"} | _COMMON,
    "contract": {"contract"} | _COMMON,
    "experiment": {"experiment", "metric", "min", "max", "use", "variant", "srm",
                   "guardrails"} | _COMMON,
    "importance": {"importance", "not_in_top", "max", "use"} | _COMMON,
}
_HINTS = {
    ("metric", "min_support"): " (min_support goes with per_slice: true)",
    ("metric", "columns"): " (columns goes with per_slice: true)",
    ("metric", "feature"): " (a fairness rule is written `fairness: NAME` with `feature:`)",
    ("baseline", "min"): " (a baseline rule bounds the drop with max_drop, not min/max)",
    ("baseline", "max"): " (a baseline rule bounds the drop with max_drop, not min/max)",
}


class _RuleParser:
    """Validates one rule mapping; every error names the rule, the line and the problem."""

    def __init__(self, raw: dict[Any, Any], index: int, src: str, line: int | None,
                 key_lines: dict[str, int], catalogue: MetricCatalogue) -> None:
        self.raw, self.index, self.src, self.line, self.keys = raw, index, src, line, key_lines
        self.catalogue = catalogue

    def fail(self, problem: str, key: str | None = None) -> NoReturn:
        line = self.keys.get(key, self.line) if key else self.line
        raise UsageError(f"{where(self.src, self.index, line)}: {problem}")

    def kind(self) -> str:
        raw = self.raw
        if "contract" in raw:
            kind = "contract"
        elif "experiment" in raw:
            kind = "experiment"
        elif "importance" in raw:
            kind = "importance"
        elif "fairness" in raw and "metric" in raw:
            self.fail("a rule has either `metric` or `fairness`, not both", "fairness")
        elif "fairness" in raw:
            kind = "fairness"
        elif "metric" not in raw:
            self.fail("needs `metric`, `fairness` or `contract` naming what it checks")
        elif "max_drop" in raw:
            kind = "baseline"
        else:
            kind = "slice" if self.boolean("per_slice") else "metric"
        for key in map(str, raw):
            if key not in _ALLOWED[kind]:
                self.fail(MSG_UNKNOWN_KEY.format(key=key, kind=kind, allowed=", ".join(
                    sorted(_ALLOWED[kind]))) + _HINTS.get((kind, key), ""), key)
        return kind

    def boolean(self, key: str) -> bool:
        value = self.raw.get(key, False)
        if not isinstance(value, bool):
            self.fail(f"`{key}` must be true or false (got {value!r})", key)
        return value

    def number(self, key: str) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as text
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            self.fail(f"`{key}` must be a finite number (got {value!r})", key)
        return float(value)

    def name(self, key: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"`{key}` must name a metric (got {value!r})", key)
        value = value.strip()
        cat = self.catalogue
        ok = cat.is_disparity(value) if key == "fairness" else bool(cat.tasks_of(value))
        if not ok:
            self.fail(_unknown_name(cat, key, value), key)
        return value

    def bounds(self) -> tuple[float | None, float | None]:
        lo, hi = self.number("min"), self.number("max")
        if lo is None and hi is None:
            self.fail(MSG_NO_BOUND)
        if lo is not None and hi is not None and lo > hi:
            self.fail(MSG_MIN_GT_MAX.format(lo=lo, hi=hi), "min")
        return lo, hi

    def use(self) -> Use:
        value = self.raw.get("use", "value")
        if value not in USES:
            self.fail(MSG_BAD_USE.format(got=value), "use")
        return cast(Use, value)

    def severity(self) -> Severity:
        value = self.raw.get("severity", "fail")
        if value not in SEVERITIES:
            self.fail(f"`severity` must be fail or warn (got {value!r})", "severity")
        return cast(Severity, value)

    def min_support(self) -> int | None:
        value = self.raw.get("min_support")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(f"`min_support` must be a whole number >= 0 (got {value!r})",
                      "min_support")
        return value

    def names(self, key: str, what: str) -> list[str]:
        value = self.raw.get(key)
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(
                isinstance(v, str) and v.strip() for v in items):
            self.fail(f"`{key}` must be a {what} or a non-empty list of them (got {value!r})",
                      key)
        names = [v.strip() for v in items]
        if len(set(names)) != len(names):
            self.fail(f"`{key}` lists a {what} twice", key)
        return names


def _unknown_name(cat: MetricCatalogue, key: str, value: str) -> str:
    if key == "metric" and cat.is_disparity(value):
        return (f"{value!r} is a fairness metric: write `fairness: {value}` with "
                "`feature: COLUMN`")
    if key == "fairness" and cat.tasks_of(value):
        gap = (f" (or `fairness: {value}{DIFFERENCE_SUFFIX}` for its gap between groups)"
               if cat.group_differences else "")
        return f"{value!r} is not a fairness metric: write `metric: {value}`{gap}"
    known = cat.exact_names(kind="disparity") if key == "fairness" else cat.exact_names()
    known = sorted(known)
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.75)
    more = ""
    if key == "fairness" and cat.group_differences:
        more = ", or METRIC_difference"
    elif key == "metric":
        families = list(dict.fromkeys(f for t in cat.tasks for f in cat.families(t)))
        more = "".join(f", {f}" for f in families) if not cat.group_differences else ""
    if close:
        hint = f"did you mean {close[0]!r}?"
    elif known or more:
        hint = f"known: {', '.join(known)}{more}".replace("known: , ", "known: ")
    else:  # a catalogue without disparities (the LLM gate's) takes no fairness rule at all
        hint = "this policy's metric catalogue has no fairness metrics"
    return f"unknown {key if key == 'metric' else 'fairness metric'} {value!r} ({hint})"


def parse_rule(raw: Any, index: int, src: str, line: int | None, key_lines: dict[str, int],
               catalogue: MetricCatalogue) -> Rule:
    """One rule from its YAML mapping; a UsageError names the rule, its line, the problem."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where(src, index, line)}: a rule must be a mapping like "
                         f"`metric: roc_auc` with `min:` (got {type_name(raw)})")
    p = _RuleParser(raw, index, src, line, key_lines, catalogue)
    kind = p.kind()
    if kind == "contract":
        name = raw["contract"]
        if not isinstance(name, str) or not name.strip():
            p.fail("`contract` names a data contract (its `name:`)", "contract")
        return ContractRule(index=index, contract=name, severity=p.severity(), line=line)
    if kind == "experiment":
        return _experiment_rule(p)
    if kind == "baseline":
        return _baseline_rule(p)
    if kind == "importance":
        return _importance_rule(p)
    if kind == "fairness":
        name = p.name("fairness")
        features = tuple(_feature(p, spec) for spec in p.names("feature", "column"))
        lo, hi = p.bounds()
        return FairnessRule(index=index, fairness=name, features=features, min=lo, max=hi,
                            use=p.use(), severity=p.severity(), line=line)
    metric = p.name("metric")
    lo, hi = p.bounds()
    if kind == "slice":
        columns = tuple(p.names("columns", "column")) if "columns" in raw else None
        return SliceRule(index=index, metric=metric, min=lo, max=hi,
                         min_support=p.min_support(), columns=columns, use=p.use(),
                         severity=p.severity(), line=line)
    return MetricRule(index=index, metric=metric, min=lo, max=hi, use=p.use(),
                      severity=p.severity(), line=line)


def _text(p: _RuleParser, key: str, what: str) -> str | None:
    value = p.raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        p.fail(f"`{key}` names {what} (got {value!r})", key)
    return value.strip()


def _experiment_rule(p: _RuleParser) -> ExperimentRule:
    endpoint = _text(p, "experiment", "the endpoint whose experiment is judged")
    metric = _text(p, "metric", "an experiment metric, e.g. accuracy or mean(COLUMN)")
    lo, hi = (None, None)
    if metric is not None:
        lo, hi = p.bounds()
    elif "min" in p.raw or "max" in p.raw:
        p.fail("`min`/`max` bound a lift: name its `metric`", "min" if "min" in p.raw
               else "max")
    use = p.raw.get("use", "lift_ci_low")
    if use not in EXPERIMENT_USES:
        p.fail(f"`use` must be one of {', '.join(EXPERIMENT_USES)} (got {use!r})", "use")
    srm = p.boolean("srm") if "srm" in p.raw else True
    guardrails = p.boolean("guardrails") if "guardrails" in p.raw else True
    return ExperimentRule(index=p.index, experiment=str(endpoint), metric=metric, min=lo,
                          max=hi, use=cast(ExperimentUse, use),
                          variant=_text(p, "variant", "a route"), srm=srm,
                          guardrails=guardrails, severity=p.severity(), line=p.line)


def _baseline_rule(p: _RuleParser) -> BaselineRule:
    metric = p.name("metric")
    max_drop = p.number("max_drop")
    if max_drop is None or max_drop < 0:
        p.fail(f"`max_drop` must be a number >= 0 (got {p.raw.get('max_drop')!r})", "max_drop")
    significance = p.number("significance")
    if significance is None:
        significance = DEFAULT_SIGNIFICANCE
    elif not 0.0 < significance < 1.0:
        p.fail(f"`significance` must be between 0 and 1, exclusive (got {significance:g})",
               "significance")
    return BaselineRule(index=p.index, metric=metric, max_drop=max_drop,
                        significance=significance, severity=p.severity(), line=p.line)


MSG_IMPORTANCE_BOUND = "needs `not_in_top` (a rank) or `max` (an importance), or both"


def _importance_rule(p: _RuleParser) -> ImportanceRule:
    features = tuple(p.names("importance", "column"))
    top = p.raw.get("not_in_top")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        p.fail(f"`not_in_top` must be a whole number >= 1 (got {top!r})", "not_in_top")
    hi = p.number("max")
    if top is None and hi is None:
        p.fail(MSG_IMPORTANCE_BOUND)
    return ImportanceRule(index=p.index, features=features, not_in_top=top, max=hi,
                          use=p.use(), severity=p.severity(), line=p.line)


def _feature(p: _RuleParser, spec: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in spec.split("&"))
    if not all(parts):
        p.fail(f"feature {spec!r}: an intersection is written `sex & race`", "feature")
    if len(set(parts)) != len(parts):
        p.fail(f"feature {spec!r} repeats a column", "feature")
    return parts
