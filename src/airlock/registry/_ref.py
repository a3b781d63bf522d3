"""Model references: ``churn`` (latest), ``churn@3`` (version 3), ``churn@production`` (alias)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from airlock.errors import UsageError

__all__ = ["ModelRef", "check_model_name", "parse_ref"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}")


@dataclass(frozen=True, slots=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def check_model_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid model name {name!r}: letters, digits, '_', '.', '-' (up to 256), "
            "starting with a letter or digit"
        )
    return name


def parse_ref(ref: str | ModelRef) -> ModelRef:
    """Parse ``NAME[@VERSION|@ALIAS]``; raises UsageError naming what is malformed."""
    if isinstance(ref, ModelRef):
        return ref
    if not isinstance(ref, str) or ref.count("@") > 1:
        raise UsageError(f"invalid model reference {ref!r}: expected NAME, NAME@VERSION or "
                         "NAME@ALIAS")
    name, _, tail = ref.partition("@")
    check_model_name(name)
    if not _:
        return ModelRef(name)
    if not tail:
        raise UsageError(f"invalid model reference {ref!r}: nothing after '@'")
    if tail.isdigit():
        if int(tail) < 1:
            raise UsageError(f"invalid model reference {ref!r}: versions start at 1")
        return ModelRef(name, version=int(tail))
    return ModelRef(name, alias=tail)
