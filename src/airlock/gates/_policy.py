"""Policies: a YAML gate, parsed and checked in full before anything is computed.

Rules are numbered from 1 as a person counts them; every load-time error names the rule,
its line and what is wrong::

    name: adult-release
    rules:
      - metric: roc_auc                 # MetricRule: a bound on an overall metric
        min: 0.85
      - metric: roc_auc                 # BaselineRule: no significant regression
        max_drop: 0.01
        significance: 0.05              # default 0.05
      - metric: recall                  # SliceRule: the bound holds in every slice
        per_slice: true                 #   with support >= min_support (else: not flagged)
        min: 0.6
        min_support: 200
        columns: [education]            #   optional: only these slice columns
      - fairness: demographic_parity_ratio   # FairnessRule: a disparity on a feature
        feature: sex                    # or [sex, race] (each), or "sex & race" (intersection)
        min: 0.8
      - metric: ece
        max: 0.05
        use: ci_high                    # value (default), ci_low or ci_high
        severity: warn                  # reported, never fails the gate (default: fail)

Bounds are inclusive; a rule needs ``min``, ``max`` or both, except a baseline rule, which
takes ``max_drop`` (exact semantics in :mod:`airlock.gates._decide`; for a lower-is-better
metric such as log_loss a "drop" is an increase). Fairness names are the binary disparities
(FAIRNESS_METRICS) or, for other tasks, ``<metric>_difference`` (max-min gap over groups).

``Policy.sha256`` is the sha256 of the canonical YAML (name and rules, defaults spelled out,
keys sorted): comments, layout, ``description`` and omitted defaults do not change it.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, NoReturn, TypeAlias, cast

import yaml

from airlock.errors import UsageError, file_not_found

__all__ = [
    "FAIRNESS_METRICS",
    "TASK_METRICS",
    "BaselineRule",
    "ContractRule",
    "FairnessRule",
    "MetricRule",
    "Policy",
    "Rule",
    "SliceRule",
    "higher_is_better",
    "load_policy",
]

Use = Literal["value", "ci_low", "ci_high"]
Severity = Literal["fail", "warn"]
USES: tuple[Use, ...] = ("value", "ci_low", "ci_high")
SEVERITIES: tuple[Severity, ...] = ("fail", "warn")
DEFAULT_SIGNIFICANCE = 0.05

TASK_METRICS: dict[str, frozenset[str]] = {
    "binary": frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc",
                         "log_loss", "brier", "ece", "selection_rate"}),
    "multiclass": frozenset({"accuracy", "macro_f1", "weighted_f1", "log_loss"}),
    "regression": frozenset({"mae", "rmse", "r2", "mape"}),
    "ranking": frozenset({"mrr"}),
}
# metrics with a parameter: per-class precision/recall, and ranking metrics at a cut-off k
_TASK_PATTERNS: dict[str, re.Pattern[str]] = {
    "multiclass": re.compile(r"(precision|recall)\[.+\]"),
    "ranking": re.compile(r"(ndcg|recall)@[1-9][0-9]*"),
}
_PATTERN_TEXT = {"multiclass": "precision[CLASS], recall[CLASS]", "ranking": "ndcg@K, recall@K"}
FAIRNESS_METRICS = frozenset({"demographic_parity_difference", "demographic_parity_ratio",
                              "equalized_odds_difference", "equal_opportunity_difference",
                              "disparate_impact_ratio"})
_DIFFERENCE = "_difference"  # non-binary tasks: `<metric>_difference`, the max-min group gap
_LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "mae", "rmse", "mape"})
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

MSG_EMPTY = "{src}: the policy is empty"
MSG_NOT_MAPPING = "{src}: a policy must be a mapping with `name` and `rules` (got {got})"
MSG_NO_RULES = "{src}: the policy needs a non-empty `rules` list"
MSG_UNKNOWN_KEY = "unknown key {key!r} in a {kind} rule (allowed: {allowed})"
MSG_NO_BOUND = "needs `min` or `max`"
MSG_MIN_GT_MAX = "min {lo:g} is greater than max {hi:g}"
MSG_BAD_USE = "`use` must be one of value, ci_low, ci_high (got {got!r})"


def metric_tasks(metric: str) -> list[str]:
    """The tasks that compute ``metric`` (empty when no task does)."""
    return [task for task, names in TASK_METRICS.items()
            if metric in names or (task in _TASK_PATTERNS
                                    and _TASK_PATTERNS[task].fullmatch(metric))]


def is_fairness_metric(name: str) -> bool:
    """A binary disparity, or ``<metric>_difference`` (the group gap of a task metric)."""
    return name in FAIRNESS_METRICS or (
        name.endswith(_DIFFERENCE) and bool(metric_tasks(name[:-len(_DIFFERENCE)])))


def higher_is_better(metric: str) -> bool:
    """The direction of a metric when the evaluation does not record it."""
    return metric not in _LOWER_IS_BETTER


def _bounds_text(subject: str, lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g} <= {subject} <= {hi:g}"
    return f"{subject} >= {lo:g}" if lo is not None else f"{subject} <= {hi or 0.0:g}"


def _subject(metric: str, use: Use) -> str:
    return metric if use == "value" else f"{metric} ({use})"


# -- rules -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricRule:
    """An absolute bound on an overall metric: ``roc_auc >= 0.85``."""

    kind: ClassVar[str] = "metric"
    index: int
    metric: str
    min: float | None = None
    max: float | None = None
    use: Use = "value"
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        return _bounds_text(_subject(self.metric, self.use), self.min, self.max)


@dataclass(frozen=True)
class SliceRule:
    """A bound that holds in every slice with enough support (``min_support``; without it,
    every slice the evaluation did not flag for low support)."""

    kind: ClassVar[str] = "slice"
    index: int
    metric: str
    min: float | None = None
    max: float | None = None
    min_support: int | None = None
    columns: tuple[str, ...] | None = None
    use: Use = "value"
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        where = f" of {', '.join(self.columns)}" if self.columns else ""
        support = (f"with support >= {self.min_support}" if self.min_support is not None
                   else "not flagged for low support")
        return (f"{_bounds_text(_subject(self.metric, self.use), self.min, self.max)} "
                f"in every slice{where} {support}")


@dataclass(frozen=True)
class FairnessRule:
    """A bound on a fairness disparity for each listed feature (a feature is one column or
    an intersection of columns, ``("sex", "race")``)."""

    kind: ClassVar[str] = "fairness"
    index: int
    fairness: str
    features: tuple[tuple[str, ...], ...]
    min: float | None = None
    max: float | None = None
    use: Use = "value"
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def metric(self) -> str:
        return self.fairness

    @property
    def feature_text(self) -> str:
        return ", ".join(" & ".join(f) for f in self.features)

    @property
    def text(self) -> str:
        on = "each of " if len(self.features) > 1 else ""
        return _bounds_text(f"{_subject(self.fairness, self.use)} on {on}{self.feature_text}",
                            self.min, self.max)


@dataclass(frozen=True)
class BaselineRule:
    """No statistically significant regression against the baseline beyond ``max_drop``."""

    kind: ClassVar[str] = "baseline"
    index: int
    metric: str
    max_drop: float
    significance: float = DEFAULT_SIGNIFICANCE
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        return (f"{self.metric} worsens by at most {self.max_drop:g} vs baseline "
                f"(significance {self.significance:g})")


@dataclass(frozen=True)
class ContractRule:
    """The evaluated data passed this data contract (the newest stored validation of the
    evaluation's dataset fingerprint under that contract name)."""

    kind: ClassVar[str] = "contract"
    index: int
    contract: str
    severity: Severity = "fail"
    line: int | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        return f"data contract {self.contract!r} passes"


Rule: TypeAlias = MetricRule | SliceRule | FairnessRule | BaselineRule | ContractRule


def rule_dict(rule: Rule) -> dict[str, Any]:
    """The rule as YAML data with every default spelled out: what the sha256 covers."""
    out = {f.name: getattr(rule, f.name) for f in fields(rule) if f.name not in ("index", "line")}
    if isinstance(rule, SliceRule):
        out["per_slice"] = True
        out["columns"] = list(rule.columns) if rule.columns else None
    if isinstance(rule, FairnessRule):
        names = [" & ".join(f) for f in out.pop("features")]
        out["feature"] = names[0] if len(names) == 1 else names
    return {k: v for k, v in out.items() if v is not None}


# -- the policy ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """A parsed, validated policy. ``text`` is the source as written; ``canonical`` the
    normalised YAML whose sha256 identifies the policy."""

    name: str
    rules: tuple[Rule, ...]
    sha256: str
    text: str
    canonical: str
    description: str | None = None
    source: str = "policy"

    def sensitive_features(self) -> list[str]:
        """Columns the fairness rules need as sensitive features (intersections split)."""
        return list(dict.fromkeys(c for r in self.rules if isinstance(r, FairnessRule)
                                  for f in r.features for c in f))

    def intersections(self) -> list[tuple[str, ...]]:
        """Intersections the fairness rules gate on; evaluated under ``" & ".join(...)``."""
        return list(dict.fromkeys(f for r in self.rules if isinstance(r, FairnessRule)
                                  for f in r.features if len(f) > 1))

    def slice_columns(self) -> list[str]:
        """Slice columns the per-slice rules name explicitly (``columns:``)."""
        return list(dict.fromkeys(c for r in self.rules if isinstance(r, SliceRule)
                                  for c in r.columns or ()))

    @property
    def needs_baseline(self) -> bool:
        return any(isinstance(rule, BaselineRule) for rule in self.rules)

    def contracts(self) -> list[str]:
        """Names of the data contracts the policy requires."""
        return [r.contract for r in self.rules if isinstance(r, ContractRule)]

    def check_applicable(self, task: str, columns: set[str], slices: list[str],
                         sensitive: list[str], has_baseline: bool) -> None:
        """Raise UsageError naming the first rule that cannot apply to an evaluation of
        ``task`` on data with ``columns`` (slice and sensitive columns also count as
        present), before anything is computed."""
        if task not in TASK_METRICS:
            raise UsageError(f"unknown task {task!r} (expected one of "
                             f"{', '.join(TASK_METRICS)})")
        present = set(columns) | set(slices) | set(sensitive)
        for rule in self.rules:
            problem = _inapplicable(rule, task, present, bool(slices), has_baseline)
            if problem:
                raise UsageError(f"{_where(self.source, rule.index, rule.line)} "
                                 f"`{rule.text}`: {problem}")

    def check_evaluation(self, evaluation: Mapping[str, Any]) -> None:
        """Like :meth:`check_applicable`, for an evaluation already computed: every column a
        rule names must have been evaluated (as a slice or sensitive feature)."""
        slices = list(evaluation.get("slices") or {})
        evaluated = [part.strip() for key in (evaluation.get("fairness") or {})
                     for part in str(key).split("&")]
        self.check_applicable(str(evaluation.get("task")), set(), slices, evaluated,
                              evaluation.get("baseline") is not None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256,
                "rules": [{"index": r.index, "kind": r.kind, "text": r.text, **rule_dict(r)}
                          for r in self.rules]}


def _inapplicable(rule: Rule, task: str, present: set[str], has_slices: bool,
                  has_baseline: bool) -> str | None:
    if isinstance(rule, ContractRule):
        return None  # judged against the stored contract results, any task
    if isinstance(rule, FairnessRule):
        problem = _fairness_task(rule.fairness, task)
        if problem:
            return problem
        missing = [c for f in rule.features for c in f if c not in present]
        return _missing_column("feature", missing[0], present) if missing else None
    if rule.metric not in TASK_METRICS[task] and not (
            task in _TASK_PATTERNS and _TASK_PATTERNS[task].fullmatch(rule.metric)):
        return (f"{rule.metric} is not a metric of a {task} task (its metrics: "
                f"{', '.join(sorted(TASK_METRICS[task]))}"
                f"{', ' + _PATTERN_TEXT[task] if task in _PATTERN_TEXT else ''})")
    if isinstance(rule, BaselineRule) and not has_baseline:
        return "compares against a baseline, but no baseline was given (--baseline)"
    if isinstance(rule, SliceRule):
        if rule.columns:
            missing = [c for c in rule.columns if c not in present]
            return _missing_column("slice column", missing[0], present) if missing else None
        if not has_slices:
            return "a per-slice rule needs slice columns: pass --slices or list `columns:`"
    return None


def _fairness_task(name: str, task: str) -> str | None:
    if name in FAIRNESS_METRICS:
        return None if task == "binary" else (
            f"{name} is a disparity of binary classification; a {task} task has "
            f"`<metric>_difference` (e.g. {sorted(TASK_METRICS[task])[0]}_difference)")
    metric = name[:-len(_DIFFERENCE)]
    if task == "binary" or task not in metric_tasks(metric):
        return f"{name} is not a disparity of a {task} task"
    return None


def _missing_column(what: str, name: str, present: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(present), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{what} {name!r} is not a column of the data{hint}"


def _where(src: str, index: int, line: int | None) -> str:
    return f"{src}: rule {index}" + (f" (line {line})" if line else "")


# -- loading -------------------------------------------------------------------------------------
def load_policy(source: str | Path | Policy) -> Policy:
    """Parse and validate a policy from a file path or YAML text (a Policy passes through).

    Raises UsageError (NotFound for a missing file) naming the rule, its line and the problem."""
    if isinstance(source, Policy):
        return source
    text, src, default_name = _read(source)
    data, (top_lines, rule_lines) = _parse_yaml(text, src)
    if data is None:
        raise UsageError(MSG_EMPTY.format(src=src))
    if not isinstance(data, dict):
        raise UsageError(MSG_NOT_MAPPING.format(src=src, got=_type_name(data)))
    unknown = sorted(set(map(str, data)) - {"name", "description", "rules"})
    if unknown:
        line = top_lines.get(unknown[0])
        raise UsageError(f"{src}: unknown top-level key {unknown[0]!r}"
                         + (f" (line {line})" if line else "")
                         + " (allowed: name, description, rules)")
    name = data.get("name", default_name)
    description = data.get("description")
    for key, value in (("name", name), ("description", description)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise UsageError(f"{src}: `{key}` must be a non-empty string")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise UsageError(MSG_NO_RULES.format(src=src))
    rules = tuple(_parse_rule(raw, i, src, *rule_lines[i - 1])  # `rules` is a YAML sequence
                  for i, raw in enumerate(raw_rules, start=1))
    canonical = yaml.safe_dump({"name": name, "rules": [rule_dict(r) for r in rules]},
                               sort_keys=True, default_flow_style=False, allow_unicode=True)
    return Policy(name=name, rules=rules, sha256=hashlib.sha256(canonical.encode()).hexdigest(),
                  text=text, canonical=canonical, description=description, source=src)


def _read(source: str | Path) -> tuple[str, str, str]:
    """(text, label for messages, default name) of a path or of YAML text."""
    if not isinstance(source, Path) and ("\n" in source or not (
            source.endswith((".yaml", ".yml")) or _is_file(source))):
        return source, "policy", "policy"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), path.name, path.stem
    except FileNotFoundError:
        raise file_not_found(path, "policy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read policy file {path}: {exc}") from None


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # too long for a file name, or a NUL byte
        return False


# line numbers (1-based): of the top-level keys, and of each rule with its keys
_Lines: TypeAlias = tuple[dict[str, int], list[tuple[int, dict[str, int]]]]


def _parse_yaml(text: str, src: str) -> tuple[Any, _Lines]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{src}: malformed YAML{at}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{src}: malformed YAML: {exc}") from None
    finally:
        loader.dispose()
    top: dict[str, int] = {}
    per_rule: list[tuple[int, dict[str, int]]] = []
    if isinstance(node, yaml.MappingNode):
        top = _key_lines(node, src, "the policy")
        rules = next((v for k, v in node.value if k.value == "rules"), None)
        for i, item in enumerate(rules.value if isinstance(rules, yaml.SequenceNode) else [], 1):
            per_rule.append((item.start_mark.line + 1, _key_lines(item, src, f"rule {i}")
                             if isinstance(item, yaml.MappingNode) else {}))
    return data, (top, per_rule)


def _key_lines(node: yaml.MappingNode, src: str, what: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, _ in node.value:
        name, line = str(key.value), key.start_mark.line + 1
        if name in out:
            raise UsageError(f"{src}: duplicate key {name!r} in {what} (lines {out[name]} "
                             f"and {line})")
        out[name] = line
    return out


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)


# -- one rule --------------------------------------------------------------------------------
_COMMON = {"severity"}
_ALLOWED: dict[str, set[str]] = {
    "metric": {"metric", "min", "max", "use", "per_slice"} | _COMMON,
    "slice": {"metric", "per_slice", "min", "max", "min_support", "columns", "use"} | _COMMON,
    "fairness": {"fairness", "feature", "min", "max", "use"} | _COMMON,
    "baseline": {"metric", "max_drop", "significance"} | _COMMON,
    "contract": {"contract"} | _COMMON,
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
                 key_lines: dict[str, int]) -> None:
        self.raw, self.index, self.src, self.line, self.keys = raw, index, src, line, key_lines

    def fail(self, problem: str, key: str | None = None) -> NoReturn:
        line = self.keys.get(key, self.line) if key else self.line
        raise UsageError(f"{_where(self.src, self.index, line)}: {problem}")

    def kind(self) -> str:
        raw = self.raw
        if "contract" in raw:
            kind = "contract"
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
        ok = is_fairness_metric(value) if key == "fairness" else bool(metric_tasks(value))
        if not ok:
            self.fail(_unknown_name(key, value), key)
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


def _unknown_name(key: str, value: str) -> str:
    if key == "metric" and value in FAIRNESS_METRICS:
        return (f"{value!r} is a fairness metric: write `fairness: {value}` with "
                "`feature: COLUMN`")
    if key == "fairness" and metric_tasks(value):
        return (f"{value!r} is not a fairness metric: write `metric: {value}` (or "
                f"`fairness: {value}_difference` for its gap between groups)")
    known = sorted(FAIRNESS_METRICS) if key == "fairness" else sorted(
        set().union(*TASK_METRICS.values()))
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.75)
    more = ", or METRIC_difference" if key == "fairness" else ""
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}{more}"
    return f"unknown {key if key == 'metric' else 'fairness metric'} {value!r} ({hint})"


def _parse_rule(raw: Any, index: int, src: str, line: int | None,
                key_lines: dict[str, int]) -> Rule:
    if not isinstance(raw, dict):
        raise UsageError(f"{_where(src, index, line)}: a rule must be a mapping like "
                         f"`metric: roc_auc` with `min:` (got {_type_name(raw)})")
    p = _RuleParser(raw, index, src, line, key_lines)
    kind = p.kind()
    if kind == "contract":
        name = raw["contract"]
        if not isinstance(name, str) or not name.strip():
            p.fail("`contract` names a data contract (its `name:`)", "contract")
        return ContractRule(index=index, contract=name, severity=p.severity(), line=line)
    if kind == "baseline":
        return _baseline_rule(p)
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


def _feature(p: _RuleParser, spec: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in spec.split("&"))
    if not all(parts):
        p.fail(f"feature {spec!r}: an intersection is written `sex & race`", "feature")
    if len(set(parts)) != len(parts):
        p.fail(f"feature {spec!r} repeats a column", "feature")
    return parts
