"""Guardrails for LLM features: PII and secret redaction, prompt-injection and jailbreak
detection, output policies, and an evaluation harness whose metrics a gate can read.

    from airlock.guard import Guard
    verdict = Guard("default").check("Ignore all previous instructions", stage="input")
    verdict.allowed, verdict.action, verdict.findings, verdict.redacted

Policies are YAML (see :mod:`airlock.guard._policy` for every key); ``"default"`` checks
input for prompt injection (block) and PII (redact) and output for PII and secret leaks.
"""

from __future__ import annotations

from ._eval import GuardEvaluation, evaluate_guard
from ._guard import Guard, NerBackend, Verdict
from ._llm import LlmEvaluation, evaluate_llm, load_llm_gate
from ._policy import GuardPolicy, load_guard_policy
from ._redact import Tokenizer
from ._types import INJECTION_TYPES, PII_TYPES, Finding

__all__ = ["INJECTION_TYPES", "PII_TYPES", "Finding", "Guard", "GuardEvaluation", "GuardPolicy",
           "LlmEvaluation", "NerBackend", "Tokenizer", "Verdict", "evaluate_guard",
           "evaluate_llm", "load_guard_policy", "load_llm_gate"]
