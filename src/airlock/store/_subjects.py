"""What the registry's rules apply to: models and prompts, each with the same set of tables
(names, versions, aliases, protected aliases, evaluations, decisions), so that aliasing,
protection, evaluation, decisions and gated promotion are one code path for both.

Models and prompts share one namespace: a name is registered as a model or as a prompt,
never both (each registration checks the other table under the audit chain's lock). A name
found in both tables (a store edited by hand) is refused as ambiguous, never silently
picked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from airlock.errors import CheckFailed, NotFound, UsageError

from ._events import append_event
from ._schema import (
    aliases,
    decisions,
    evaluations,
    model_versions,
    models,
    prompt_aliases,
    prompt_decisions,
    prompt_evaluations,
    prompt_versions,
    prompts,
    protected_aliases,
    protected_prompt_aliases,
)

__all__ = ["AMBIGUOUS", "MODELS", "NAME_TAKEN", "PROMPTS", "Subject", "check_alias",
           "check_free", "delete_alias", "kind_of", "move_alias", "subject_of"]

AMBIGUOUS = ("the name {name!r} is registered both as a model and as a prompt: refusing to "
             "guess which one is meant (models and prompts share one namespace)")
NAME_TAKEN = ("the name {name!r} is already registered as a {other}: models and prompts "
              "share one namespace, pick another name")


@dataclass(frozen=True)
class Subject:
    """The tables of one kind of registered thing, and how its messages and events name it."""

    kind: str           # "model" or "prompt"
    prefix: str         # the audit subject's prefix: models/NAME, prompts/NAME
    names: sa.Table
    versions: sa.Table
    aliases: sa.Table
    protected: sa.Table
    evaluations: sa.Table
    decisions: sa.Table

    def subject(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def require(self, conn: sa.Connection, name: str) -> None:
        if conn.scalar(sa.select(self.names.c.name).where(self.names.c.name == name)) is None:
            raise NotFound(f"{self.kind} not found: {name}")

    def require_version(self, conn: sa.Connection, name: str, version: int) -> None:
        v = self.versions
        if conn.scalar(sa.select(v.c.version).where(v.c.name == name,
                                                    v.c.version == version)) is None:
            self.require(conn, name)
            raise NotFound(f"{self.kind} version not found: {name}@{version}")


MODELS = Subject("model", "models", models, model_versions, aliases, protected_aliases,
                 evaluations, decisions)
PROMPTS = Subject("prompt", "prompts", prompts, prompt_versions, prompt_aliases,
                  protected_prompt_aliases, prompt_evaluations, prompt_decisions)


def subject_of(conn: sa.Connection, name: str) -> Subject:
    """The kind ``name`` is registered as (models for an unknown name: their messages)."""
    is_prompt = conn.scalar(sa.select(prompts.c.name).where(prompts.c.name == name))
    if is_prompt is None:
        return MODELS
    if conn.scalar(sa.select(models.c.name).where(models.c.name == name)) is not None:
        raise UsageError(AMBIGUOUS.format(name=name))
    return PROMPTS


def kind_of(conn: sa.Connection, name: str) -> str | None:
    """``"model"``, ``"prompt"`` or None (unknown); UsageError when both (ambiguous)."""
    is_prompt = conn.scalar(sa.select(prompts.c.name).where(prompts.c.name == name))
    is_model = conn.scalar(sa.select(models.c.name).where(models.c.name == name))
    if is_prompt is not None and is_model is not None:
        raise UsageError(AMBIGUOUS.format(name=name))
    return "prompt" if is_prompt is not None else "model" if is_model is not None else None


def check_free(conn: sa.Connection, name: str, subject: Subject) -> None:
    """Refuse to register ``name`` as ``subject`` when the other kind holds it."""
    other = PROMPTS if subject is MODELS else MODELS
    if conn.scalar(sa.select(other.names.c.name).where(other.names.c.name == name)) is not None:
        raise UsageError(NAME_TAKEN.format(name=name, other=other.kind))


def check_alias(alias: str) -> None:
    if not alias or alias.isdigit() or not alias.replace("-", "").replace("_", "").isalnum():
        raise UsageError(
            f"invalid alias {alias!r}: use letters, digits, '-' or '_', not only digits "
            "(a number names a version)"
        )


def move_alias(conn: sa.Connection, name: str, alias: str, version: int,
               evidence: dict[str, Any], *, allow_protected: bool,
               subject: Subject = MODELS) -> int | None:
    """Move an alias inside the caller's transaction and audit it; returns the old version."""
    check_alias(alias)
    subject.require_version(conn, name, version)
    al, prot = subject.aliases, subject.protected
    if not allow_protected and conn.scalar(sa.select(prot.c.alias).where(
            prot.c.name == name, prot.c.alias == alias)) is not None:
        raise CheckFailed(f"{name}@{alias} is protected by a policy: move it with "
                          f"`airlock promote {name}@{version} --to {alias}`")
    before = conn.scalar(sa.select(al.c.version).where(al.c.name == name, al.c.alias == alias))
    if before == version:
        return int(before)
    if before is None:
        conn.execute(al.insert().values(name=name, alias=alias, version=version))
    else:
        conn.execute(al.update().where(al.c.name == name, al.c.alias == alias)
                     .values(version=version))
    append_event(conn, "alias.set" if before is None else "alias.moved", subject.subject(name),
                 {"alias": alias, "from": before, "to": version, **evidence})
    return None if before is None else int(before)


def delete_alias(conn: sa.Connection, name: str, alias: str, subject: Subject) -> int:
    al = subject.aliases
    before = conn.scalar(sa.select(al.c.version).where(al.c.name == name, al.c.alias == alias))
    if before is None:
        subject.require(conn, name)
        raise NotFound(f"alias not found: {name}@{alias}")
    conn.execute(al.delete().where(al.c.name == name, al.c.alias == alias))
    append_event(conn, "alias.removed", subject.subject(name),
                 {"alias": alias, "from": before, "to": None})
    return int(before)
