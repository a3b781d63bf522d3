"""``guard eval``: measure a guard policy on labelled data, with bootstrap CIs.

Rows are JSON objects: ``{"text"|"prompt": str, "label": "benign"|"attack"|"pii"|...,
"types": [...], "spans": [{"type", "start", "end"}]}``. A row is positive when its label is
not ``benign``; its true types are ``types`` plus the types of its ``spans`` (an ``attack``
row without types counts as ``INJECTION``, any injection category).

Metrics (each a value with a percentile bootstrap CI over rows, resampled together by the
one bootstrap engine of :mod:`airlock.evaluation`):

* ``precision``, ``recall``, ``fpr``: a row is flagged when the guard raised any finding;
  ``fpr`` is the share of benign rows flagged.
* ``recall.T``, ``precision.T``, ``fpr.T`` per type T. For a type with labelled spans (PII)
  they are span-level: a labelled span is found when a finding of that type overlaps it,
  and precision counts findings of T that overlap a labelled span of T, on rows whose spans
  are labelled (pii and benign rows). Other types are row-level. ``INJECTION`` is the
  umbrella of the five injection categories, ``PII`` of every labelled span.
* ``latency_ms.p50`` / ``latency_ms.p95`` (no CI).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from airlock._files import read_jsonl, write_atomic
from airlock.errors import InvalidInput, UsageError

from ._guard import Guard, Verdict
from ._policy import GuardPolicy
from ._types import INJECTION_TYPES, Finding, Stage, underlying_type

__all__ = ["GuardEvaluation", "evaluate_guard", "read_rows"]

CONFIDENCE = 0.95
_INJ = frozenset(INJECTION_TYPES)


@dataclass(frozen=True)
class GuardEvaluation:
    """The measured policy: flat ``metrics`` a gate reads, per-type rows, examples of misses
    and false alarms, latency, and what was measured (policy sha256, data sha256, seed)."""

    policy: str
    policy_sha256: str
    stage: str
    data_sha256: str
    rows: int
    counts: dict[str, int]
    metrics: dict[str, dict[str, Any]]
    per_type: list[dict[str, Any]]
    latency_ms: dict[str, float]
    seed: int
    n_boot: int
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    per_detector: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "policy_sha256": self.policy_sha256,
                "stage": self.stage, "data_sha256": self.data_sha256, "source": self.source,
                "rows": self.rows, "counts": dict(self.counts), "metrics": self.metrics,
                "per_type": self.per_type, "latency_ms": self.latency_ms, "seed": self.seed,
                "n_boot": self.n_boot, "confidence": CONFIDENCE, "examples": self.examples,
                "per_detector": self.per_detector}

    def render_html(self, path: str | Path) -> Path:
        """Write one self-contained HTML report (inline CSS, no script, no URL)."""
        from ._report import render

        out = Path(path)
        return write_atomic(out, render(self.to_dict()))


# -- reading -------------------------------------------------------------------------------
def read_rows(data: str | Path | Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Rows from a JSONL path or an iterable of dicts, checked; (rows, label for messages)."""
    if isinstance(data, str | Path):
        return ([_row(raw, where) for raw, where in read_jsonl(data, "data file")],
                Path(data).name)
    return [_row(raw, f"row {i}") for i, raw in enumerate(data, start=1)], "rows"


