"""The one loader for every YAML/JSON configuration file of airlock.

One rule for "is this a path or YAML text", one parse, one way to say what is wrong::

    source                                  read as
    ------------------------------------    ---------------------------------------------
    a pathlib.Path                          a file
    a str without a newline that names an   a file (a missing one is NotFound, with the
      existing file or ends in .yaml,         one wording of :data:`~airlock.errors.NO_SUCH_FILE`)
      .yml or .json
    any other str (or bytes)                YAML text, labelled ``<what>`` in messages
    a mapping (load_config only)            the data itself, no line numbers

The text is composed into a node tree once (PyYAML's safe loader, so no arbitrary tags); the
data is constructed from that tree, so nothing is parsed twice. While composing, anchors and
aliases are refused (they make "billion laughs" documents of a few hundred bytes) and the
number of nodes and the nesting depth are capped. Duplicate keys are refused with their line.
:meth:`ParsedDoc.line_of` gives the line of any path in the document, for loaders that check
their format by hand; :func:`load_config` validates against a frozen pydantic model and turns a
``ValidationError`` into one line listing every problem with its field path and line, e.g.::

    rules.yaml: rules[0]: unknown key 'threshold' (line 3); did you mean 'threshold_ms'? |
        rules[0].threshold_ms: required but missing (line 3)

(one line in reality). Every message is a :class:`~airlock.errors.UsageError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from airlock.errors import UsageError, file_not_found

__all__ = [
    "ALIASES_REFUSED",
    "CANNOT_READ",
    "DUPLICATE_KEY",
    "MALFORMED_YAML",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MERGE_KEY_REFUSED",
    "NOT_A_MAPPING",
    "PROBLEM_SEPARATOR",
    "TOO_DEEP",
    "TOO_LARGE",
    "TOO_MANY_NODES",
    "Loc",
    "ParsedDoc",
    "did_you_mean",
    "explain",
    "load_config",
    "loc_text",
    "parse_mapping",
    "parse_yaml",
    "validate",
]

Loc = tuple[int | str, ...]
M = TypeVar("M", bound=BaseModel)

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 64
MAX_LISTED = 20

# the messages (a test imports each); {source} is the file name or ``<what>``
CANNOT_READ = "cannot read {what} {path}: {reason}"
TOO_LARGE = "{source}: the file is larger than {limit} bytes"
MALFORMED_YAML = "{source}: malformed YAML: {problem}"
ALIASES_REFUSED = ("{source}: YAML anchors and aliases (&name, *name) are not allowed "
                   "(line {line})")
TOO_MANY_NODES = "{source}: more than {limit} YAML nodes (line {line})"
TOO_DEEP = "{source}: nested more than {limit} levels deep (line {line})"
DUPLICATE_KEY = "{source}: {where}: duplicate key {key!r} (line {line})"
MERGE_KEY_REFUSED = "{source}: {where}: YAML merge keys (<<) are not allowed (line {line})"
NOT_A_MAPPING = "{source}: expected a mapping of {expected}, got {got}"
PROBLEM_SEPARATOR = " | "

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclasses.dataclass(frozen=True)
class ParsedDoc:
    """A parsed document: its data, the label used in messages, and each path's line."""

    data: Any
    source: str
    lines: Mapping[Loc, int] = dataclasses.field(default_factory=dict, repr=False)
    path: Path | None = None  # the file it was read from; None for text or a mapping

    def line_of(self, loc: Sequence[int | str]) -> int | None:
        """The 1-based line of ``loc`` (a mapping entry's key, a list item), else of its
        deepest ancestor present in the document; None for data that came without text."""
        found = self.lines.get(())
        prefix: Loc = ()
        for part in loc:
            step = (*prefix, part)
            if step not in self.lines:
                step = (*prefix, str(part))
                if step not in self.lines:
                    break
            prefix = step
            found = self.lines[step]
        return found

    def where(self, loc: Sequence[int | str]) -> str:
        """``rules[3].max (line 9)``: the path and, when known, its line."""
        line = self.line_of(loc)
        return (loc_text(loc) or "top level") + (f" (line {line})" if line else "")

    def problem(self, loc: Sequence[int | str], message: str) -> UsageError:
        """The one-line error ``source: path: message (line N)`` for a hand-checked format."""
        line = self.line_of(loc)
        at = f" (line {line})" if line else ""
        return UsageError(f"{self.source}: {loc_text(loc) or 'top level'}: {message}{at}")

    def with_data(self, data: Any) -> ParsedDoc:
        return dataclasses.replace(self, data=data)


