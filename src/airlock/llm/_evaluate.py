"""``llm eval``: run labelled prompts through a guard policy and a model, and measure it.

For each case (:mod:`._cases`), in order:

1. the input guard (stage ``input``) checks the prompt (every non-system message); a
   blocked input is the outcome ``blocked`` and the model is not called; ``redact``
   findings are redacted before the model sees the text;
2. the model answers (a Python function or an OpenAI-compatible endpoint, see
   :mod:`._client`), ``concurrency`` calls at a time;
3. the output guard (stage ``output``) checks the answer.

What the run means (outcome, predicted labels, what was served) is :mod:`._labels`; the
metrics and their seeded bootstrap CIs are :mod:`._metrics` (names and meanings in
:mod:`._catalogue`): ``blocked_rate`` (of all cases), ``refusal_rate`` and
``violation_rate`` (of answered cases), ``accuracy``, ``precision.L`` / ``recall.L`` for
every label, ``exact_match`` and ``token_f1`` against ``reference``, ``tokens_in_mean`` /
``tokens_out_mean`` per call and ``cost_per_1k_calls`` (from prices per million tokens).
Latencies are timings, kept apart so that the rest of :meth:`LlmEvaluation.to_dict` is
identical for the same inputs and seed.

With ``prompt`` (a registered prompt version, e.g. ``"support-answer@staging"``), each case's
fields are the prompt's variables and the rendered prompt is what the model sees; every
record names the prompt version and its sha256, the prompt's ``model_config["model"]`` is the
endpoint's model name unless ``model_name`` is given, and the evaluation is stored (``store``)
as an evaluation of that prompt version, with an audit event: ``airlock.gate`` decides it and
``airlock.promote`` moves a protected alias of the prompt on a passing decision.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock.errors import UsageError
from airlock.guard import Guard, GuardPolicy

from ._cases import OUTCOMES, canonical, read_cases
from ._catalogue import LLM_TASK
from ._client import DEFAULT_KEY_ENV, ChatModel, load_chat_model
from ._labels import Labeller
from ._metrics import bootstrap, counters, timings
from ._result import LlmEvaluation
from ._run import run_cases

if TYPE_CHECKING:
    from airlock.prompts import Prompt

__all__ = ["evaluate_llm", "store_llm_evaluation"]


def evaluate_llm(cases: str | Path | Iterable[Mapping[str, Any]],
                 model: str | Callable[..., Any] | ChatModel, *,
                 policy: GuardPolicy | str | Path | Mapping[str, Any] | Guard = "default",
                 model_name: str | None = None, seed: int = 0, n_boot: int = 1000,
                 concurrency: int = 4, price_in: float | None = None,
                 price_out: float | None = None, timeout: float = 30.0, retries: int = 3,
                 api_key_env: str = DEFAULT_KEY_ENV, prompt: str | Prompt | None = None,
                 store: bool = True) -> LlmEvaluation:
    """Run every case through the guard and the model and measure (module docstring).
    Prices are per million tokens."""
    if n_boot < 0:
        raise UsageError(f"n_boot must be >= 0 (got {n_boot})")
    if concurrency < 1:
        raise UsageError(f"concurrency must be >= 1 (got {concurrency})")
    for name, price in (("price_in", price_in), ("price_out", price_out)):
        if price is not None and not (math.isfinite(price) and price >= 0):
            raise UsageError(f"{name} must be a number >= 0 (got {price})")
    loaded = _load_prompt(prompt)
    if loaded is not None and model_name is None:
        configured = loaded.model_config.get("model")
        model_name = configured if isinstance(configured, str) else None
    rows, source = read_cases(cases, loaded)
    guard = policy if isinstance(policy, Guard) else Guard(policy)
    chat = load_chat_model(model, model_name=model_name, seed=seed, timeout=timeout,
                           retries=retries, api_key_env=api_key_env)
    try:
        runs = run_cases(guard, chat, rows, concurrency)
    finally:
        if chat is not model:
            chat.close()
    labeller = Labeller(guard)
    records = [labeller.record(r) for r in runs]
    results = bootstrap(counters(records, price_in, price_out), seed, n_boot)
    cases_sha = hashlib.sha256(b"".join(canonical(c) + b"\n" for c in rows)).hexdigest()
    key: list[Any] = [cases_sha, guard.policy.sha256, chat.spec, model_name, seed]
    subject = None
    if loaded is not None:  # the id also covers the prompt and what the model answered
        subject = {"name": loaded.name, "version": loaded.version, "ref": loaded.ref,
                   "sha256": loaded.sha256, "kind": loaded.kind,
                   "model_config": loaded.model_config}
        for rec, case in zip(records, rows, strict=True):
            rec["prompt"] = {"ref": loaded.ref, "version": loaded.version,
                             "sha256": loaded.sha256}
            rec["variables"] = case["variables"]
        key += [loaded.sha256, hashlib.sha256(canonical(records)).hexdigest()]
    ident = hashlib.sha256(canonical(key))
    counts = Counter(r["outcome"] for r in records)
    ev = LlmEvaluation(
        id="llm-" + ident.hexdigest()[:16], model=chat.spec, model_name=model_name,
        policy=guard.policy.name, policy_sha256=guard.policy.sha256, cases_sha256=cases_sha,
        source=source, cases=rows, records=records, results=results,
        counts={k: counts.get(k, 0) for k in OUTCOMES}, seed=seed, n_boot=n_boot,
        prices={"input": price_in, "output": price_out}, timings=timings(runs),
        prompt=subject)
    if subject is not None and store:
        store_llm_evaluation(ev)
    return ev


def _load_prompt(prompt: str | Prompt | None) -> Prompt | None:
    if prompt is None or not isinstance(prompt, str):
        return prompt
    from airlock.prompts import load_prompt

    return load_prompt(prompt)


def store_llm_evaluation(ev: LlmEvaluation) -> bool:
    """Store an evaluation of a prompt version (once: its id covers its inputs and the
    answers, so the same id is the same result); audited. Returns whether it was new."""
    from airlock.errors import NotFound
    from airlock.store import get_store

    if ev.prompt is None:
        raise UsageError("only an evaluation of a registered prompt (prompt=...) is stored")
    store = get_store()
    try:
        store.evaluations.get(ev.id)
        return False
    except NotFound:
        pass
    store.evaluations.save(eval_id=ev.id, name=ev.prompt["name"], version=ev.prompt["version"],
                           model_sha256=ev.prompt["sha256"], task=LLM_TASK,
                           result=ev.stored_dict(), dataset=None)
    return True