def _row(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: expected a JSON object")
    text = raw.get("text", raw.get("prompt"))
    if not isinstance(text, str):
        raise InvalidInput(f"{where}: needs a \"text\" or \"prompt\" string")
    label = raw.get("label")
    if not isinstance(label, str) or not label:
        raise InvalidInput(f"{where}: needs a \"label\" string (benign, attack, pii, ...)")
    types = raw.get("types") or []
    spans = raw.get("spans")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise InvalidInput(f"{where}: \"types\" must be a list of strings")
    if spans is not None:
        _check_spans(spans, len(text), where)
    return {"text": text, "label": label, "types": list(types), "spans": spans}


def _check_spans(spans: Any, n: int, where: str) -> None:
    if not isinstance(spans, list):
        raise InvalidInput(f"{where}: \"spans\" must be a list")
    for s in spans:
        ok = (isinstance(s, Mapping) and isinstance(s.get("type"), str)
              and isinstance(s.get("start"), int) and isinstance(s.get("end"), int)
              and 0 <= s["start"] < s["end"] <= n)
        if not ok:
            raise InvalidInput(f"{where}: a span needs type and 0 <= start < end <= "
                               f"len(text) (got {s!r})")


# -- measuring -----------------------------------------------------------------------------
def evaluate_guard(policy: GuardPolicy | str | Path | Mapping[str, Any] | Guard,
                   data: str | Path | Iterable[Mapping[str, Any]], *, stage: Stage = "input",
                   seed: int = 0, n_boot: int = 1000) -> GuardEvaluation:
    """Check every row with the policy and measure it (see the module docstring)."""
    if n_boot < 0:
        raise UsageError(f"n_boot must be >= 0 (got {n_boot})")
    guard = policy if isinstance(policy, Guard) else Guard(policy)
    rows, source = read_rows(data)
    if not rows:
        raise InvalidInput(f"{source}: no rows to evaluate")
    verdicts = guard.check_batch([r["text"] for r in rows], stage)
    counters = _counters(rows, verdicts)
    metrics = _bootstrap(counters, seed, n_boot)
    latency = np.array([v.latency_ms for v in verdicts])
    canonical = json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()
    labels: dict[str, int] = {}
    for r in rows:
        labels[r["label"]] = labels.get(r["label"], 0) + 1
    return GuardEvaluation(
        policy=guard.policy.name, policy_sha256=guard.policy.sha256, stage=stage,
        data_sha256=hashlib.sha256(canonical).hexdigest(), rows=len(rows), counts=labels,
        metrics=metrics, per_type=_per_type(metrics),
        latency_ms={"p50": float(np.percentile(latency, 50)),
                    "p95": float(np.percentile(latency, 95)), "mean": float(latency.mean())},
        seed=seed, n_boot=n_boot, examples=_examples(rows, verdicts), source=source,
        per_detector=_per_detector(rows, verdicts))


def _truth(row: Mapping[str, Any]) -> set[str]:
    types = set(row["types"]) | {s["type"] for s in row["spans"] or ()}
    if row["label"] == "attack" and not types:
        types.add("INJECTION")
    if types & _INJ:
        types.add("INJECTION")
    return types


def _predicted(findings: Sequence[Finding]) -> set[str]:
    kinds = {underlying_type(f) for f in findings}
    return kinds | ({"INJECTION"} if kinds & _INJ else set())


def _counters(rows: Sequence[Mapping[str, Any]], verdicts: Sequence[Verdict]
              ) -> dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """Per metric, the per-row numerator and denominator whose resampled sums give it."""
    n = len(rows)
    acc: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}

    def add(name: str, i: int, num: float, den: float) -> None:
        if name not in acc:
            acc[name] = (np.zeros(n), np.zeros(n))
        acc[name][0][i] += num
        acc[name][1][i] += den

    span_types = {s["type"] for r in rows for s in r["spans"] or ()}
    benign = np.array([r["label"] == "benign" for r in rows], dtype=float)
    predicted: dict[str, np.ndarray[Any, Any]] = {t: np.zeros(n) for t in span_types}
    for i, (row, verdict) in enumerate(zip(rows, verdicts, strict=True)):
        positive, flagged = row["label"] != "benign", bool(verdict.findings)
        truth, pred = _truth(row), _predicted(verdict.findings)
        add("recall", i, positive and flagged, positive)
        add("precision", i, positive and flagged, flagged)
        add("fpr", i, (not positive) and flagged, not positive)
        for t in (truth | pred) - span_types:
            add(f"recall.{t}", i, t in truth and t in pred, t in truth)
            add(f"precision.{t}", i, t in truth and t in pred, t in pred)
        for t in pred:
            predicted.setdefault(t, np.zeros(n))[i] = 1.0
        if row["spans"] is not None:
            _span_counts(row, verdict.findings, span_types, i, add)
    for t, hit in predicted.items():  # every benign row counts in every fpr.T
        acc[f"fpr.{t}"] = (benign * hit, benign.copy())
    return acc


