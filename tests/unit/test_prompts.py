"""The prompt registry's templates: rendering, the locked sandbox, declared variables, content
hashing and deduplication, and the errors (messages asserted, with line and column)."""

from __future__ import annotations

from typing import Any

import pytest

import airlock
from airlock.errors import IntegrityError, InvalidInput, NotFound, UsageError
from airlock.prompts import (
    diff_prompts,
    list_prompt_versions,
    load_prompt,
    register_prompt,
    register_prompt_file,
)
from airlock.prompts._prompt import Content, content_sha256

TEXT = "Answer as {{ tone }} using:\n{{ context }}\nQ: {{ question }}"
VARS = {"tone": "str", "context": "str", "question": "str"}
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}},
          "required": ["answer"]}


def _support(**kw: Any) -> airlock.Prompt:
    args: dict[str, Any] = {"template": TEXT, "variables": VARS,
                            "model_config": {"model": "gpt-x", "temperature": 0.2},
                            "response_format": SCHEMA, "description": "support answers"}
    return airlock.register_prompt("support-answer", **{**args, **kw})


def _refused(template: str, variables: dict[str, str] | None = None) -> str:
    with pytest.raises(InvalidInput) as err:
        register_prompt("t", template=template, variables=variables or {})
    return str(err.value)


# -- rendering ----------------------------------------------------------------------------
def test_text_prompt_renders_and_is_numbered() -> None:
    p = _support()
    assert (p.ref, p.kind, p.variables) == ("support-answer@1", "text", VARS)
    assert p.render(tone="friendly", context="Doc A", question="Where?") == \
        "Answer as friendly using:\nDoc A\nQ: Where?"
    loaded = airlock.load_prompt("support-answer@1")
    assert loaded.sha256 == p.sha256 and loaded.model_config == {"model": "gpt-x",
                                                                  "temperature": 0.2}
    assert loaded.response_format == SCHEMA and loaded.description == "support answers"


def test_chat_prompt_renders_every_message() -> None:
    p = register_prompt("chat", template=[
        {"role": "system", "content": "You are {{ tone }}."},
        {"role": "user", "content": "{% for d in docs %}[{{ loop.index }}] {{ d.title }}\n"
                                    "{% endfor %}{{ q }}"}],
        variables={"tone": "str", "docs": "list", "q": "str"})
    assert p.kind == "chat"
    out = p.render(tone="brief", docs=[{"title": "A"}, {"title": "B"}], q="Why?")
    assert out == [{"role": "system", "content": "You are brief."},
                   {"role": "user", "content": "[1] A\n[2] B\nWhy?"}]


def test_missing_extra_and_mistyped_variables_are_named() -> None:
    p = _support()
    with pytest.raises(InvalidInput) as err:
        p.render(tone="x", context="y")
    assert str(err.value) == ("missing variable 'question' (the prompt support-answer@1 "
                              "needs: context, question, tone)")
    with pytest.raises(InvalidInput) as err:
        p.render(tone="x", context="y", question="z", user="eve")
    assert str(err.value) == ("unexpected variable 'user' (the prompt support-answer@1 "
                              "takes: context, question, tone)")
    with pytest.raises(InvalidInput) as err:
        p.render(tone=3, context="y", question="z")
    assert str(err.value) == "variable 'tone' must be str (got int)"
    n = register_prompt("n", template="{{ k }}", variables={"k": "int"})
    with pytest.raises(InvalidInput, match="must be int"):
        n.render(k=True)  # a bool is not a number here
    assert n.render(k=3) == "3"


# -- the sandbox --------------------------------------------------------------------------
@pytest.mark.parametrize(("template", "what", "column"), [
    ("{{ ''.__class__ }}", "the attribute '__class__'", 7),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "the attribute", 7),
    ("{{ x['__globals__'] }}", "the key '__globals__'", 7),
    ("{{ x.upper() }}", "calling a function or method", 11),
    ("{{ cycler.__init__.__globals__.os }}", "the attribute", 11),
    ("{% include 'secret.txt' %}", "`include`", 4),
    ("{% extends 'base' %}", "`extends`", 4),
    ("{% import 'm' as m %}", "`import`", 4),
    ("{% macro m() %}{% endmacro %}", "`macro`", 4),
])
def test_escape_attempts_are_refused_at_registration(template: str, what: str,
                                                     column: int) -> None:
    message = _refused(template, {"x": "str"} if "x" in template else {})
    assert message.startswith(f"line 1, column {column} of the template: {what}")
    assert message.endswith("is not allowed in a prompt template")
    with pytest.raises(NotFound):
        load_prompt("t")  # nothing was registered


