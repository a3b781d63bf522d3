"""References to a registered name, a model's or a prompt's (one grammar for both):
``churn`` (latest), ``churn@3`` (version 3), ``churn@production`` (alias)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from airlock.errors import UsageError

__all__ = ["ModelRef", "NamedRef", "check_model_name", "check_name", "parse_named_ref",
           "parse_ref"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}")


@dataclass(frozen=True, slots=True)
class NamedRef:
    """``NAME``, ``NAME@VERSION`` or ``NAME@ALIAS``; each kind of name has its subclass."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


class ModelRef(NamedRef):
    """A reference to a registered model."""

    __slots__ = ()


R = TypeVar("R", bound=NamedRef)


def check_name(name: str, kind: str = "model") -> str:
    """``name`` when it is a valid name of a ``kind`` ("model", "prompt"), else UsageError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid {kind} name {name!r}: letters, digits, '_', '.', '-' (up to 256), "
            "starting with a letter or digit"
        )
    return name


def parse_named_ref(ref: str | R, cls: type[R], kind: str) -> R:
    """Parse ``NAME[@VERSION|@ALIAS]`` into a ``cls``; UsageError naming what is malformed
    (``kind`` names what is referred to in the message)."""
    if isinstance(ref, cls):
        return ref
    if not isinstance(ref, str) or ref.count("@") > 1:
        raise UsageError(f"invalid {kind} reference {ref!r}: expected NAME, NAME@VERSION or "
                         "NAME@ALIAS")
    name, at, tail = ref.partition("@")
    check_name(name, kind)
    if not at:
        return cls(name)
    if not tail:
        raise UsageError(f"invalid {kind} reference {ref!r}: nothing after '@'")
    if tail.isdigit():
        if int(tail) < 1:
            raise UsageError(f"invalid {kind} reference {ref!r}: versions start at 1")
        return cls(name, version=int(tail))
    return cls(name, alias=tail)


def check_model_name(name: str) -> str:
    return check_name(name, "model")


def parse_ref(ref: str | ModelRef) -> ModelRef:
    """Parse ``NAME[@VERSION|@ALIAS]``; raises UsageError naming what is malformed."""
    return parse_named_ref(ref, ModelRef, "model")
