"""Guardrails for LLM features: PII and secret redaction, prompt-injection and jailbreak
detection, output policies, and an evaluation harness whose metrics a gate can read.

    from airlock.guard import Guard
    verdict = Guard("default").check("Ignore all previous instructions", stage="input")
    verdict.allowed, verdict.action, verdict.findings, verdict.redacted
    Guard("default").check(document, stage="context")        # indirect injection
    Guard("default").check_messages([{"role": "user", "content": "..."}, ...])

Policies are YAML (see :mod:`airlock.guard._policy` for every key); ``"default"`` checks
input for prompt injection (rules, then the learned classifier when ``airlock[llm]`` is
installed; block) and PII (redact) and output for PII and secret leaks; ``"rules"`` is the
same without the classifier. Names and street addresses: ``ner: true`` in a stage
(:class:`SpacyNer`, ``airlock[ner]``).
Labelled prompt sets are JSON lines (``airlock._files.read_jsonl``); the evaluation of a
whole LLM feature (guard + model) is :mod:`airlock.llm`.
"""

from __future__ import annotations

from ._eval import GuardEvaluation, evaluate_guard
from ._guard import Guard, NerBackend, Verdict
from ._messages import MessagesVerdict, TurnsFinding
from ._ner import SpacyNer, find_addresses
from ._policy import GuardPolicy, default_notice, load_guard_policy
from ._redact import Tokenizer
from ._redteam import TRANSFORMS, RedTeamResult, redteam
from ._types import INJECTION_TYPES, PII_TYPES, Finding

__all__ = ["INJECTION_TYPES", "PII_TYPES", "TRANSFORMS", "Finding", "Guard", "GuardEvaluation",
           "GuardPolicy", "MessagesVerdict", "NerBackend", "RedTeamResult", "SpacyNer",
           "Tokenizer", "TurnsFinding", "Verdict", "default_notice", "evaluate_guard",
           "find_addresses", "load_guard_policy", "redteam"]