def test_no_attribute_of_a_python_object_renders() -> None:
    """What passes the check still reads no attribute: a mapping's key, never a method."""
    p = register_prompt("d", template="{{ d.title }}/{{ d['items'] }}",
                        variables={"d": "dict"})
    assert p.render(d={"title": "T", "items": "the key"}) == "T/the key"
    for template in ("{{ d.items }}", "{{ s.join }}"):  # methods of dict and str
        q = register_prompt("m", template=template, variables={"d": "dict"} if "d." in
                            template else {"s": "str"})
        with pytest.raises(InvalidInput) as err:
            q.render(**({"d": {"items": 1}} if "d." in template else {"s": "x"}))
        assert str(err.value).startswith(f"the prompt {q.ref} refused to render: ")
    with pytest.raises(InvalidInput, match="refused to render"):
        p.render(d={"other": 1})  # a missing key is an error, never an empty string
    g = register_prompt("g", template="{{ range }}{{ lipsum }}",
                        variables={"range": "str", "lipsum": "str"})
    assert g.render(range="r", lipsum="l") == "rl"  # no globals behind the names


# -- syntax errors: line and column -------------------------------------------------------
@pytest.mark.parametrize(("template", "line", "column", "message"), [
    ("hi {{ x }", 1, 9, "unexpected '}'"),
    ("ok\n{{ x }}\n{% if x %}", 3, 11, "Unexpected end of template."),
    ("q {{ \"abc }}", 1, 6, "unexpected char '\"' at 5"),
    ("a\nb {{ x | nofilter }}", 2, 10, "No filter named 'nofilter'."),
    ("{{ x }} {% endfor %}", 1, 12, "Encountered unknown tag 'endfor'."),
])
def test_syntax_errors_name_line_and_column(template: str, line: int, column: int,
                                            message: str) -> None:
    got = _refused(template, {"x": "str"})
    assert got.startswith(f"line {line}, column {column} of the template: {message}")


def test_chat_errors_name_the_message() -> None:
    with pytest.raises(InvalidInput) as err:
        register_prompt("c", template=[{"role": "system", "content": "ok"},
                                       {"role": "user", "content": "{{ q }"}],
                        variables={"q": "str"})
    assert str(err.value) == "message 2 (user): line 1, column 6 of the template: " \
                             "unexpected '}'"
    with pytest.raises(InvalidInput, match="message 1 must be"):
        register_prompt("c", template=[{"role": "boss", "content": "x"}])


def test_declared_variables_must_match_the_template() -> None:
    assert _refused("{{ x }} {{ y }}", {"x": "str"}) == (
        "the template uses the variable 'y', which is not declared (declared: x)")
    assert _refused("{{ x }}", {"x": "str", "z": "int"}) == (
        "the variable 'z' is declared but the template never uses it")
    assert _refused("{{ x }}", {"x": "text"}) == (
        "variable 'x' has the unknown type 'text' (use one of str, int, float, bool, list, "
        "dict)")
    assert "invalid variable name '1x'" in _refused("{{ x }}", {"1x": "str"})


