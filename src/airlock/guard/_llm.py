"""``llm eval``: run labelled prompts through a guard policy and a model, and measure it.

Cases are JSON objects (one a line): ``{"id"?, "prompt" | "messages": [...], "system"?,
"expected": label | [labels], "reference"?}``. For each case, in order:

1. the input guard (stage ``input``) checks the prompt (every non-system message); a
   blocked input is the outcome ``blocked`` and the model is not called; ``redact``
   findings are redacted before the model sees the text;
2. the model answers (a Python function or an OpenAI-compatible endpoint, see
   :mod:`airlock.guard._llm_client`), ``concurrency`` calls at a time;
3. the output guard (stage ``output``) checks the answer; a refusal is detected by the
   policy's ``refusal`` check when it has one, else by the guard's refusal detector.

The predicted outcome is ``blocked`` (input blocked), ``refuse`` (the answer is a refusal),
``violation`` (the output check raised any finding other than a refusal), else ``allowed``.
A case's predicted labels are its outcome plus tags from the findings: ``injection`` and
``pii`` (input), ``pii_leak`` and ``secret_leak`` (output), and the lower-cased type of any
other finding (``blocked_term``, ``topic``, ...). Expected labels are normalised (``block``
-> ``blocked``, ``refusal`` -> ``refuse``, ``allow`` -> ``allowed``).

Metrics (ratios of sums over cases, each with a seeded percentile bootstrap CI that
resamples case indices): ``blocked_rate`` (of all cases), ``refusal_rate`` and
``violation_rate`` (of answered cases), ``accuracy`` (the outcome is one of the expected
outcome labels, over cases that name one), ``precision.L`` / ``recall.L`` for every label
expected or predicted as an outcome, ``exact_match`` and ``token_f1`` (SQuAD-normalised, the
served answer vs ``reference``), ``tokens_in_mean`` / ``tokens_out_mean`` per call and
``cost_per_1k_calls`` (from prices per million tokens). Latencies are timings, kept apart so
that the rest of :meth:`LlmEvaluation.to_dict` is identical for the same inputs and seed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from airlock._files import write_atomic
from airlock.errors import AirlockError, ModelUnavailable, UsageError, file_not_found

from ._guard import Guard, Verdict
from ._llm_client import (
    DEFAULT_KEY_ENV,
    OUTCOMES,
    Answer,
    ChatModel,
    canonical,
    exact_match,
    load_chat_model,
    messages_of,
    read_cases,
    token_f1,
)
from ._output import REFUSAL
from ._policy import GuardPolicy
from ._types import INJECTION_TYPES, PII_TYPES, Finding

if TYPE_CHECKING:
    from airlock.gates import Decision, Policy

__all__ = ["LlmEvaluation", "bootstrap", "decide_llm", "evaluate_llm", "load_llm_gate"]

CONFIDENCE = 0.95
_MAX_CELLS = 4_000_000


# -- running ------------------------------------------------------------------------------
@dataclass
class _Run:
    """What one case produced (before measuring)."""

    case: dict[str, Any]
    messages: list[dict[str, str]]
    prompt: str | None
    input_findings: list[Finding]
    input_action: str
    answer: Answer | None = None
    output: Verdict | None = None
    latency_ms: float | None = None
    guard_ms: float = 0.0


def _check_input(guard: Guard, case: dict[str, Any]) -> _Run:
    messages = messages_of(case["prompt"], case["system"], case["messages"])
    findings: list[Finding] = []
    actions: list[str] = []
    guard_ms = 0.0
    for i, msg in enumerate(messages):
        if msg["role"] == "system":
            continue
        try:
            verdict = guard.check(msg["content"], "input")
        except AirlockError as exc:
            raise type(exc)(f"case {case['id']}: {exc}") from None
        guard_ms += verdict.latency_ms
        findings += verdict.findings
        actions.append(verdict.action)
        if verdict.action == "redact":
            messages[i] = {**msg, "content": verdict.redacted}
    rank = {"block": 3, "redact": 2, "flag": 1}
    action = max(actions, key=lambda a: rank.get(a, 0), default="allow")
    prompt = case["prompt"] if case["messages"] is None and not case["system"] else None
    if prompt is not None:
        prompt = messages[-1]["content"]
    return _Run(case, messages, prompt, findings, action, guard_ms=guard_ms)


def _call(model: ChatModel, run: _Run) -> tuple[Answer, float]:
    start = time.perf_counter()
    try:
        answer = model(run.prompt, run.messages)
    except AirlockError as exc:
        raise type(exc)(f"case {run.case['id']}: {exc}") from None
    except Exception as exc:
        raise ModelUnavailable(f"case {run.case['id']}: the model raised "
                               f"{type(exc).__name__}: {exc}") from None
    return answer, (time.perf_counter() - start) * 1000.0


def _run_all(guard: Guard, model: ChatModel, cases: Sequence[dict[str, Any]],
             concurrency: int) -> list[_Run]:
    runs = [_check_input(guard, c) for c in cases]
    todo = [r for r in runs if r.input_action != "block"]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        try:
            answers = list(pool.map(lambda r: _call(model, r), todo))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    for run, (answer, ms) in zip(todo, answers, strict=True):
        run.answer, run.latency_ms = answer, ms
        try:
            run.output = guard.check(answer.text, "output")
        except AirlockError as exc:
            raise type(exc)(f"case {run.case['id']}: the answer: {exc}") from None
        run.guard_ms += run.output.latency_ms
    return runs


# -- outcomes and labels -----------------------------------------------------------------
def _tags(findings: Iterable[Finding], stage: str) -> set[str]:
    out = set()
    for f in findings:
        if f.type in INJECTION_TYPES:
            out.add("injection")
        elif f.type in PII_TYPES and stage == "input":
            out.add("pii")
        elif f.type != "REFUSAL":
            out.add(f.type.lower())
    return out


def _refused(run: _Run, refusal_in_policy: bool) -> bool:
    if run.output is None or run.answer is None:
        return False
    if refusal_in_policy:
        return any(f.type == "REFUSAL" for f in run.output.findings)
    return REFUSAL.search(run.answer.text) is not None


def _record(run: _Run, refusal_in_policy: bool, fallback: str) -> dict[str, Any]:
    """The reproducible record of one case (everything but timings)."""
    case, out = run.case, run.output
    blocked = run.input_action == "block"
    refused = _refused(run, refusal_in_policy)
    violating = out is not None and any(f.type != "REFUSAL" for f in out.findings)
    outcome = ("blocked" if blocked else "refuse" if refused else
               "violation" if violating else "allowed")
    predicted = sorted({outcome} | _tags(run.input_findings, "input")
                       | _tags(out.findings if out else (), "output"))
    served = fallback if blocked or (out is not None and not out.allowed) else (
        out.redacted if out is not None else "")
    rec: dict[str, Any] = {
        "id": case["id"], "expected": case["expected"], "outcome": outcome,
        "predicted": predicted, "refusal": refused, "violation": violating,
        "input": {"action": run.input_action,
                  "findings": [f.to_dict() for f in run.input_findings]},
        "messages": run.messages, "answer": run.answer.text if run.answer else None,
        "output": None if out is None else {
            "action": out.action, "findings": [f.to_dict() for f in out.findings],
            "reasons": list(out.reasons), "redacted": out.redacted},
        "served": served,
        "usage": {"prompt_tokens": run.answer.prompt_tokens if run.answer else None,
                  "completion_tokens": run.answer.completion_tokens if run.answer else None},
    }
    if case["reference"] is not None:
        rec["exact_match"] = exact_match(served, case["reference"])
        rec["token_f1"] = token_f1(served, case["reference"])
    return rec


# -- metrics ------------------------------------------------------------------------------
Counters = dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]


def _counters(records: Sequence[Mapping[str, Any]], price_in: float | None,
              price_out: float | None) -> Counters:
    """Per metric, per-case numerator and denominator whose resampled sums give it."""
    n = len(records)

    def col(fn: Callable[[Mapping[str, Any]], float]) -> np.ndarray[Any, Any]:
        return np.array([fn(r) for r in records], dtype=float)

    answered = col(lambda r: r["answer"] is not None)
    acc: Counters = {
        "blocked_rate": (col(lambda r: r["outcome"] == "blocked"), np.ones(n)),
        "refusal_rate": (col(lambda r: r["refusal"]), answered),
        "violation_rate": (col(lambda r: r["violation"]), answered),
        "accuracy": (col(lambda r: r["outcome"] in r["expected"]),
                     col(lambda r: bool(set(r["expected"]) & set(OUTCOMES)))),
    }
    labels = sorted({x for r in records for x in r["expected"]}
                    | {r["outcome"] for r in records})
    for label in labels:
        truth = col(lambda r, lb=label: lb in r["expected"])  # type: ignore[misc]
        pred = col(lambda r, lb=label: lb in r["predicted"])  # type: ignore[misc]
        acc[f"precision.{label}"] = (truth * pred, pred)
        acc[f"recall.{label}"] = (truth * pred, truth)
    has_ref = col(lambda r: "token_f1" in r)
    if has_ref.any():
        acc["exact_match"] = (col(lambda r: r.get("exact_match", 0.0)), has_ref)
        acc["token_f1"] = (col(lambda r: r.get("token_f1", 0.0)), has_ref)
    usage = col(lambda r: r["usage"]["prompt_tokens"] is not None
                and r["usage"]["completion_tokens"] is not None)
    if usage.any():
        tin = col(lambda r: r["usage"]["prompt_tokens"] or 0)
        tout = col(lambda r: r["usage"]["completion_tokens"] or 0)
        acc["tokens_in_mean"] = (tin * usage, usage)
        acc["tokens_out_mean"] = (tout * usage, usage)
        if price_in is not None or price_out is not None:
            cost = (tin * (price_in or 0.0) + tout * (price_out or 0.0)) / 1e6 * 1000.0
            acc["cost_per_1k_calls"] = (cost * usage, usage)
    return acc


def _resample_weights(rng: np.random.Generator, n: int, size: int) -> np.ndarray[Any, Any]:
    """``size`` bootstrap resamples of ``n`` case indices, as counts per case."""
    idx = rng.integers(0, n, size=(size, n))
    flat = (idx + (np.arange(size) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=size * n).reshape(size, n).astype(float)


def bootstrap(counters: Counters, n: int, seed: int, n_boot: int) -> dict[str, dict[str, Any]]:
    """Each metric ``sum(num) / sum(den)`` with a percentile CI over resampled cases."""
    names = sorted(counters)
    num = np.stack([counters[k][0] for k in names], axis=1)
    den = np.stack([counters[k][1] for k in names], axis=1)
    low = np.full(len(names), np.nan)
    high = np.full(len(names), np.nan)
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        chunk = max(1, _MAX_CELLS // n)
        parts = []
        for start in range(0, n_boot, chunk):
            w = _resample_weights(rng, n, min(chunk, n_boot - start))
            with np.errstate(invalid="ignore", divide="ignore"):
                parts.append((w @ num) / (w @ den))
        samples = np.concatenate(parts, axis=0)
        alpha = (1.0 - CONFIDENCE) / 2.0
        ok = ~np.all(np.isnan(samples), axis=0)
        if ok.any():
            low[ok] = np.nanquantile(samples[:, ok], alpha, axis=0)
            high[ok] = np.nanquantile(samples[:, ok], 1.0 - alpha, axis=0)
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        tn, td = float(num[:, j].sum()), float(den[:, j].sum())
        out[name] = {"value": tn / td if td else None, "ci_low": _finite(low[j]),
                     "ci_high": _finite(high[j]), "numerator": round(tn, 10),
                     "denominator": round(td, 10)}
    return out


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _timings(runs: Sequence[_Run]) -> dict[str, Any]:
    lat = np.array([r.latency_ms for r in runs if r.latency_ms is not None], dtype=float)
    guard = np.array([r.guard_ms for r in runs], dtype=float)

    def pct(a: np.ndarray[Any, Any], q: float) -> float | None:
        return float(np.percentile(a, q)) if a.size else None

    return {"latency_p50_ms": pct(lat, 50), "latency_p95_ms": pct(lat, 95),
            "latency_mean_ms": float(lat.mean()) if lat.size else None,
            "guard_p50_ms": pct(guard, 50), "guard_p95_ms": pct(guard, 95),
            "per_case": [{"id": r.case["id"], "latency_ms": r.latency_ms,
                          "guard_ms": r.guard_ms} for r in runs]}


# -- the result ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LlmEvaluation:
    """The measured model + policy. ``to_dict()`` minus ``timings`` is identical for the
    same cases, model answers, policy and seed; ``metrics`` also has the latency metrics
    (no CI) that a gate can bound."""

    id: str
    model: str
    model_name: str | None
    policy: str
    policy_sha256: str
    cases_sha256: str
    source: str
    cases: list[dict[str, Any]]
    records: list[dict[str, Any]]
    results: dict[str, dict[str, Any]]
    counts: dict[str, int]
    seed: int
    n_boot: int
    prices: dict[str, float | None]
    timings: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        timed = {k: {"value": self.timings.get(k), "ci_low": None, "ci_high": None}
                 for k in ("latency_p50_ms", "latency_p95_ms", "latency_mean_ms")}
        return {**self.results, **timed}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": "llm", "model": self.model,
                "model_name": self.model_name, "policy": self.policy,
                "policy_sha256": self.policy_sha256, "cases_sha256": self.cases_sha256,
                "source": self.source, "n_cases": len(self.cases), "counts": self.counts,
                "metrics": self.results, "seed": self.seed, "n_boot": self.n_boot,
                "confidence": CONFIDENCE, "prices_per_1m_tokens": self.prices,
                "cases": self.records, "timings": self.timings}

    def gate(self, policy: str | Path | Policy) -> Decision:
        """Decide a gate (a YAML path or text, or a Policy of metric rules) on
        :attr:`metrics`; see :func:`decide_llm`."""
        return decide_llm(self, policy)

    def render_html(self, path: str | Path, decision: Decision | None = None) -> Path:
        """Write one self-contained HTML report (inline CSS, no script, no URL: URLs in
        prompts and answers are shown defanged, ``hxxps[:]//``)."""
        return _write(Path(path), render_llm(self.to_dict(), self.metrics,
                                             None if decision is None else decision.to_dict()))

    def save(self, directory: str | Path, decision: Decision | None = None) -> Path:
        """Write the artifacts: cases.jsonl, responses.jsonl, metrics.json, evaluation.json
        (and decision.json), all reproducible bit for bit, manifest.json with their sha256,
        and timings.json (latencies: the one file that differs between runs)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        body = {k: v for k, v in self.to_dict().items() if k not in ("timings", "cases")}
        files: dict[str, bytes] = {
            "cases.jsonl": b"".join(canonical(c) + b"\n" for c in self.cases),
            "responses.jsonl": b"".join(canonical(r) + b"\n" for r in self.records),
            "metrics.json": _pretty(self.results),
            "evaluation.json": _pretty(body),
        }
        if decision is not None:
            files["decision.json"] = _pretty(decision.to_dict())
        for name, data in files.items():
            _write_bytes(out / name, data)
        _write_bytes(out / "timings.json", _pretty(self.timings))
        manifest = {"id": self.id, "cases_sha256": self.cases_sha256,
                    "files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())},
                    "not_reproducible": ["timings.json"]}
        _write_bytes(out / "manifest.json", _pretty(manifest))
        return out


def _pretty(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _write_bytes(path: Path, data: bytes) -> None:
    write_atomic(path, data)


def _write(path: Path, text: str) -> Path:
    _write_bytes(path, text.encode("utf-8"))
    return path


def evaluate_llm(cases: str | Path | Iterable[Mapping[str, Any]],
                 model: str | Callable[..., Any] | ChatModel, *,
                 policy: GuardPolicy | str | Path | Mapping[str, Any] | Guard = "default",
                 model_name: str | None = None, seed: int = 0, n_boot: int = 1000,
                 concurrency: int = 4, price_in: float | None = None,
                 price_out: float | None = None, timeout: float = 30.0, retries: int = 3,
                 api_key_env: str = DEFAULT_KEY_ENV) -> LlmEvaluation:
    """Run every case through the guard and the model and measure (module docstring).
    Prices are per million tokens."""
    if n_boot < 0:
        raise UsageError(f"n_boot must be >= 0 (got {n_boot})")
    if concurrency < 1:
        raise UsageError(f"concurrency must be >= 1 (got {concurrency})")
    for name, price in (("price_in", price_in), ("price_out", price_out)):
        if price is not None and not (np.isfinite(price) and price >= 0):
            raise UsageError(f"{name} must be a number >= 0 (got {price})")
    rows, source = read_cases(cases)
    guard = policy if isinstance(policy, Guard) else Guard(policy)
    chat = load_chat_model(model, model_name=model_name, seed=seed, timeout=timeout,
                           retries=retries, api_key_env=api_key_env)
    try:
        runs = _run_all(guard, chat, rows, concurrency)
    finally:
        if chat is not model:
            chat.close()
    refusal_on = guard.policy.output.refusal is not None and guard.policy.output.refusal.enabled
    records = [_record(r, refusal_on, guard.policy.fallback_message) for r in runs]
    results = bootstrap(_counters(records, price_in, price_out), len(records), seed, n_boot)
    cases_sha = hashlib.sha256(b"".join(canonical(c) + b"\n" for c in rows)).hexdigest()
    ident = hashlib.sha256(canonical([cases_sha, guard.policy.sha256, chat.spec, model_name,
                                       seed]))
    counts = Counter(r["outcome"] for r in records)
    return LlmEvaluation(
        id="llm-" + ident.hexdigest()[:16], model=chat.spec, model_name=model_name,
        policy=guard.policy.name, policy_sha256=guard.policy.sha256, cases_sha256=cases_sha,
        source=source, cases=rows, records=records, results=results,
        counts={k: counts.get(k, 0) for k in OUTCOMES}, seed=seed, n_boot=n_boot,
        prices={"input": price_in, "output": price_out}, timings=_timings(runs))


# -- gate ---------------------------------------------------------------------------------
_FIXED_METRICS = ("accuracy", "blocked_rate", "cost_per_1k_calls", "exact_match",
                  "latency_mean_ms", "latency_p50_ms", "latency_p95_ms", "refusal_rate",
                  "token_f1", "tokens_in_mean", "tokens_out_mean", "violation_rate")
_LABEL_METRIC = re.compile(r"(precision|recall)\.[a-z0-9][a-z0-9_.-]{0,63}")
_GATE_KEYS = ("metric", "min", "max", "use", "severity")


def load_llm_gate(source: str | Path) -> Policy:
    """A gate of metric rules on the metrics of ``llm eval`` (the rule shape of
    :mod:`airlock.gates`: ``{metric, min?, max?, use?, severity?}``), from a YAML file or
    text. The gates' own loader only knows model-evaluation metrics, so this one checks the
    names against the LLM metrics and builds the same ``Policy`` that ``decide`` reads."""
    import yaml

    from airlock.gates import MetricRule, Policy

    text, src = _read_gate(source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{src}: malformed YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise UsageError(f"{src}: a gate must be a mapping with a non-empty `rules` list")
    unknown = sorted(set(map(str, data)) - {"name", "description", "rules"})
    if unknown:
        raise UsageError(f"{src}: unknown top-level key {unknown[0]!r} (allowed: name, "
                         "description, rules)")
    name = str(data.get("name") or Path(src).stem)
    rules = tuple(MetricRule(index=i, **_gate_rule(raw, f"{src}: rule {i}"))
                  for i, raw in enumerate(data["rules"], start=1))
    canonical_yaml = yaml.safe_dump(
        {"name": name, "rules": [{k: getattr(r, k) for k in _GATE_KEYS
                                  if getattr(r, k) is not None} for r in rules]},
        sort_keys=True, default_flow_style=False, allow_unicode=True)
    return Policy(name=name, rules=rules, sha256=hashlib.sha256(canonical_yaml.encode()
                                                                ).hexdigest(),
                  text=text, canonical=canonical_yaml, description=data.get("description"),
                  source=src)


def _read_gate(source: str | Path) -> tuple[str, str]:
    if isinstance(source, str) and "\n" in source:
        return source, "gate"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), path.name
    except FileNotFoundError:
        raise file_not_found(path, "gate file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read gate file {path}: {exc}") from None


def _gate_rule(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: a rule must be a mapping like {{metric: violation_rate, "
                         "max: 0.05}")
    bad = sorted(set(map(str, raw)) - set(_GATE_KEYS))
    if bad:
        raise UsageError(f"{where}: unknown key {bad[0]!r} (allowed: {', '.join(_GATE_KEYS)})")
    metric = raw.get("metric")
    if not isinstance(metric, str) or not (metric in _FIXED_METRICS
                                           or _LABEL_METRIC.fullmatch(metric)):
        close = difflib.get_close_matches(str(metric), _FIXED_METRICS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else (
            f"known: {', '.join(_FIXED_METRICS)}, precision.LABEL, recall.LABEL")
        raise UsageError(f"{where}: unknown metric {metric!r} ({hint})")
    bounds = {}
    for key in ("min", "max"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not np.isfinite(value)):
            raise UsageError(f"{where}: `{key}` must be a finite number (got {value!r})")
        bounds[key] = None if value is None else float(value)
    if bounds["min"] is None and bounds["max"] is None:
        raise UsageError(f"{where}: needs `min` or `max`")
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        raise UsageError(f"{where}: min {bounds['min']:g} is greater than max {bounds['max']:g}")
    use, severity = raw.get("use", "value"), raw.get("severity", "fail")
    if use not in ("value", "ci_low", "ci_high"):
        raise UsageError(f"{where}: `use` must be one of value, ci_low, ci_high (got {use!r})")
    if severity not in ("fail", "warn"):
        raise UsageError(f"{where}: `severity` must be fail or warn (got {severity!r})")
    return {"metric": metric, **bounds, "use": use, "severity": severity}


def decide_llm(ev: LlmEvaluation, policy: str | Path | Policy) -> Decision:
    """The gates' ``decide`` on the evaluation's metrics (as ``overall``)."""
    from airlock.gates import MetricRule, Policy, decide

    if not isinstance(policy, Policy):
        policy = load_llm_gate(policy)
    other = [r for r in policy.rules if not isinstance(r, MetricRule)]
    if other:
        raise UsageError(f"rule {other[0].index} of gate {policy.name!r} is a {other[0].kind} "
                         "rule; an LLM evaluation is gated by metric rules only")
    return decide({"id": ev.id, "overall": ev.metrics,
                   "model": {"ref": ev.model_name or ev.model}}, policy)


# -- report -------------------------------------------------------------------------------
_URL = re.compile(r"(?i)\b(https?|ftp|wss?|file)://")
_HEADLINE = ("violation_rate", "refusal_rate", "blocked_rate", "accuracy", "exact_match",
             "token_f1", "tokens_in_mean", "tokens_out_mean", "cost_per_1k_calls",
             "latency_p50_ms", "latency_p95_ms")


def _defang(text: Any) -> str:
    """``https://x`` -> ``hxxps[:]//x``: readable, but no link and no URL in the page."""
    return _URL.sub(lambda m: re.sub("(?i)^http", "hxxp", m.group(1)) + "[:]//",
                    "" if text is None else str(text))


def _cut(text: Any, limit: int = 200) -> str:
    out = _defang(text)
    return out if len(out) <= limit else out[:limit - 1] + "…"


def render_llm(ev: Mapping[str, Any], metrics: Mapping[str, Any],
               decision: Mapping[str, Any] | None) -> str:
    """The report page: what was measured, headline metrics, per-label precision and
    recall, the gate's rules, and every case (texts cut to 200 characters)."""
    from airlock.report import badge, cell_ci, decision_rows, facts, mono, page, table

    labels = sorted({k.split(".", 1)[1] for k in metrics if k.startswith("recall.")})
    body = [f"<h1>LLM evaluation: {_esc(_defang(ev['model_name'] or ev['model']))}</h1>",
            facts([("model", _defang(ev["model"])), ("guard policy", ev["policy"]),
                   ("policy sha256", mono(ev["policy_sha256"])),
                   ("cases", f"{ev['n_cases']:,} from {ev['source']}"),
                   ("cases sha256", mono(ev["cases_sha256"])),
                   ("outcomes", ", ".join(f"{k}: {v:,}" for k, v in ev["counts"].items())),
                   ("bootstrap", f"{ev['n_boot']} resamples of cases, seed {ev['seed']}, "
                                 f"{ev['confidence']:.0%} percentile CIs"),
                   ("prices per 1M tokens", f"in {ev['prices_per_1m_tokens']['input']}, "
                                            f"out {ev['prices_per_1m_tokens']['output']}")])]
    if decision is not None:
        body += [f"<h2>Gate {_esc(decision['policy']['name'])} "
                 f"{badge(bool(decision['passed']))}</h2>",
                 table(["#", "rule", "kind", "on", "value", "bound", "severity", "result",
                        "evidence"], decision_rows(decision["rules"]), numeric=[4, 5])]
    body += ["<h2>Metrics</h2>",
             table(["metric", "value [CI]"],
                   [[m, cell_ci(metrics[m])] for m in _HEADLINE if m in metrics]),
             "<h2>Policy labels</h2>",
             table(["label", "precision", "recall", "expected"],
                   [[lb, cell_ci(metrics[f"precision.{lb}"]), cell_ci(metrics[f"recall.{lb}"]),
                     int(metrics[f"recall.{lb}"]["denominator"])] for lb in labels]),
             "<h2>Cases</h2>",
             table(["id", "expected", "outcome", "predicted", "prompt", "answer", "findings"],
                   [[r["id"], ", ".join(r["expected"]), r["outcome"], ", ".join(r["predicted"]),
                     _cut(r["messages"][-1]["content"]), _cut(r["answer"]),
                     ", ".join(f["type"] for f in [*r["input"]["findings"],
                                                   *(r["output"] or {}).get("findings", [])])]
                    for r in ev["cases"]],
                   row_classes=["" if r["outcome"] in r["expected"] else "bad"
                                for r in ev["cases"]]),
             '<p class="muted">Generated by airlock llm eval; self-contained, no external '
             "resources. URLs in texts are shown defanged.</p>"]
    return page(f"airlock llm evaluation: {_defang(ev['model_name'] or ev['policy'])}", body)


def _esc(text: Any) -> str:
    from airlock.report import esc

    return str(esc(text))