def loc_text(loc: Sequence[int | str]) -> str:
    """``columns.age``, ``rules[0].max``: a path as people write it."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def did_you_mean(word: str, choices: Sequence[str], *, listing: str = "known keys") -> str:
    """``did you mean 'x'?`` for the closest choice, else ``known keys: a, b, c``."""
    hint = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f"did you mean {hint[0]!r}?" if hint else f"{listing}: {', '.join(map(str, choices))}"


# -- reading and parsing ---------------------------------------------------------------------

def parse_yaml(source: str | Path | bytes, *, what: str) -> ParsedDoc:
    """Read and parse ``source`` (see the module docstring for the path-or-text rule).

    Raises NotFound for a missing file and UsageError for anything unreadable, malformed,
    too large, too deep, with aliases or with duplicate keys — each one line with its line."""
    text, label, path = _read(source, what)
    loader: _Loader | None = None
    try:
        loader = _Loader(text, label)
        root = loader.get_single_node()
        lines: dict[Loc, int] = {}
        if root is not None:
            _walk(root, label, lines)
        data = loader.construct_document(root) if root is not None else None
    except _Refused as exc:
        raise UsageError(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        raise UsageError(MALFORMED_YAML.format(source=label, problem=_problem(exc))) from None
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise UsageError(MALFORMED_YAML.format(source=label, problem=problem)) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. 2020-13-45 as a date
        problem = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(MALFORMED_YAML.format(source=label, problem=problem)) from None
    finally:
        if loader is not None:
            loader.dispose()
    return ParsedDoc(data=data, source=label, lines=lines, path=path)


def parse_mapping(source: str | Path | bytes | Mapping[str, Any], *, what: str,
                  expected: str) -> ParsedDoc:
    """:func:`parse_yaml` (or a mapping as it is), refusing any document that is not a
    mapping; ``expected`` names what it should hold (``name and routes``)."""
    if isinstance(source, Mapping):
        return ParsedDoc(data=dict(source), source=f"<{what}>")
    doc = parse_yaml(source, what=what)
    if not isinstance(doc.data, dict):
        got = ("an empty document" if doc.data is None
               else f"a {_type_name(doc.data)} (line {doc.line_of(())})")
        raise UsageError(NOT_A_MAPPING.format(source=doc.source, expected=expected, got=got))
    return doc


def load_config(source: str | Path | bytes | Mapping[str, Any] | M, model: type[M], *,
                what: str, expected: str | None = None,
                nouns: Mapping[str, str] | None = None) -> M:
    """``source`` validated as ``model`` (an instance of it is returned as it is); every
    problem is listed in one UsageError line, each with its field path and line."""
    if isinstance(source, model):
        return source
    if isinstance(source, BaseModel):
        source = source.model_dump(by_alias=True)
    fields = expected or ", ".join(f.alias or n for n, f in model.model_fields.items())
    return validate(parse_mapping(source, what=what, expected=fields), model, nouns=nouns)


def validate(doc: ParsedDoc, model: type[M], *,
             nouns: Mapping[str, str] | None = None) -> M:
    """``doc.data`` validated as ``model``; a ValidationError becomes :func:`explain`'s line.
    ``nouns`` names a field's values in messages (``{"pii": "pii tag"}``)."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise UsageError(explain(exc, doc, model, nouns=nouns)) from None


