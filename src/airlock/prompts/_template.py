"""Prompt templates: Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``, locked down.

* **No attribute access to Python objects**: every attribute is unsafe (``{{ x.upper }}``,
  ``{{ ''.__class__ }}`` refuse to render) but a for loop's counters (``loop.index``), names
  starting with ``_`` and calls are refused when the template is checked, and no callable
  may be called. A mapping's keys stay reachable
  (``{{ doc.title }}`` and ``{{ doc["title"] }}`` read the key, never an attribute).
* **No globals, no loaders**: ``range``, ``cycler``, ``namespace``… are gone, and
  ``include`` / ``import`` / ``extends`` are refused when the template is checked.
* **Declared variables**: the variables a template reads must be exactly the declared ones
  (a typo is an error at registration, not an empty string in production); ``render`` needs
  each declared variable, of its declared type, and nothing else.

Every problem is an :class:`~airlock.errors.InvalidInput` naming the variable, or the line and
column of a syntax error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from airlock.errors import DependencyMissing, InvalidInput

__all__ = ["ROLES", "TYPES", "CompiledTemplate", "check_type", "compile_template",
           "render_checked"]

#: declared variable types and the Python values each accepts
TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
    "list": (list, tuple), "dict": (dict,),
}
ROLES = ("system", "user", "assistant", "tool")

MSG_SYNTAX = "{where}line {line}, column {column} of the template: {message}"
MSG_UNDECLARED = ("{where}the template uses the variable {name!r}, which is not declared "
                  "(declared: {declared})")
MSG_UNUSED = "the variable {name!r} is declared but the template never uses it"
MSG_MISSING = "missing variable {name!r} (the prompt {ref} needs: {needed})"
MSG_EXTRA = "unexpected variable {name!r} (the prompt {ref} takes: {needed})"
MSG_TYPE = "variable {name!r} must be {type} (got {got})"
MSG_REFUSED = ("{where}line {line}, column {column} of the template: {what} is not allowed "
               "in a prompt template")
MSG_UNSAFE = "the prompt {ref} refused to render: {message}"


def _env() -> Any:
    try:
        from jinja2 import StrictUndefined
        from jinja2.runtime import LoopContext
        from jinja2.sandbox import SandboxedEnvironment
    except ImportError:  # pragma: no cover - the llm extra brings jinja2
        raise DependencyMissing("prompt templates need jinja2: pip install "
                                "'airlock[llm]'") from None

    class _Locked(SandboxedEnvironment):
        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            # only the counters of a for loop (loop.index, loop.first, ...), no method
            return (isinstance(obj, LoopContext) and not attr.startswith("_")
                    and not callable(value))

        def is_safe_callable(self, obj: Any) -> bool:
            return False

    env = _Locked(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()
    env.filters.pop("attr", None)
    return env


class CompiledTemplate:
    """One checked template source (a text prompt, or one chat message's content)."""

    def __init__(self, source: str, template: Any, used: frozenset[str]) -> None:
        self.source = source
        self.used = used
        self._template = template

    def render(self, values: Mapping[str, Any], ref: str) -> str:
        from jinja2.exceptions import SecurityError, UndefinedError

        try:
            return str(self._template.render(**values))
        except SecurityError as exc:
            raise InvalidInput(MSG_UNSAFE.format(ref=ref, message=exc)) from None
        except UndefinedError as exc:  # a missing key of a dict variable, say
            raise InvalidInput(MSG_UNSAFE.format(ref=ref, message=exc)) from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise InvalidInput(MSG_UNSAFE.format(ref=ref, message=exc)) from None


def compile_template(source: str, where: str = "") -> CompiledTemplate:
    """Parse, check and compile one template source; ``where`` prefixes messages."""
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.meta import find_undeclared_variables

    if not isinstance(source, str):
        raise InvalidInput(f"{where}a template must be a string")
    env = _env()
    ast = _parse(env, source, where)
    refused: list[tuple[int, int, str]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Call, nodes.Include,
                              nodes.Import, nodes.FromImport, nodes.Extends, nodes.Macro,
                              nodes.CallBlock)):
        what = _refused(node, nodes)
        if what:
            refused.append((*_position(source, node.lineno, _needle(node, nodes)), what))
    if refused:  # the first in the text, whatever order the tree is walked in
        line, col, what = min(refused)
        raise InvalidInput(MSG_REFUSED.format(where=where, line=line, column=col, what=what))
    try:
        template = env.from_string(source)
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found when compiling
        message = exc.message or str(exc)
        named = message.split("'")[1] if message.count("'") >= 2 else None
        line, col = _position(source, exc.lineno or 1, named)
        raise InvalidInput(MSG_SYNTAX.format(where=where, line=line, column=col,
                                             message=message)) from None
    return CompiledTemplate(source, template, frozenset(find_undeclared_variables(ast)))


