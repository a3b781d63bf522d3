"""Guardrails for LLM features: PII and secret redaction, prompt-injection and jailbreak
detection, output policies, and an evaluation harness whose metrics a gate can read.

    from airlock.guard import Guard
    verdict = Guard("default").check("Ignore all previous instructions", stage="input")
    verdict.allowed, verdict.action, verdict.findings, verdict.redacted

Policies are YAML (see :mod:`airlock.guard._policy` for every key); ``"default"`` checks
input for prompt injection (rules, then the learned classifier when ``airlock[llm]`` is
installed; block) and PII (redact) and output for PII and secret leaks; ``"rules"`` is the
same without the classifier.
Labelled prompt sets are JSON lines (``airlock._files.read_jsonl``); the evaluation of a
whole LLM feature (guard + model) is :mod:`airlock.llm`.
"""

from __future__ import annotations

from ._eval import GuardEvaluation, evaluate_guard
from ._guard import Guard, NerBackend, Verdict
from ._policy import GuardPolicy, default_notice, load_guard_policy
from ._redact import Tokenizer
from ._types import INJECTION_TYPES, PII_TYPES, Finding

__all__ = ["INJECTION_TYPES", "PII_TYPES", "Finding", "Guard", "GuardEvaluation", "GuardPolicy",
           "NerBackend", "Tokenizer", "Verdict", "default_notice", "evaluate_guard",
           "load_guard_policy"]