class _Refused(Exception):
    pass


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing anchors and aliases and capping nodes and depth while it
    composes (before any alias could be expanded)."""

    def __init__(self, text: str, label: str) -> None:
        super().__init__(text)
        self._label, self._nodes, self._depth = label, 0, 0

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        """Refuse deep ``[[[…`` while scanning: the scanner reads up to 1,024 characters
        ahead of the composer, each step costing one look at every open level."""
        super().fetch_flow_collection_start(TokenClass)
        if self.flow_level > MAX_DEPTH:
            raise _Refused(TOO_DEEP.format(source=self._label, limit=MAX_DEPTH,
                                           line=self.line + 1))

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(ALIASES_REFUSED.format(source=self._label, line=line))
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(TOO_MANY_NODES.format(source=self._label, limit=MAX_NODES,
                                                 line=line))
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(TOO_DEEP.format(source=self._label, limit=MAX_DEPTH, line=line))
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _read(source: str | Path | bytes, what: str) -> tuple[str, str, Path | None]:
    if isinstance(source, bytes):
        return _decode(source, f"<{what}>", what), f"<{what}>", None
    if isinstance(source, str) and not _names_a_file(source):
        if len(source) > MAX_BYTES:
            raise UsageError(TOO_LARGE.format(source=f"<{what}>", limit=MAX_BYTES))
        return source, f"<{what}>", None
    path = Path(source)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise file_not_found(path, f"{what} file") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(CANNOT_READ.format(what=what, path=path, reason=reason)) from None
    if len(raw) > MAX_BYTES:
        raise UsageError(TOO_LARGE.format(source=path, limit=MAX_BYTES))
    return _decode(raw, str(path), what), str(path), path


def _names_a_file(text: str) -> bool:
    if "\n" in text or "\r" in text:
        return False
    if text.endswith((".yaml", ".yml", ".json")):
        return True
    try:
        return len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def _decode(raw: bytes, label: str, what: str) -> str:
    if len(raw) > MAX_BYTES:
        raise UsageError(TOO_LARGE.format(source=label, limit=MAX_BYTES))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})"
        raise UsageError(CANNOT_READ.format(what=what, path=label, reason=reason)) from None


def _problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    parts = [exc.context] if exc.context and not exc.context.startswith("while ") else []
    problem = " ".join(" ".join(map(str, [*parts, exc.problem or ""])).split()) or \
        "invalid YAML"
    return f"{problem} (line {mark.line + 1})" if mark is not None else problem


def _walk(root: yaml.Node, label: str, lines: dict[Loc, int]) -> None:
    """Record the line of every path and refuse duplicate and merge keys (iteratively)."""
    lines[()] = root.start_mark.line + 1
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name, line = str(key.value), key.start_mark.line + 1
                where = loc_text(loc) or "top level"
                if key.tag == _MERGE_TAG:
                    raise _Refused(MERGE_KEY_REFUSED.format(source=label, where=where,
                                                            line=line))
                if name in seen:
                    raise _Refused(DUPLICATE_KEY.format(source=label, where=where, key=name,
                                                        line=line))
                seen.add(name)
                lines[(*loc, name)] = line
                stack.append((value, (*loc, name)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*loc, i)] = item.start_mark.line + 1
                stack.append((item, (*loc, i)))


def _type_name(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", int: "number", float: "number",
            bool: "boolean"}.get(type(value), type(value).__name__)


# -- explaining validation errors ------------------------------------------------------------

def explain(exc: ValidationError, doc: ParsedDoc, model: type[BaseModel], *,
            nouns: Mapping[str, str] | None = None) -> str:
    """One line listing every problem of ``exc``: its field path, what is wrong, its line;
    unknown keys first (the likeliest typo), each with the closest known key."""
    errors = sorted(exc.errors(include_url=False),
                    key=lambda e: e["type"] != "extra_forbidden")
    problems: list[str] = []
    seen: set[Loc] = set()
    for err in errors:
        kind = err["type"]
        loc = _data_loc(tuple(err["loc"]), doc.data, keep_last=kind == "missing")
        if loc in seen:
            continue  # the other members of a union, complaining about the same value
        seen.add(loc)
        problems.append(_one(err, loc, doc, model, nouns or {}))
    shown = problems[:MAX_LISTED]
    if len(problems) > MAX_LISTED:
        shown.append(f"(and {len(problems) - MAX_LISTED} more problems)")
    return f"{doc.source}: " + PROBLEM_SEPARATOR.join(shown)


def _one(err: Any, loc: Loc, doc: ParsedDoc, model: type[BaseModel],
         nouns: Mapping[str, str]) -> str:
    kind, field = err["type"], (loc[-1] if loc else None)
    line = doc.line_of(loc)
    at = f" (line {line})" if line else ""
    value = err.get("input")
    if not (value is None or isinstance(value, str | int | float | bool)):
        value = None
    ctx = err.get("ctx") or {}
    where = loc_text(loc[:-1] if kind == "extra_forbidden" else loc) or "top level"
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1], doc.data)
        known = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
        return f"{where}: unknown key {field!r}{at}; {did_you_mean(str(field), known)}"
    if kind == "missing":
        return f"{where}: required but missing{at}"
    if kind in ("literal_error", "enum"):
        choices = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected", ""))) or \
            [str(ctx.get("expected", ""))]
        name = _field_name(model, loc, doc.data)
        return f"{where}: {_unknown(nouns.get(name, name), value, choices, at)}"
    if kind == "union_tag_invalid":
        tags = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected_tags", "")))
        disc = str(ctx.get("discriminator", "")).strip("'")
        return f"{where}: {_unknown(disc, ctx.get('tag'), tags, at)}"
    if kind == "union_tag_not_found":
        disc = str(ctx.get("discriminator", "")).strip("'")
        tags = _tags_at(model, loc, doc.data, disc)
        listing = f" ({', '.join(tags)})" if tags else ""
        return f"{where}: needs a {disc!r}{listing}{at}"
    if kind in ("value_error", "assertion_error"):
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return f"{where}: {msg}{at}"
    msg = str(err["msg"])
    msg = msg[:1].lower() + msg[1:]
    got = f", got {value!r}" if value is not None else ""
    return f"{where}: {msg}{got}{at}"


def _field_name(model: type[BaseModel], loc: Loc, data: Any) -> str:
    """The nearest model field at or above ``loc`` (``redact`` for ``logging.redact.sex``:
    a mapping's key or a list's index names no field)."""
    for j in range(len(loc) - 1, -1, -1):
        owner = _model_at(model, loc[:j], data)
        if owner is not None and _field(owner, loc[j]) is not None:
            return str(loc[j])
    return "value"


def _unknown(noun: str, value: Any, choices: Sequence[str], at: str) -> str:
    text = f"an unknown {noun.replace('_', ' ')} {value!r}{at}"
    hint = difflib.get_close_matches(str(value), list(choices), n=1)
    return (f"{text}; use one of {', '.join(choices)}"
            + (f" (did you mean {hint[0]!r}?)" if hint else ""))


def _data_loc(loc: Loc, data: Any, *, keep_last: bool) -> Loc:
    """``loc`` without the parts pydantic adds for union members (``literal['a']``, a tag, a
    type name): the parts that name data; with ``keep_last`` a final absent key is kept."""
    out: list[int | str] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, Mapping) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, Mapping) and str(part) in node:
            out.append(str(part))
            node = node[str(part)]
        elif isinstance(node, list | tuple) and isinstance(part, int) and \
                0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif last and keep_last and isinstance(node, Mapping):
            out.append(part)
        elif isinstance(part, int):
            out.append(part)
            node = None
        # else: a union member's tag or type name, not data
    return tuple(out)


def _model_at(model: type[BaseModel], loc: Loc, data: Any) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc`` (for its known keys)."""
    ann = _unwrap(_annotation_at(model, loc, data), _get_at(data, loc))
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _annotation_at(model: type[BaseModel], loc: Loc, data: Any) -> Any:
    """The type annotation that validates the value at ``loc`` (None when unknown)."""
    ann: Any = model
    for part in loc:
        ann = _unwrap(ann, data)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = _field(ann, part)
            if field is None:
                return None
            ann = field.annotation
        else:
            origin, args = typing.get_origin(ann), typing.get_args(ann)
            if origin in (list, tuple, set, frozenset) and args:
                ann = args[0]
            elif origin is not None and isinstance(origin, type) and \
                    issubclass(origin, Mapping) and len(args) == 2:
                ann = args[1]
            else:
                return None
        data = _get(data, part)
    return ann


def _tags_at(model: type[BaseModel], loc: Loc, data: Any, disc: str) -> list[str]:
    """The discriminator values of the union members at ``loc``."""
    tags: list[str] = []
    for member in _members(_annotation_at(model, loc, data)):
        f = _field(member, disc) if isinstance(member, type) and issubclass(
            member, BaseModel) else None
        if f is not None:
            tags += [str(a) for a in typing.get_args(f.annotation)]
    return tags


def _members(ann: Any) -> list[Any]:
    while typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    origin = typing.get_origin(ann)
    if origin in (list, tuple, set, frozenset):
        return _members(typing.get_args(ann)[0])
    if origin is typing.Union or isinstance(ann, types.UnionType):
        return [m for a in typing.get_args(ann) for m in _members(a)]
    return [ann]


def _unwrap(ann: Any, data: Any) -> Any:
    """``ann`` without Annotated/Optional; of a union of models, the member ``data`` fits."""
    while True:
        if typing.get_origin(ann) is typing.Annotated:
            ann = typing.get_args(ann)[0]
        elif typing.get_origin(ann) is typing.Union or isinstance(ann, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(models) > 1:
                return max(models, key=lambda m: _fit(m, data))
            ann = models[0] if models else args[0]
        else:
            return ann


def _fit(model: type[BaseModel], data: Any) -> tuple[int, int]:
    """How well ``data`` fits ``model``: a matching literal (a discriminator) first, then
    the number of keys it knows."""
    if not isinstance(data, Mapping):
        return (0, 0)
    literal = sum(1 for name, f in model.model_fields.items()
                  if typing.get_origin(f.annotation) is typing.Literal
                  and data.get(f.alias or name) in typing.get_args(f.annotation))
    return (literal, sum(1 for k in data if _field(model, k) is not None))


def _field(model: type[BaseModel], key: Any) -> Any:
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f
    return None


def _get_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = _get(data, part)
    return data


def _get(data: Any, part: int | str) -> Any:
    if isinstance(data, Mapping):
        return data.get(part, data.get(str(part)))
    if isinstance(data, list | tuple) and isinstance(part, int) and 0 <= part < len(data):
        return data[part]
    return None
