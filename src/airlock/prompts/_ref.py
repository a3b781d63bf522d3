"""Prompt references: ``support-answer`` (latest), ``support-answer@3`` (version 3),
``support-answer@production`` (an alias) — the grammar of model references, from the
registry."""

from __future__ import annotations

from airlock.registry import NamedRef, check_name, parse_named_ref

__all__ = ["PromptRef", "check_prompt_name", "parse_prompt_ref"]


class PromptRef(NamedRef):
    """A reference to a registered prompt."""

    __slots__ = ()


def check_prompt_name(name: str) -> str:
    return check_name(name, "prompt")


def parse_prompt_ref(ref: str | PromptRef) -> PromptRef:
    """Parse ``NAME[@VERSION|@ALIAS]``; UsageError naming what is malformed."""
    return parse_named_ref(ref, PromptRef, "prompt")
