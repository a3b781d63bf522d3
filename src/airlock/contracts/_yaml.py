"""Read and write the contract YAML with errors a person can act on.

Every problem is one :class:`~airlock.errors.UsageError` line naming the file, the field path
and the YAML line, e.g.::

    contract.yaml: columns.age: unknown key 'nulable' (line 7); did you mean 'nullable'?

Loading uses ``yaml.safe_load`` semantics (no arbitrary tags). Line numbers come from the
composed node tree (``yaml.compose``): the pydantic error ``loc`` is walked through mapping and
sequence nodes down to the node that is wrong.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from airlock.contracts._model import (
    PII_TAGS,
    TYPES,
    ColumnSpec,
    ContractSpec,
    Distribution,
    Expression,
    Freshness,
    Leakage,
    RowBounds,
    TableSpec,
)
from airlock.errors import NotFound, UsageError

__all__ = ["dump_contract_spec", "load_contract_spec"]

Loc = tuple[int | str, ...]


def load_contract_spec(path_or_text: str | Path) -> ContractSpec:
    """Parse a contract from a file path or from YAML text.

    A :class:`~pathlib.Path`, or a one-line string naming an existing file or ending in
    ``.yaml``/``.yml``, is read as a file; any other string is the YAML itself.
    """
    source, text = _read(path_or_text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise UsageError(f"{source}: malformed YAML: {_yaml_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: malformed YAML: {exc}") from None
    if not isinstance(data, dict) or root is None:
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        line = f" (line {root.start_mark.line + 1})" if root is not None else ""
        raise UsageError(f"{source}: a contract must be a mapping of fields "
                         f"(name, columns, table), got {got}{line}")
    _check_duplicates(root, source, ())
    try:
        return ContractSpec.model_validate(data)
    except ValidationError as exc:
        raise UsageError(_explain(exc, root, source)) from None


def dump_contract_spec(spec: ContractSpec) -> str:
    """The contract as YAML: fields in model order, defaults left out, short lists inline.

    ``load_contract_spec(dump_contract_spec(spec)) == spec`` for every valid spec.
    """
    data = _clean(spec.model_dump(mode="json", exclude_defaults=True))
    if "name" not in data:  # required, never a default; kept first for readers
        data = {"name": spec.name, **data}
    if "columns" not in data:
        data["columns"] = {}
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


# -- reading ---------------------------------------------------------------------------------

def _read(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, str) and ("\n" in path_or_text or not (
            path_or_text.endswith((".yaml", ".yml")) or Path(path_or_text).is_file())):
        return "<contract>", path_or_text
    path = Path(path_or_text)
    try:
        return str(path), path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"no such contract file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the contract: {exc}") from None


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
    return f"{problem} (line {mark.line + 1})" if mark is not None else problem


def _check_duplicates(node: yaml.Node, source: str, loc: Loc) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                raise UsageError(f"{source}: {_path(loc) or 'top level'}: duplicate key "
                                 f"{name!r} (line {key.start_mark.line + 1})")
            seen.add(name)
            _check_duplicates(value, source, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, source, (*loc, i))


# -- explaining validation errors ------------------------------------------------------------

def _explain(exc: ValidationError, root: yaml.Node, source: str) -> str:
    errors = sorted(exc.errors(include_url=False),
                    key=lambda e: e["type"] != "extra_forbidden")  # the likeliest typo first
    first = errors[0]
    loc = _resolvable(tuple(first["loc"]), root, keep_last=first["type"] == "missing")
    node, key_node = _node_at(root, loc)
    line = f"(line {(key_node or node).start_mark.line + 1})"
    message = _message(first, loc, node)
    message = message.replace("{LINE}", line) if "{LINE}" in message else f"{message} {line}"
    where = _path(loc[:-1] if first["type"] == "extra_forbidden" else loc) or "top level"
    more = len({_resolvable(tuple(e["loc"]), root, keep_last=False) for e in errors[1:]}
               - {loc})
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{source}: {where}: {message}{tail}"


def _message(err: Any, loc: Loc, node: yaml.Node) -> str:
    kind, field = err["type"], (loc[-1] if loc else None)
    value = err.get("input")
    if not (value is None or isinstance(value, str | int | float | bool)):
        value = node.value if isinstance(node, yaml.ScalarNode) else None
    if kind == "extra_forbidden":
        known = sorted(_model_at(loc[:-1]).model_fields)
        hint = difflib.get_close_matches(str(field), known, n=1)
        suggestion = f"did you mean {hint[0]!r}?" if hint else f"known keys: {', '.join(known)}"
        return f"unknown key {field!r} {{LINE}}; {suggestion}"
    if kind == "missing":
        return "required but missing"
    if kind == "literal_error" and field == "type":
        hint = difflib.get_close_matches(str(value), TYPES, n=1)
        return (f"an unknown type {value!r} {{LINE}}; use one of {', '.join(TYPES)}"
                + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    if kind == "literal_error" and field == "pii":
        return f"an unknown pii tag {value!r} {{LINE}}; use one of {', '.join(PII_TAGS)}"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = str(err["msg"])
    msg = msg[:1].lower() + msg[1:]
    return f"{msg}, got {value!r}" if value is not None else msg


def _resolvable(loc: Loc, root: yaml.Node, *, keep_last: bool) -> Loc:
    """The longest prefix of ``loc`` that names a node (unions add type names to ``loc``);
    with ``keep_last`` the final, absent part is kept (the key of a missing field)."""
    node: yaml.Node | None = root
    for i, part in enumerate(loc):
        node = _child(node, part)[0] if node is not None else None
        if node is None:
            return loc[: i + 1] if keep_last and i == len(loc) - 1 else loc[:i]
    return loc


def _node_at(root: yaml.Node, loc: Loc) -> tuple[yaml.Node, yaml.Node | None]:
    """The node at ``loc`` (or its deepest existing ancestor) and, for a mapping entry, the
    node of its key (whose line is where the entry starts)."""
    node, key_node = root, None
    for part in loc:
        child, key = _child(node, part)
        if child is None:
            return node, key_node
        node, key_node = child, key
    return node, key_node


def _child(node: yaml.Node, part: int | str) -> tuple[yaml.Node | None, yaml.Node | None]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return value, key
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and \
            0 <= part < len(node.value):
        return node.value[part], None
    return None, None


_MODELS: dict[Loc, type[BaseModel]] = {
    (): ContractSpec, ("table",): TableSpec, ("table", "rows"): RowBounds,
    ("table", "freshness"): Freshness, ("table", "distribution"): Distribution,
    ("table", "leakage"): Leakage,
}


def _model_at(loc: Loc) -> type[BaseModel]:
    if len(loc) == 2 and loc[0] == "columns":
        return ColumnSpec
    if len(loc) == 3 and loc[:2] == ("table", "expressions"):
        return Expression
    return _MODELS.get(loc, ContractSpec)


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- writing ---------------------------------------------------------------------------------

def _clean(value: Any) -> Any:
    """Whole floats as ints (``min: 17`` rather than ``17.0``); loading gives the same spec."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class _Dumper(yaml.SafeDumper):
    """Safe YAML; lists of scalars in flow style (``allowed: [a, b]``)."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data) or all(
        isinstance(v, list) and all(not isinstance(x, dict | list) for x in v) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)
