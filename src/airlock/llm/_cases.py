"""The labelled cases of ``llm eval``: one JSON object a line, ``{"id"?, "prompt" |
"messages": [...], "system"?, "expected": label | [labels], "reference"?}``, checked and
normalised (labels lower case, ``block`` -> ``blocked``, ``refusal`` -> ``refuse``,
``allow`` -> ``allowed``); errors name the file and the line.

With a registered prompt (``llm eval --prompt NAME@ALIAS``) a case has no ``prompt`` or
``messages``: its other fields are the prompt's variables, ``{"id"?, "tone": …, "question":
…, "expected": …, "reference"?}``, and the prompt rendered with them is what the model sees
(a text prompt as the user message, a chat prompt as the messages). Fields the prompt
does not declare are left out, so one cases file serves versions with other variables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock._files import read_jsonl
from airlock.errors import InvalidInput

from ._client import Messages

if TYPE_CHECKING:
    from airlock.prompts import Prompt

__all__ = ["OUTCOMES", "canonical", "messages_of", "normalize_label", "read_cases"]

#: the outcome labels of a case, in the order counts are reported
OUTCOMES = ("allowed", "blocked", "refuse", "violation")
_ALIASES = {"block": "blocked", "refusal": "refuse", "refused": "refuse", "allow": "allowed",
            "violate": "violation", "violations": "violation"}
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def messages_of(prompt: str | None, system: str | None,
                messages: Sequence[Mapping[str, str]] | None) -> Messages:
    """The chat messages of a case: its ``messages``, else ``system`` + ``prompt``."""
    if messages is not None:
        return [dict(m) for m in messages]
    out = [{"role": "system", "content": system}] if system else []
    return [*out, {"role": "user", "content": prompt or ""}]


def normalize_label(label: str) -> str:
    """The canonical spelling of a label (lower case; ``block`` -> ``blocked``, ...)."""
    key = label.strip().lower()
    return _ALIASES.get(key, key)


def read_cases(data: str | Path | Iterable[Mapping[str, Any]],
               prompt: Prompt | None = None) -> tuple[list[dict[str, Any]], str]:
    """Checked, normalised cases from a JSONL path or dicts; (cases, source name). With
    ``prompt``, each case's variables render it (module docstring)."""
    if isinstance(data, str | Path):
        items: list[tuple[Any, str]] = read_jsonl(data, "cases file")
        source = Path(data).name
    else:
        items = [(raw, f"case {i}") for i, raw in enumerate(data, start=1)]
        source = "cases"
    cases = [_case(raw, where, n) if prompt is None else _prompt_case(raw, where, n, prompt)
             for n, (raw, where) in enumerate(items, start=1)]
    if not cases:
        raise InvalidInput(f"{source}: no cases to evaluate")
    seen: dict[str, str] = {}
    for case, (_, where) in zip(cases, items, strict=True):
        if case["id"] in seen:
            raise InvalidInput(f"{where}: duplicate id {case['id']!r} (first at "
                               f"{seen[case['id']]})")
        seen[case["id"]] = where
    return cases, source


def _case(raw: Any, where: str, n: int) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: expected a JSON object")
    unknown = sorted(set(raw) - {"id", "prompt", "messages", "system", "expected", "reference",
                                 "tags", "note"})
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r} (allowed: id, prompt, "
                           "messages, system, expected, reference)")
    prompt, messages, system = raw.get("prompt"), raw.get("messages"), raw.get("system")
    if (prompt is None) == (messages is None):
        raise InvalidInput(f"{where}: needs exactly one of \"prompt\" (a string) or "
                           "\"messages\" (a list)")
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidInput(f"{where}: \"prompt\" must be a string")
    if messages is not None:
        _check_messages(messages, where)
        if system is not None:
            raise InvalidInput(f"{where}: put the system prompt in \"messages\", not "
                               "\"system\"")
    for key in ("system", "reference"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise InvalidInput(f"{where}: \"{key}\" must be a string")
    ident = raw.get("id", f"case-{n}")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or not str(ident):
        raise InvalidInput(f"{where}: \"id\" must be a non-empty string or a number")
    return {"id": str(ident), "prompt": prompt, "system": system,
            "messages": None if messages is None else [dict(m) for m in messages],
            "expected": _expected(raw.get("expected"), where), "reference": raw.get("reference")}


_RESERVED = ("id", "expected", "reference", "tags", "note")


def _prompt_case(raw: Any, where: str, n: int, prompt: Prompt) -> dict[str, Any]:
    """A case of a registered prompt: its fields other than the reserved ones are the
    prompt's variables; the rendered prompt becomes its prompt (text) or messages (chat)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: expected a JSON object")
    # fields the prompt does not declare are left out: one cases file serves versions with
    # different variables, and a misspelt field still shows as the variable it misses
    values = {k: v for k, v in raw.items() if k not in _RESERVED and k in prompt.variables}
    try:
        rendered = prompt.render(**values)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    body = {k: raw[k] for k in _RESERVED if k in raw}
    if isinstance(rendered, str):
        body["prompt"] = rendered
    else:
        body["messages"] = rendered
    case = _case(body, where, n)
    case["variables"] = dict(sorted(values.items()))
    return case


def _check_messages(messages: Any, where: str) -> None:
    ok = isinstance(messages, list) and bool(messages) and all(
        isinstance(m, Mapping) and set(m) <= {"role", "content", "name"}
        and m.get("role") in ("system", "user", "assistant", "tool")
        and isinstance(m.get("content"), str) for m in messages)
    if not ok:
        raise InvalidInput(f"{where}: \"messages\" must be a non-empty list of {{\"role\": "
                           "system|user|assistant|tool, \"content\": str}")


def _expected(value: Any, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise InvalidInput(f"{where}: \"expected\" must be a label or a non-empty list of "
                           "labels (allowed, refuse, blocked, violation, pii_leak, ...)")
    labels = sorted({normalize_label(v) for v in items})
    bad = [v for v in labels if not _LABEL.match(v)]
    if bad:
        raise InvalidInput(f"{where}: bad label {bad[0]!r} (letters, digits, _ . -)")
    return labels


def canonical(obj: Any) -> bytes:
    """The canonical JSON bytes of ``obj`` (sorted keys, no spaces): what is hashed."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
