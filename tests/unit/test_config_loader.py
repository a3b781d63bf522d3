"""The one config loader (airlock._yaml): the path-or-text rule, one parse, refused aliases,
caps, duplicate keys, line numbers for any path, and every validation problem listed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from airlock import _yaml
from airlock._yaml import (
    ALIASES_REFUSED,
    CANNOT_READ,
    DUPLICATE_KEY,
    MAX_DEPTH,
    MAX_NODES,
    NOT_A_MAPPING,
    PROBLEM_SEPARATOR,
    TOO_DEEP,
    TOO_MANY_NODES,
    ParsedDoc,
    did_you_mean,
    load_config,
    loc_text,
    parse_yaml,
)
from airlock.errors import NO_SUCH_FILE, NotFound, UsageError


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Frozen):
    name: str
    kind: Literal["latency"]
    threshold_ms: float = Field(gt=0)


class ErrorRate(_Frozen):
    name: str
    kind: Literal["error_rate"]
    threshold: float = Field(ge=0, le=1)


class Notify(_Frozen):
    webhook: str | None = None
    log: bool = True


class Rules(_Frozen):
    endpoint: str
    mode: Literal["strict", "lenient"] = "strict"
    notify: Notify = Field(default_factory=Notify)
    rules: list[Annotated[Latency | ErrorRate, Field(discriminator="kind")]] = Field(
        min_length=1)


GOOD = """\
endpoint: adult
notify:
  log: false
rules:
  - {name: p95, kind: latency, threshold_ms: 250}
  - name: errors
    kind: error_rate
    threshold: 0.02
