"""Registered prompts, their numbered immutable versions and aliases in the metadata store.

A version is identified by the sha256 of its canonical content (computed by
``airlock.prompts``): registering content already stored under the name returns that
version and writes nothing. Registration, alias moves and removals are audit events on the
subject ``prompts/NAME``; protection, evaluations and promotion are the evaluation store's
(one code path for models and prompts, see ``_subjects``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from airlock._config import settings
from airlock.errors import NotFound

from ._engine import read_tx, write_tx
from ._events import append_event, lock_chain, now_ms
from ._records import Record, Versioned
from ._schema import prompt_aliases, prompt_versions, prompts
from ._subjects import PROMPTS, check_free, delete_alias, kind_of, move_alias

__all__ = ["PromptRecord", "PromptStore", "PromptVersionRecord"]


@dataclass(frozen=True, slots=True)
class PromptVersionRecord(Versioned):
    name: str
    version: int
    kind: str
    template: str | list[dict[str, str]]
    variables: dict[str, str]
    model_config: dict[str, Any]
    response_format: dict[str, Any] | None
    description: str | None
    sha256: str
    created_at: int
    created_by: str
    aliases: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PromptRecord(Record):
    name: str
    created_at: int
    updated_at: int
    latest_version: int | None
    aliases: dict[str, int]


class PromptStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- writes -------------------------------------------------------------------------
    def register(self, *, name: str, kind: str, template: str | list[dict[str, str]],
                 variables: dict[str, str], model_config: dict[str, Any],
                 response_format: dict[str, Any] | None, description: str | None,
                 sha256: str) -> tuple[PromptVersionRecord, bool]:
        """The version holding this content (``sha256``), created as the next number when
        new; returns (version, created). One transaction, queued on the chain lock."""
        with write_tx(self._engine) as conn:
            lock_chain(conn)
            check_free(conn, name, PROMPTS)
            found = self._versions(conn, name, None, sha256)
            if found:
                return found[0], False
            now = now_ms()
            if conn.scalar(sa.select(prompts.c.name).where(prompts.c.name == name)) is None:
                conn.execute(prompts.insert().values(name=name, description=None,
                                                     created_at=now, updated_at=now))
            version = int(conn.scalar(sa.select(sa.func.coalesce(sa.func.max(
                prompt_versions.c.version), 0)).where(prompt_versions.c.name == name)) or 0) + 1
            row: dict[str, Any] = {
                "name": name, "version": version, "kind": kind, "template": template,
                "variables": variables, "model_config": model_config,
                "response_format": response_format, "description": description,
                "sha256": sha256, "created_at": now, "created_by": settings().actor}
            conn.execute(prompt_versions.insert().values(**row))
            conn.execute(prompts.update().where(prompts.c.name == name).values(updated_at=now))
            append_event(conn, "prompt.registered", PROMPTS.subject(name),
                         {"version": version, "kind": kind, "sha256": sha256})
        return PromptVersionRecord(**row, aliases=[]), True

    def set_alias(self, name: str, alias: str, version: int) -> int | None:
        """Point ``alias`` at ``version``; returns the previous version (None: new alias).
        A protected alias only moves through promotion (EvaluationStore.promote)."""
        with write_tx(self._engine) as conn:
            return move_alias(conn, name, alias, version, {}, allow_protected=False,
                              subject=PROMPTS)

    def delete_alias(self, name: str, alias: str) -> int:
        with write_tx(self._engine) as conn:
            return delete_alias(conn, name, alias, PROMPTS)

    # -- reads --------------------------------------------------------------------------
    def kind_of(self, name: str) -> str | None:
        """``"model"``, ``"prompt"`` or None; UsageError for a name held by both."""
        with read_tx(self._engine) as conn:
            return kind_of(conn, name)

    def get_version(self, name: str, version: int) -> PromptVersionRecord:
        with read_tx(self._engine) as conn:
            found = self._versions(conn, name, version)
            if not found:
                PROMPTS.require(conn, name)
                raise NotFound(f"prompt version not found: {name}@{version}")
        return found[0]

    def get_by_alias(self, name: str, alias: str) -> PromptVersionRecord:
        with read_tx(self._engine) as conn:
            version = conn.scalar(sa.select(prompt_aliases.c.version).where(
                prompt_aliases.c.name == name, prompt_aliases.c.alias == alias))
            if version is None:
                PROMPTS.require(conn, name)
                raise NotFound(f"alias not found: {name}@{alias}")
            return self._versions(conn, name, int(version))[0]

    def list_versions(self, name: str) -> list[PromptVersionRecord]:
        with read_tx(self._engine) as conn:
            PROMPTS.require(conn, name)
            return self._versions(conn, name, None)

    def list_prompts(self) -> list[PromptRecord]:
        with read_tx(self._engine) as conn:
            latest = dict(conn.execute(sa.select(
                prompt_versions.c.name, sa.func.max(prompt_versions.c.version)
            ).group_by(prompt_versions.c.name)).all())
            al: dict[str, dict[str, int]] = {}
            for a in conn.execute(sa.select(prompt_aliases).order_by(prompt_aliases.c.alias)):
                al.setdefault(a.name, {})[a.alias] = a.version
            return [PromptRecord(p.name, p.created_at, p.updated_at, latest.get(p.name),
                                 al.get(p.name, {}))
                    for p in conn.execute(sa.select(prompts).order_by(prompts.c.name))]

    @staticmethod
    def _versions(conn: sa.Connection, name: str, version: int | None,
                  sha256: str | None = None) -> list[PromptVersionRecord]:
        q = sa.select(prompt_versions).where(prompt_versions.c.name == name)
        if version is not None:
            q = q.where(prompt_versions.c.version == version)
        if sha256 is not None:
            q = q.where(prompt_versions.c.sha256 == sha256)
        al: dict[int, list[str]] = {}
        aq = sa.select(prompt_aliases.c.version, prompt_aliases.c.alias).where(
            prompt_aliases.c.name == name).order_by(prompt_aliases.c.alias)
        for v, a in conn.execute(aq):
            al.setdefault(v, []).append(a)
        return [PromptVersionRecord(**r._asdict(), aliases=al.get(r.version, []))
                for r in conn.execute(q.order_by(prompt_versions.c.version))]