def _span_counts(row: Mapping[str, Any], findings: Sequence[Finding], span_types: set[str],
                 i: int, add: Any) -> None:
    spans = row["spans"]
    for s in spans:
        hit = any(underlying_type(f) == s["type"] and f.start < s["end"] and s["start"] < f.end
                  for f in findings)
        add(f"recall.{s['type']}", i, hit, 1)
        add("recall.PII", i, hit, 1)
    for f in findings:
        kind = underlying_type(f)
        if kind not in span_types:
            continue
        good = any(s["type"] == kind and f.start < s["end"] and s["start"] < f.end
                   for s in spans)
        add(f"precision.{kind}", i, good, 1)
        add("precision.PII", i, good, 1)


def _bootstrap(counters: Mapping[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
               seed: int, n_boot: int) -> dict[str, dict[str, Any]]:
    """Each metric ``sum(num) / sum(den)`` with a percentile CI from the one bootstrap
    engine (rows resampled together, ``rng_for(seed, "guard")``); rows are put in a
    canonical order (by their counts) first, so the same rows in any order give the same
    intervals."""
    from airlock.evaluation import ratio_ci, rng_for  # the engine; not needed to check text

    names = sorted(counters)
    num = np.stack([counters[k][0] for k in names], axis=1)  # rows x metrics
    den = np.stack([counters[k][1] for k in names], axis=1)
    order = np.lexsort(np.concatenate([num, den], axis=1).T)
    num, den = num[order], den[order]
    value, low, high = ratio_ci(num, den, rng=rng_for(seed, "guard"), n_boot=n_boot,
                                confidence=CONFIDENCE)
    tot_num, tot_den = num.sum(axis=0), den.sum(axis=0)
    return {name: {"value": _num(value[j]), "ci_low": _num(low[j]), "ci_high": _num(high[j]),
                   "numerator": int(tot_num[j]), "denominator": int(tot_den[j])}
            for j, name in enumerate(names)}


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _per_type(metrics: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    types = sorted({k.split(".", 1)[1] for k in metrics if "." in k})
    return [{"type": t, **{m: metrics.get(f"{m}.{t}") for m in ("precision", "recall", "fpr")}}
            for t in types]


def _per_detector(rows: Sequence[Mapping[str, Any]], verdicts: Sequence[Verdict]
                  ) -> list[dict[str, Any]]:
    """Rows each detector (rule, PII validator, check) fired on, positive vs benign: which
    rule earns its keep and which one raises the false alarms."""
    counts: dict[str, list[int]] = {}
    for row, v in zip(rows, verdicts, strict=True):
        positive = row["label"] != "benign"
        for det in {f.detector for f in v.findings}:
            counts.setdefault(det, [0, 0])[0 if positive else 1] += 1
    return [{"detector": d, "positive_rows": p, "benign_rows": b,
             "precision": p / (p + b)} for d, (p, b) in sorted(counts.items())]


def _examples(rows: Sequence[Mapping[str, Any]], verdicts: Sequence[Verdict], limit: int = 25
              ) -> dict[str, list[dict[str, Any]]]:
    """The first misses (positive rows with no finding) and false alarms (benign rows with
    one); texts are cut to 240 characters."""
    missed: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    for row, v in zip(rows, verdicts, strict=True):
        item = {"text": row["text"][:240], "label": row["label"], "types": sorted(_truth(row)),
                "found": [f.to_dict() for f in v.findings]}
        if row["label"] != "benign" and not v.findings and len(missed) < limit:
            missed.append(item)
        elif row["label"] == "benign" and v.findings and len(alarms) < limit:
            alarms.append(item)
    return {"missed": missed, "false_alarms": alarms}
