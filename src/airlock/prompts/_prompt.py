"""A prompt's content (checked, canonical, hashed) and a loaded prompt version.

The content of a version is its template (a text, or a list of ``{role, content}`` chat
messages whose contents are templates), its declared variables (name -> type), its model
configuration and its response format (a JSON schema). Its sha256 is taken over the
canonical JSON of exactly these (sorted keys, no spaces): the description is not content.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.errors import DependencyMissing, InvalidInput

from ._template import (
    MSG_UNDECLARED,
    MSG_UNUSED,
    ROLES,
    TYPES,
    CompiledTemplate,
    compile_template,
    render_checked,
)

__all__ = ["Content", "Prompt", "check_content", "content_sha256"]

_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Content:
    """Checked prompt content, ready to hash and store."""

    kind: str  # "text" or "chat"
    template: str | Messages
    variables: dict[str, str]
    model_config: dict[str, Any]
    response_format: dict[str, Any] | None

    def canonical(self) -> dict[str, Any]:
        return {"kind": self.kind, "template": self.template, "variables": self.variables,
                "model_config": self.model_config, "response_format": self.response_format}


def content_sha256(content: Content) -> str:
    text = json.dumps(content.canonical(), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _json_value(value: Any, what: str) -> Any:
    """``value`` as plain JSON (a copy); InvalidInput naming ``what`` otherwise."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} must be plain JSON (strings, numbers, booleans, null, "
                           f"lists, mappings): {exc}") from None


def check_content(template: Any, variables: Any, model_config: Any, response_format: Any,
                  where: Mapping[str, str] | None = None) -> tuple[Content, list[CompiledTemplate]]:
    """Check everything a version holds; ``where`` names the places in a file, per key
    (``template``, ``variables``, ...), for the messages."""
    at = dict(where or {})
    variables = _variables(variables, at.get("variables", ""))
    if isinstance(template, str):
        kind, parts = "text", [compile_template(template, at.get("template", ""))]
        stored: str | Messages = template
    elif isinstance(template, list) and template:
        kind, stored = "chat", _messages(template, at.get("template", ""))
        parts = [compile_template(m["content"], f"{at.get('template', '')}message {i} "
                                  f"({m['role']}): ") for i, m in enumerate(stored, start=1)]
    else:
        raise InvalidInput(f"{at.get('template', '')}the template must be a string (a text "
                           "prompt) or a non-empty list of {role, content} messages (chat)")
    used = frozenset().union(*(p.used for p in parts))
    for name in sorted(used - set(variables)):
        raise InvalidInput(MSG_UNDECLARED.format(where=at.get("template", ""), name=name,
                                                 declared=", ".join(sorted(variables))
                                                 or "none"))
    for name in sorted(set(variables) - used):
        raise InvalidInput(at.get("variables", "") + MSG_UNUSED.format(name=name))
    config = {} if model_config is None else model_config
    if not isinstance(config, Mapping):
        raise InvalidInput(f"{at.get('model_config', '')}model_config must be a mapping "
                           "(e.g. {model: gpt-x, temperature: 0.2})")
    config = _json_value(dict(config), "model_config")
    schema = None if response_format is None else _schema(response_format,
                                                           at.get("response_format", ""))
    return Content(kind, stored, variables, config, schema), parts


def _variables(variables: Any, where: str) -> dict[str, str]:
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise InvalidInput(f"{where}variables must be a mapping of name to type "
                           f"({', '.join(TYPES)})")
    out: dict[str, str] = {}
    for name, kind in variables.items():
        if not isinstance(name, str) or not _VAR.fullmatch(name):
            raise InvalidInput(f"{where}invalid variable name {name!r}: letters, digits and "
                               "'_', not starting with a digit")
        if kind not in TYPES:
            raise InvalidInput(f"{where}variable {name!r} has the unknown type {kind!r} "
                               f"(use one of {', '.join(TYPES)})")
        out[name] = str(kind)
    return dict(sorted(out.items()))


def _messages(template: list[Any], where: str) -> Messages:
    out: Messages = []
    for i, m in enumerate(template, start=1):
        if not (isinstance(m, Mapping) and set(m) == {"role", "content"}
                and m["role"] in ROLES and isinstance(m["content"], str)):
            raise InvalidInput(f"{where}message {i} must be {{role: {'|'.join(ROLES)}, "
                               "content: a template string}")
        out.append({"role": str(m["role"]), "content": str(m["content"])})
    return out


def _schema(schema: Any, where: str) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        raise InvalidInput(f"{where}response_format must be a JSON schema (a mapping)")
    schema = _json_value(dict(schema), "response_format")
    try:
        from jsonschema import exceptions, validators
    except ImportError:  # pragma: no cover - the llm extra brings jsonschema
        raise DependencyMissing("checking response_format needs jsonschema: pip install "
                                "'airlock[llm]'") from None
    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise InvalidInput(f"{where}response_format is not a valid JSON schema: at {path}: "
                           f"{exc.message}") from None
    return dict(schema)


@dataclass(frozen=True)
class Prompt:
    """A registered prompt version, loaded: ``render(**variables)`` gives the text (a text
    prompt) or the list of chat messages (a chat prompt)."""

    name: str
    version: int
    kind: str
    template: str | Messages
    variables: dict[str, str]
    model_config: dict[str, Any]
    response_format: dict[str, Any] | None
    description: str | None
    sha256: str
    created_at: int
    created_by: str
    aliases: list[str] = field(default_factory=list)
    _parts: list[CompiledTemplate] = field(default_factory=list, repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, **values: Any) -> str | Messages:
        """The prompt with ``values``: each declared variable, of its type, and no other
        (InvalidInput naming the variable otherwise)."""
        parts = self._parts or check_content(self.template, self.variables, self.model_config,
                                             self.response_format)[1]
        texts = render_checked(parts, self.variables, values, self.ref)
        if isinstance(self.template, str):
            return texts[0]
        return [{"role": m["role"], "content": t}
                for m, t in zip(self.template, texts, strict=True)]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "ref": self.ref, "kind": self.kind,
                "template": self.template, "variables": self.variables,
                "model_config": self.model_config, "response_format": self.response_format,
                "description": self.description, "sha256": self.sha256,
                "aliases": list(self.aliases), "created_at": self.created_at,
                "created_by": self.created_by}
