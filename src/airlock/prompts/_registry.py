"""Register, resolve, alias and load prompt versions (the model registry's rules).

Versions are immutable and numbered per name; registering content whose sha256 is already a
version of the name returns that version and writes nothing. Loading recomputes the sha256
of the stored content and refuses a version whose content no longer matches it. Aliases are
audited; a protected alias moves only through ``airlock.gates.promote``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from airlock._yaml import parse_mapping, validate
from airlock.errors import IntegrityError, UsageError
from airlock.store import EventRecord, PromptRecord, PromptVersionRecord, get_store

from ._prompt import Prompt, check_content, content_sha256
from ._ref import PromptRef, check_prompt_name, parse_prompt_ref

__all__ = ["delete_prompt_alias", "list_prompt_versions", "list_prompts", "load_prompt",
           "prompt_history", "register_prompt", "register_prompt_file", "resolve_prompt",
           "set_prompt_alias"]

MSG_TAMPERED = ("{ref}: the stored content no longer matches its sha256 (recorded {want}…, "
                "now {got}…): the prompt_versions table was edited outside airlock")


def register_prompt(name: str, *, template: str | list[dict[str, str]],
                    variables: dict[str, str] | None = None,
                    model_config: dict[str, Any] | None = None,
                    response_format: dict[str, Any] | None = None,
                    description: str | None = None) -> Prompt:
    """Register ``template`` (a text, or a list of ``{role, content}`` messages) with its
    declared ``variables`` (name -> str | int | float | bool | list | dict) as the next
    version of ``name``; identical content returns the existing version."""
    return _register(name, template, variables, model_config, response_format,
                     description, None)[0]


def _register(name: str, template: Any, variables: Any, model_config: Any,
              response_format: Any, description: Any,
              where: dict[str, str] | None) -> tuple[Prompt, bool]:
    check_prompt_name(name)
    if description is not None and not isinstance(description, str):
        raise UsageError("description must be a string")
    content, parts = check_content(template, variables, model_config, response_format, where)
    record, created = get_store().prompts.register(
        name=name, kind=content.kind, template=content.template, variables=content.variables,
        model_config=content.model_config, response_format=content.response_format,
        description=description, sha256=content_sha256(content))
    return _prompt(record, parts), created


class _PromptFile(BaseModel):
    """A prompt file: what ``airlock prompts register FILE.yaml`` reads."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)

    name: str
    template: str | list[dict[str, str]]
    variables: dict[str, str] = Field(default_factory=dict)
    llm_config: dict[str, Any] = Field(default_factory=dict, alias="model_config")
    response_format: dict[str, Any] | None = None
    description: str | None = None


def register_prompt_file(source: str | Path) -> tuple[Prompt, bool]:
    """Register the prompt a YAML file (or YAML text) describes; returns (version,
    created). Errors name the file and the line (template errors: also their own line and
    column inside the template)."""
    doc = parse_mapping(source, what="prompt file",
                        expected="name, template, variables, model_config, response_format, "
                                 "description")
    spec = validate(doc, _PromptFile)
    label = doc.path.name if doc.path is not None else "prompt file"
    where = {key: f"{label} ({key}" + (f" at line {line}" if (line := doc.line_of((key,)))
                                        else "") + "): "
             for key in ("template", "variables", "model_config", "response_format")}
    return _register(spec.name, spec.template, spec.variables, spec.llm_config,
                     spec.response_format, spec.description, where)


def resolve_prompt(ref: str | PromptRef) -> PromptVersionRecord:
    """The version a reference names (latest, number or alias)."""
    r = parse_prompt_ref(ref)
    store = get_store()
    if r.version is not None:
        return store.prompts.get_version(r.name, r.version)
    if r.alias is not None:
        return store.prompts.get_by_alias(r.name, r.alias)
    return store.prompts.list_versions(r.name)[-1]


def load_prompt(ref: str | PromptRef) -> Prompt:
    """The prompt version ``ref`` names (``name``, ``name@3``, ``name@production``), its
    content checked against its sha256."""
    return _prompt(resolve_prompt(ref))


def _prompt(record: PromptVersionRecord, parts: list[Any] | None = None) -> Prompt:
    content, checked = check_content(record.template, record.variables, record.model_config,
                                     record.response_format)
    got = content_sha256(content)
    if got != record.sha256:
        raise IntegrityError(MSG_TAMPERED.format(ref=record.ref, want=record.sha256[:12],
                                                 got=got[:12]))
    return Prompt(name=record.name, version=record.version, kind=record.kind,
                  template=record.template, variables=dict(record.variables),
                  model_config=dict(record.model_config),
                  response_format=record.response_format, description=record.description,
                  sha256=record.sha256, created_at=record.created_at,
                  created_by=record.created_by, aliases=list(record.aliases),
                  _parts=parts or checked)


def set_prompt_alias(ref: str | PromptRef, alias: str) -> Prompt:
    """Point ``alias`` at the version ``ref`` names (``name@3``); audited. A protected
    alias refuses (CheckFailed): it moves through ``promote``."""
    record = resolve_prompt(ref)
    get_store().prompts.set_alias(record.name, alias, record.version)
    return load_prompt(PromptRef(record.name, version=record.version))


def delete_prompt_alias(name: str, alias: str) -> int:
    """Remove ``name@alias``; returns the version it pointed at. Audited."""
    return get_store().prompts.delete_alias(check_prompt_name(name), alias)


def list_prompts() -> list[PromptRecord]:
    return get_store().prompts.list_prompts()


def list_prompt_versions(name: str) -> list[PromptVersionRecord]:
    return get_store().prompts.list_versions(check_prompt_name(name))


def prompt_history(name: str) -> list[EventRecord]:
    """Every alias set, move, removal and protection of prompt ``name``: who, when, from,
    to, and the decision or override behind a protected move."""
    list_prompt_versions(name)  # NotFound for an unknown prompt
    return get_store().events.list(subject=f"prompts/{name}", action="alias.")