"""


def _error(source: Any, model: type[BaseModel] = Rules) -> str:
    with pytest.raises(UsageError) as info:
        load_config(source, model, what="alert rules")
    message = str(info.value)
    assert "\n" not in message
    return message


# -- the path-or-text rule -------------------------------------------------------------------

def test_path_str_text_bytes_and_mapping_agree(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD, encoding="utf-8")
    expected = load_config(GOOD, Rules, what="alert rules")
    assert expected.rules[1].threshold == 0.02  # type: ignore[union-attr]
    assert load_config(path, Rules, what="alert rules") == expected
    assert load_config(str(path), Rules, what="alert rules") == expected
    assert load_config(GOOD.encode(), Rules, what="alert rules") == expected
    assert load_config(yaml.safe_load(GOOD), Rules, what="alert rules") == expected
    assert load_config(expected, Rules, what="alert rules") is expected


def test_an_existing_file_without_a_yaml_suffix_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.conf"
    path.write_text(GOOD, encoding="utf-8")
    assert parse_yaml(str(path), what="x").source == str(path)


@pytest.mark.parametrize("name", ["nope.yaml", "nope.yml", "nope.json"])
def test_a_missing_file_is_not_found_with_the_one_wording(tmp_path: Path, name: str) -> None:
    for source in (tmp_path / name, str(tmp_path / name)):
        with pytest.raises(NotFound) as info:
            parse_yaml(source, what="alert rules")
        assert str(info.value) == NO_SUCH_FILE.format(what="alert rules file",
                                                      path=tmp_path / name)


def test_a_one_line_str_naming_no_file_is_yaml_text() -> None:
    doc = parse_yaml("endpoint: adult", what="alert rules")
    assert doc.data == {"endpoint": "adult"} and doc.source == "<alert rules>"
    with pytest.raises(UsageError, match=r"^<x>: malformed YAML: unacceptable character"):
        parse_yaml("x\x00y: 1", what="x")  # a NUL: not a file name, and not YAML


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml(tmp_path, what="endpoint config")
    assert str(info.value).startswith(
        CANNOT_READ.format(what="endpoint config", path=tmp_path, reason=""))
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(UsageError) as info:
        parse_yaml(latin, what="endpoint config")
    assert str(info.value) == CANNOT_READ.format(
        what="endpoint config", path=latin, reason="not UTF-8 text (byte 0xe9 at offset 9)")


def test_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "MAX_BYTES", 100)
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 200 + "\n")
    with pytest.raises(UsageError, match=r"big\.yaml: the file is larger than 100 bytes"):
        parse_yaml(path, what="x")
    with pytest.raises(UsageError, match="larger than 100 bytes"):
        parse_yaml("a: " + "x" * 200 + "\n", what="x")


# -- one parse; what is refused --------------------------------------------------------------

def test_the_text_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = _yaml._Loader.get_single_node

    def counting(self: Any) -> Any:
        calls.append(1)
        return real(self)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("parsed a second time")

    monkeypatch.setattr(_yaml._Loader, "get_single_node", counting)
    for name in ("safe_load", "load", "compose", "full_load"):
        monkeypatch.setattr(yaml, name, refuse)
    assert load_config(GOOD, Rules, what="alert rules").endpoint == "adult"
    assert calls == [1]


def test_duplicate_keys_name_the_key_and_line() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n", what="x")
    assert str(info.value) == DUPLICATE_KEY.format(source="<x>", where="b", key="c", line=5)
    with pytest.raises(UsageError, match=r"<x>: top level: duplicate key 'a' \(line 2\)"):
        parse_yaml("a: 1\na: 2\n", what="x")
    with pytest.raises(UsageError, match=r"<x>: l\[1\]: duplicate key 'k' \(line 2\)"):
        parse_yaml("l: [{k: 1}, {j: 1,\n k: 2, k: 3}]\n", what="x")


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n",
    "a: &x 1\n",  # an anchor alone is refused too
    "base: &b {k: 1}\nother:\n  <<: *b\n",
])
def test_anchors_and_aliases_are_refused(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml(text, what="x")
    assert str(info.value) == ALIASES_REFUSED.format(source="<x>", line=1)


def test_merge_keys_are_refused() -> None:
    with pytest.raises(UsageError, match=r"<x>: other: YAML merge keys \(<<\) are not allowed"):
        parse_yaml("other:\n  <<: {k: 1}\n", what="x")


BOMB = ("a: [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n".replace("a:", "a: &a", 1)
        + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                  for p, c in zip("abcdefgh", "bcdefghi", strict=True)))


def test_an_alias_bomb_is_refused_fast() -> None:
    assert len(BOMB) < 400
    start = time.perf_counter()
    with pytest.raises(UsageError) as info:
        parse_yaml(BOMB, what="x")
    assert time.perf_counter() - start < 0.5
    assert str(info.value) == ALIASES_REFUSED.format(source="<x>", line=1)


def test_depth_and_node_count_are_capped() -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), what="x")
    assert str(info.value) == TOO_DEEP.format(source="<x>", limit=MAX_DEPTH, line=1)
    deep = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5))
    with pytest.raises(UsageError, match="nested more than"):
        parse_yaml(deep, what="x")
    parse_yaml("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1), what="x")  # just under
    for opening in ("[", "{a: ", "[a, "):  # refused while scanning, before 1 KB of look-ahead
        start = time.process_time()  # CPU time: a loaded machine does not stretch it
        with pytest.raises(UsageError, match="nested more than"):
            parse_yaml("d: " + opening * 5000, what="x")
        assert time.process_time() - start < 0.1  # the look-ahead cost 0.6 s
    many = "[" + ", ".join(["1"] * MAX_NODES) + "]"
    start = time.process_time()  # CPU: ~1 s of PyYAML's scanner; 5.5 s of wall time under load
    with pytest.raises(UsageError) as info:
        parse_yaml(many, what="x")
    assert str(info.value) == TOO_MANY_NODES.format(source="<x>", limit=MAX_NODES, line=1)
    assert time.process_time() - start < 4


@pytest.mark.parametrize(("text", "start"), [
    ("a: [1\n", "<x>: malformed YAML: expected ',' or ']', but got '<stream end>' (line 2)"),
    ("a: 1\n  b: 2\n", "<x>: malformed YAML: mapping values are not allowed here (line 2)"),
    ("a: !!python/object/apply:os.system [echo hi]\n",
     "<x>: malformed YAML: could not determine a constructor for the tag"),
    ("day: 2020-13-45\n", "<x>: malformed YAML: month must be in 1..12"),
    ("a: 1\n---\nb: 2\n", "<x>: malformed YAML: expected a single document in the stream"),
    ("a: \x07\n", "<x>: malformed YAML: unacceptable character"),
    ("{[1]: 2}\n", "<x>: malformed YAML: found unhashable key (line 1)"),
])
def test_malformed_yaml_is_one_line(text: str, start: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_yaml(text, what="x")
    assert str(info.value).startswith(start) and "\n" not in str(info.value)


# -- line numbers for any path ---------------------------------------------------------------

def test_line_of_any_path() -> None:
    doc = parse_yaml("name: g\nrules:\n  - metric: a\n    max: 3\n  - {metric: b,\n"
                     "     max: 5}\n  - just text\n", what="gate policy")
    assert doc.line_of(()) == 1
    assert doc.line_of(("rules",)) == 2
    assert doc.line_of(("rules", 0)) == 3
    assert doc.line_of(("rules", 0, "max")) == 4
    assert doc.line_of(["rules", 1, "max"]) == 6
    assert doc.line_of(("rules", 2)) == 7
    assert doc.line_of(("rules", 1, "absent")) == 5  # the deepest ancestor present
    assert doc.line_of(("nope", 3)) == 1
    assert doc.where(("rules", 1, "max")) == "rules[1].max (line 6)"
    assert str(doc.problem(("rules", 1, "max"), "must be at most 1")) == (
        "<gate policy>: rules[1].max: must be at most 1 (line 6)")
    assert ParsedDoc(data={}, source="<x>").line_of(("a",)) is None
    assert ParsedDoc(data={}, source="<x>").where(("a", 0)) == "a[0]"


def test_numeric_keys_are_found_by_their_text() -> None:
    doc = parse_yaml("codes:\n  404: missing\n  500: broken\n", what="x")
    assert doc.data == {"codes": {404: "missing", 500: "broken"}}
    assert doc.line_of(("codes", 500)) == 3 and doc.line_of(("codes", "404")) == 2


def test_loc_text_and_did_you_mean() -> None:
    assert loc_text(("rules", 3, "max")) == "rules[3].max"
    assert loc_text(()) == ""
    assert did_you_mean("treshold", ["threshold", "name"]) == "did you mean 'threshold'?"
    assert did_you_mean("zzz", ["a", "b"]) == "known keys: a, b"


# -- explaining validation errors ------------------------------------------------------------

def test_every_problem_is_listed_with_its_line() -> None:
    text = ("endpoint: adult\nmode: strikt\nrules:\n  - name: a\n    kind: latency\n"
            "    threshold: 3\n  - {name: b, kind: error_rate, threshold: 2}\n")
    assert _error(text).split(PROBLEM_SEPARATOR) == [
        "<alert rules>: rules[0]: unknown key 'threshold' (line 6); did you mean "
        "'threshold_ms'?",
        "mode: an unknown mode 'strikt' (line 2); use one of strict, lenient "
        "(did you mean 'strict'?)",
        "rules[0].threshold_ms: required but missing (line 4)",
        "rules[1].threshold: input should be less than or equal to 1, got 2 (line 7)",
    ]


def test_unknown_keys_without_a_close_match_list_the_known_keys() -> None:
    message = _error("endpoint: a\nrules: [{name: a, kind: latency, threshold_ms: 1}]\n"
                     "notify:\n  zzz: 1\n")
    assert message == ("<alert rules>: notify: unknown key 'zzz' (line 4); known keys: "
                       "webhook, log")


def test_union_tags() -> None:
    assert _error("endpoint: a\nrules:\n  - {name: a, kind: latenzy}\n") == (
        "<alert rules>: rules[0]: an unknown kind 'latenzy' (line 3); use one of latency, "
        "error_rate (did you mean 'latency'?)")
    assert _error("endpoint: a\nrules:\n  - {name: a}\n") == (
        "<alert rules>: rules[0]: needs a 'kind' (latency, error_rate) (line 3)")


def test_a_mapping_source_has_no_lines() -> None:
    assert _error({"rules": [{"name": "a", "kind": "latency", "threshold_ms": 0}]}) == (
        "<alert rules>: endpoint: required but missing" + PROBLEM_SEPARATOR
        + "rules[0].threshold_ms: input should be greater than 0, got 0")


def test_not_a_mapping() -> None:
    for text, got in (("- a\n", "a list (line 1)"), ("", "an empty document"),
                      ("# only a comment\n", "an empty document"), ("42\n", "a number (line 1)")):
        assert _error(text) == NOT_A_MAPPING.format(
            source="<alert rules>", expected="endpoint, mode, notify, rules", got=got)


def test_many_problems_are_capped() -> None:
    class Many(_Frozen):
        x: int = 0

    message = _error({f"k{i}": i for i in range(30)}, Many)
    assert message.count(PROBLEM_SEPARATOR) == 20
    assert message.endswith("(and 10 more problems)")


# -- fuzz: nothing but UsageError/NotFound, and fast -----------------------------------------

def _fuzz(source: str | bytes) -> None:
    start = time.perf_counter()
    try:
        load_config(source, Rules, what="alert rules")
    except (UsageError, NotFound) as exc:
        assert "\n" not in str(exc)
    assert time.perf_counter() - start < 1.0


YAMLISH = st.text(alphabet=st.sampled_from([*"ab:-[]{},&*!?|>'\"#%@`\n \t0123456789.<",
                                           "\x00", "\ufeff", "\u2028", "é"]), max_size=200)


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_fuzz_yamlish_text(text: str) -> None:
    _fuzz(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_any_text(text: str) -> None:
    _fuzz(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes(raw: bytes) -> None:
    _fuzz(raw)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20))
def test_fuzz_documents(data: Any) -> None:
    _fuzz(yaml.safe_dump({"endpoint": "a", "rules": data}))
    _fuzz(yaml.safe_dump(data))


# -- issue 13 item 8: every kind of config file refuses alias bombs and deep nesting ----------

def _contract(path: Path) -> Any:
    from airlock.contracts import Contract

    return Contract.from_yaml(path)


def _guard_policy(path: Path) -> Any:
    from airlock.guard import load_guard_policy

    return load_guard_policy(path)


def _endpoint(path: Path) -> Any:
    from airlock.serve import load_endpoint_config

    return load_endpoint_config(path)


def _alert_rules(path: Path) -> Any:
    from airlock.monitor import load_rules

    return load_rules(path)


KINDS = {
    "contract": (_contract, "name: t\ncolumns:\n  age: {type: int}\n"),
    "guard policy": (_guard_policy, "name: g\ninput: {pii: true}\n"),
    "endpoint config": (_endpoint, "name: e\nroutes:\n  - {model: m@1}\n"),
    "alert rules": (_alert_rules, "endpoint: e\nrules:\n  - {name: f, kind: freshness, "
                                  "max_age: 1m}\n"),
}


def _bomb(head: str, levels: int = 9) -> str:
    """The "billion laughs" under ``description``: 9 ** levels strings from ~400 bytes."""
    lines = ["description:", "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return head + "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_of_config_file_refuses_an_alias_bomb_fast(tmp_path: Path,
                                                             kind: str) -> None:
    load, head = KINDS[kind]
    good = tmp_path / "good.yaml"
    good.write_text(head, encoding="utf-8")
    load(good)  # the head alone is a valid file of this kind
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(head), encoding="utf-8")
    assert len(path.read_bytes()) < 600
    start = time.perf_counter()
    with pytest.raises(UsageError) as info:
        load(path)
    assert time.perf_counter() - start < 0.5
    line = head.count("\n") + 2
    assert str(info.value) == ALIASES_REFUSED.format(source=path, line=line)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("nesting", ["flow", "block"])
def test_every_kind_of_config_file_refuses_deep_nesting_fast(tmp_path: Path, kind: str,
                                                            nesting: str) -> None:
    load, head = KINDS[kind]
    good = tmp_path / "good.yaml"
    good.write_text(head, encoding="utf-8")
    load(good)  # imported and valid
    depth = 5000
    deep = ("description: " + "[" * depth + "]" * depth + "\n" if nesting == "flow" else
            "description:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(200)))
    path = tmp_path / "deep.yaml"
    path.write_text(head + deep, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(UsageError) as info:
        load(path)
    assert time.perf_counter() - start < 0.5
    assert str(info.value).startswith(f"{path}: nested more than {MAX_DEPTH} levels deep (line ")
    assert "\n" not in str(info.value)


def test_contract_from_one_line_text_has_no_path(tmp_path: Path) -> None:
    from airlock.contracts import Contract

    assert Contract.from_yaml("{name: t, columns: {}}").path is None
    path = tmp_path / "c.yaml"
    path.write_text("name: t\ncolumns: {}\n")
    assert Contract.from_yaml(str(path)).path == path
