"""Prompt references: ``support-answer`` (latest), ``support-answer@3`` (version 3),
``support-answer@production`` (an alias) — the grammar of model references."""

from __future__ import annotations

import re
from dataclasses import dataclass

from airlock.errors import UsageError

__all__ = ["PromptRef", "check_prompt_name", "parse_prompt_ref"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}")


@dataclass(frozen=True, slots=True)
class PromptRef:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def check_prompt_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(f"invalid prompt name {name!r}: letters, digits, '_', '.', '-' (up "
                         "to 256), starting with a letter or digit")
    return name


def parse_prompt_ref(ref: str | PromptRef) -> PromptRef:
    """Parse ``NAME[@VERSION|@ALIAS]``; UsageError naming what is malformed."""
    if isinstance(ref, PromptRef):
        return ref
    if not isinstance(ref, str) or ref.count("@") > 1:
        raise UsageError(f"invalid prompt reference {ref!r}: expected NAME, NAME@VERSION or "
                         "NAME@ALIAS")
    name, at, tail = ref.partition("@")
    check_prompt_name(name)
    if not at:
        return PromptRef(name)
    if not tail:
        raise UsageError(f"invalid prompt reference {ref!r}: nothing after '@'")
    if tail.isdigit():
        if int(tail) < 1:
            raise UsageError(f"invalid prompt reference {ref!r}: versions start at 1")
        return PromptRef(name, version=int(tail))
    return PromptRef(name, alias=tail)