def _refused(node: Any, nodes: Any) -> str | None:
    if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends
                  | nodes.Macro | nodes.CallBlock):
        return f"`{type(node).__name__.lower()}`"
    if isinstance(node, nodes.Call):
        return "calling a function or method"
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f"the attribute {node.attr!r}"
    if (isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str) and node.arg.value.startswith("_")):
        return f"the key {node.arg.value!r}"
    return None


def _needle(node: Any, nodes: Any) -> str | None:
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return str(node.arg.value)
    if isinstance(node, nodes.Call):
        return "("
    return {"FromImport": "from", "CallBlock": "call"}.get(type(node).__name__,
                                                           type(node).__name__.lower())


def _parse(env: Any, source: str, where: str) -> Any:
    """The template's AST; a syntax error names its line and column (the column of the
    token the parser stopped at, found by lexing the source with offsets)."""
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.lexer import TokenStream
    from jinja2.parser import Parser

    offsets: dict[int, int] = {}
    state = {"at": 0}

    def raw() -> Any:
        at = 0
        try:
            for lineno, token, value in env.lexer.tokeniter(source, None):
                state["at"] = at
                yield lineno, token, value
                at += len(value)
        except TemplateSyntaxError:  # the lexer stopped right after the last good token
            state["lexer"] = at
            raise
        state["at"] = len(source)

    def wrapped() -> Any:
        for tok in env.lexer.wrap(raw(), None):
            offsets[id(tok)] = state["at"]
            keep.append(tok)
            yield tok

    keep: list[Any] = []
    parser = Parser(env, source)
    parser.stream = TokenStream(wrapped(), None, None)
    try:
        return parser.parse()
    except TemplateSyntaxError as exc:
        current = parser.stream.current
        offset = state.get("lexer")
        if offset is None:
            offset = len(source) if current.type == "eof" else offsets.get(id(current))
        if offset is not None:
            line, col = _line_col(source, offset)
        else:
            line, col = _position(source, exc.lineno or 1, None)
        raise InvalidInput(MSG_SYNTAX.format(where=where, line=line, column=col,
                                             message=exc.message)) from None


def _line_col(source: str, offset: int) -> tuple[int, int]:
    before = source[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _position(source: str, line: int, needle: str | None) -> tuple[int, int]:
    """(line, column) of ``needle`` on ``line``, else of the line's first non-blank."""
    lines = source.split("\n")
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    col = text.find(needle) if needle else -1
    if col < 0:
        col = len(text) - len(text.lstrip())
    return line, col + 1


def check_type(name: str, kind: str, value: Any) -> None:
    ok = isinstance(value, TYPES[kind]) and not (kind != "bool" and isinstance(value, bool))
    if ok and kind == "float" and not math.isfinite(float(value)):
        ok = False
    if not ok:
        raise InvalidInput(MSG_TYPE.format(name=name, type=kind, got=type(value).__name__))


def render_checked(parts: Sequence[CompiledTemplate], variables: Mapping[str, str],
                   values: Mapping[str, Any], ref: str) -> list[str]:
    """Every part rendered with ``values``, after checking they are exactly the declared
    variables, each of its type."""
    needed = ", ".join(sorted(variables)) or "(no variables)"
    for name in sorted(variables):
        if name not in values:
            raise InvalidInput(MSG_MISSING.format(name=name, ref=ref, needed=needed))
    for name in sorted(values):
        if name not in variables:
            raise InvalidInput(MSG_EXTRA.format(name=name, ref=ref, needed=needed))
    for name, kind in variables.items():
        check_type(name, kind, values[name])
    return [p.render(values, ref) for p in parts]
