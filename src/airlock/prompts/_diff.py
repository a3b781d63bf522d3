"""The difference between two prompt versions: a unified diff of their templates (a chat
template is compared as ``[role]`` headers followed by each message's content) and every
differing field of their variables, model configuration and response format."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass
from typing import Any

from ._prompt import Prompt
from ._ref import PromptRef
from ._registry import load_prompt

__all__ = ["PromptDiff", "diff_prompts"]


@dataclass(frozen=True)
class PromptDiff:
    """``template`` is the unified diff's lines (empty: same template); ``changes`` one
    ``{"field", "key", "a", "b"}`` per differing key (``a``/``b`` None when absent)."""

    a: str
    b: str
    a_sha256: str
    b_sha256: str
    template: list[str]
    changes: list[dict[str, Any]]

    @property
    def same(self) -> bool:
        return self.a_sha256 == self.b_sha256

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "same": self.same}


def _lines(prompt: Prompt) -> list[str]:
    if isinstance(prompt.template, str):
        return prompt.template.splitlines()
    out: list[str] = []
    for m in prompt.template:
        out += [f"[{m['role']}]", *m["content"].splitlines()]
    return out


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (lists and scalars are values)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "(whole)": value}


def diff_prompts(a: str | PromptRef | Prompt, b: str | PromptRef | Prompt) -> PromptDiff:
    pa = a if isinstance(a, Prompt) else load_prompt(a)
    pb = b if isinstance(b, Prompt) else load_prompt(b)
    template = list(difflib.unified_diff(_lines(pa), _lines(pb), fromfile=pa.ref,
                                         tofile=pb.ref, lineterm=""))
    changes: list[dict[str, Any]] = []
    if pa.kind != pb.kind:
        changes.append({"field": "kind", "key": "", "a": pa.kind, "b": pb.kind})
    for name in ("variables", "model_config", "response_format"):
        fa = _flat(getattr(pa, name) or {}) if getattr(pa, name) else {}
        fb = _flat(getattr(pb, name) or {}) if getattr(pb, name) else {}
        for key in sorted(set(fa) | set(fb)):
            va, vb = fa.get(key), fb.get(key)
            if json.dumps(va, sort_keys=True) != json.dumps(vb, sort_keys=True):
                changes.append({"field": name, "key": key, "a": va, "b": vb})
    return PromptDiff(pa.ref, pb.ref, pa.sha256, pb.sha256, template, changes)