def test_response_format_must_be_a_json_schema() -> None:
    with pytest.raises(InvalidInput) as err:
        _support(response_format={"type": "objekt"})
    assert str(err.value).startswith("response_format is not a valid JSON schema: at type: ")
    with pytest.raises(InvalidInput, match="must be a JSON schema"):
        _support(response_format=["type"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="model_config must be a mapping"):
        _support(model_config="gpt-x")  # type: ignore[arg-type]


# -- hashing and versions -----------------------------------------------------------------
def test_identical_content_returns_the_existing_version() -> None:
    first = _support()
    again = _support(description="another description is not content")
    assert (again.version, again.sha256) == (1, first.sha256)
    changed = _support(model_config={"model": "gpt-x", "temperature": 0.3})
    assert changed.version == 2 and changed.sha256 != first.sha256
    # the hash is of the canonical content: key order does not matter
    reordered = _support(variables=dict(reversed(list(VARS.items()))),
                         model_config={"temperature": 0.3, "model": "gpt-x"})
    assert reordered.version == 2
    assert [v.version for v in list_prompt_versions("support-answer")] == [1, 2]
    events = airlock.list_events(subject="prompts/support-answer", action="prompt.")
    assert [e.payload["version"] for e in events] == [1, 2]


def test_sha256_is_of_the_canonical_content() -> None:
    import hashlib
    import json

    p = _support()
    content = Content("text", TEXT, VARS, {"model": "gpt-x", "temperature": 0.2}, SCHEMA)
    body = json.dumps({"kind": "text", "template": TEXT, "variables": VARS,
                       "model_config": {"model": "gpt-x", "temperature": 0.2},
                       "response_format": SCHEMA}, sort_keys=True, separators=(",", ":"))
    assert p.sha256 == content_sha256(content) == hashlib.sha256(body.encode()).hexdigest()


def test_a_stored_version_edited_outside_airlock_does_not_load() -> None:
    import sqlalchemy as sa

    from airlock.store import get_store

    _support()
    with get_store().engine.begin() as conn:
        conn.execute(sa.text("UPDATE prompt_versions SET template = '\"Ignore {{ tone }} "
                             "{{ context }} {{ question }}\"'"))
    with pytest.raises(IntegrityError, match="no longer matches its sha256"):
        load_prompt("support-answer@1")


def test_refs_and_names() -> None:
    _support()
    with pytest.raises(UsageError, match="invalid prompt reference"):
        load_prompt("support-answer@@1")
    with pytest.raises(UsageError, match="invalid prompt name"):
        register_prompt("bad name", template="x")
    with pytest.raises(NotFound, match="prompt not found: nope"):
        load_prompt("nope@1")
    with pytest.raises(NotFound, match="prompt version not found: support-answer@9"):
        load_prompt("support-answer@9")
    with pytest.raises(NotFound, match="alias not found: support-answer@prod"):
        load_prompt("support-answer@prod")
    assert load_prompt("support-answer").version == 1  # a bare name: the latest


def test_prompt_file_errors_name_the_file_and_line(tmp_path: Any) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\ntemplate: |\n  Hello {{ who }\nvariables: {who: str}\n")
    with pytest.raises(InvalidInput) as err:
        register_prompt_file(path)
    assert str(err.value) == ("p.yaml (template at line 2): line 1, column 14 of the "
                              "template: unexpected '}'")
    path.write_text("name: p\ntemplate: hi\ncolour: red\n")
    with pytest.raises(UsageError, match=r"colour.*line 3"):
        register_prompt_file(path)
    path.write_text("name: p\ntemplate: 'Hi {{ who }}'\nvariables: {who: str}\n")
    p, created = register_prompt_file(path)
    assert created and p.render(who="you") == "Hi you"
    assert register_prompt_file(path) == (p, False)


def test_diff_of_templates_and_configs() -> None:
    a = _support()
    b = _support(template=TEXT.replace("Answer as", "Reply as"),
                 model_config={"model": "gpt-y", "temperature": 0.2}, response_format=None)
    d = diff_prompts(a.ref, b.ref)
    assert not d.same
    assert "-Answer as {{ tone }} using:" in d.template
    assert "+Reply as {{ tone }} using:" in d.template
    assert [(c["field"], c["key"], c["a"], c["b"]) for c in d.changes] == [
        ("model_config", "model", "gpt-x", "gpt-y"),
        ("response_format", "properties.answer.type", "string", None),
        ("response_format", "required", ["answer"], None),
        ("response_format", "type", "object", None)]
    assert diff_prompts(a.ref, a.ref).same
