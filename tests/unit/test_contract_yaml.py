"""Contract YAML: every error names the field and the line; dump → load round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock._yaml import NOT_A_MAPPING, PROBLEM_SEPARATOR
from airlock.contracts._model import ColumnSpec, ContractSpec, Expression, Freshness, TableSpec
from airlock.contracts._yaml import dump_contract_spec, load_contract_spec
from airlock.errors import NO_SUCH_FILE, NotFound, UsageError

GOOD = """\
name: adult
version: 2
columns:
  age:
    type: int
    nullable: false
    min: 17
    max: 90
"""


def _error(text: str) -> str:
    with pytest.raises(UsageError) as info:
        load_contract_spec(text)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_loads_a_valid_contract_from_text_and_file(tmp_path: Path) -> None:
    spec = load_contract_spec(GOOD)
    assert spec.columns["age"] == ColumnSpec(type="int", nullable=False, min=17, max=90)
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    assert load_contract_spec(path) == spec
    assert load_contract_spec(str(path)) == spec


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    for source in (tmp_path / "nope.yaml", str(tmp_path / "nope.yaml")):
        with pytest.raises(NotFound) as info:
            load_contract_spec(source)
        assert str(info.value) == NO_SUCH_FILE.format(what="contract file",
                                                      path=tmp_path / "nope.yaml")


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD + "    nulable: true\n")
    with pytest.raises(UsageError) as info:
        load_contract_spec(path)
    assert str(info.value).startswith(f"{path}: columns.age: unknown key 'nulable' (line 9)")


def test_unknown_key_suggests_the_closest() -> None:
    text = "name: t\ncolumns:\n  age:\n    type: int\n    min: 17\n\n    nulable: false\n"
    assert _error(text) == ("<contract>: columns.age: unknown key 'nulable' (line 7); "
                            "did you mean 'nullable'?")


def test_unknown_key_without_a_close_match_lists_the_keys() -> None:
    message = _error("name: t\ncolumns: {}\ntable:\n  zzz: 1\n")
    assert message.startswith("<contract>: table: unknown key 'zzz' (line 4); known keys: ")
    assert "freshness" in message


def test_unknown_key_inside_a_list_item() -> None:
    text = "name: t\ncolumns: {}\ntable:\n  expressions:\n    - {name: a, sql: x}\n" \
           "    - {name: b, sqll: x}\n"
    assert _error(text).startswith(
        "<contract>: table.expressions[1]: unknown key 'sqll' (line 6); did you mean 'sql'?")


def test_unknown_type_lists_the_types() -> None:
    text = "name: t\ncolumns:\n  age:\n    type: integer\n"
    assert _error(text) == (
        "<contract>: columns.age.type: an unknown type 'integer' (line 4); use one of int, "
        "float, string, bool, date, datetime, category (did you mean 'int'?)")


def test_unknown_pii_tag() -> None:
    message = _error("name: t\ncolumns:\n  e:\n    type: string\n    pii: mail\n")
    assert message.startswith("<contract>: columns.e.pii: an unknown pii tag 'mail' (line 5); "
                              "use one of none, email, phone")


def test_wrong_type_of_value() -> None:
    message = _error("name: t\ncolumns:\n  age:\n    type: int\n    nullable: maybe\n")
    assert message.startswith("<contract>: columns.age.nullable: input should be a valid boolean")
    assert message.endswith("got 'maybe' (line 5)")


def test_wrong_shape_of_a_column() -> None:
    message = _error("name: t\ncolumns:\n  age: int\n")
    assert message.startswith("<contract>: columns.age: input should be a valid dictionary")
    assert message.endswith("(line 3)")


def test_list_where_a_number_is_expected_is_one_problem() -> None:
    message = _error("name: t\ncolumns:\n  age:\n    type: int\n    min: [1]\n")
    assert message.startswith("<contract>: columns.age.min: input should be a valid number")
    assert message.endswith("(line 5)")


def test_invalid_regex() -> None:
    message = _error("name: t\ncolumns:\n  e:\n    type: string\n    regex: '('\n")
    assert message.startswith("<contract>: columns.e.regex: invalid regex '(': ")
    assert message.endswith("(line 5)")


def test_min_greater_than_max() -> None:
    message = _error("name: t\ncolumns:\n  x: {type: int}\n  age:\n    type: int\n"
                     "    min: 90\n    max: 17\n")
    assert message == "<contract>: columns.age: min 90 is greater than max 17 (line 4)"


def test_bad_duration() -> None:
    message = _error("name: t\ncolumns: {}\ntable:\n  freshness: {column: x, max_age: soon}\n")
    assert message == ("<contract>: table.freshness.max_age: max_age 'soon' is not a duration "
                       "like 30m, 24h or 7d (line 4)")


def test_negative_row_bound() -> None:
    message = _error("name: t\ncolumns: {}\ntable:\n  rows:\n    min: -1\n")
    assert message == ("<contract>: table.rows.min: input should be greater than or equal to "
                       "0, got -1 (line 5)")


def test_missing_required_fields() -> None:
    assert _error("columns: {}\n") == "<contract>: name: required but missing (line 1)"
    assert _error("name: t\ncolumns:\n  age:\n    nullable: true\n") == (
        "<contract>: columns.age.type: required but missing (line 3)")


def test_malformed_yaml_has_the_line() -> None:
    message = _error("name: t\ncolumns:\n  age: {type: int\n")
    assert message.startswith("<contract>: malformed YAML: ")
    assert message.endswith("(line 4)")
    message = _error("name: t\ncolumns:\n  age:\n    type: int\n   min: 3\n")
    assert message.startswith("<contract>: malformed YAML: ")
    assert "(line 5)" in message


def test_not_a_mapping() -> None:
    assert _error("- a\n- b\n") == NOT_A_MAPPING.format(
        source="<contract>", expected="fields (name, columns, table)", got="a list (line 1)")
    assert _error("- a\n- b\n") == ("<contract>: expected a mapping of fields (name, columns, "
                                    "table), got a list (line 1)")
    assert _error("") == ("<contract>: expected a mapping of fields (name, columns, table), "
                          "got an empty document")


def test_arbitrary_tags_are_refused() -> None:
    message = _error("name: !!python/object/apply:os.system [echo hi]\ncolumns: {}\n")
    assert message.startswith("<contract>: malformed YAML: could not determine a constructor")
    assert message.endswith("(line 1)")


def test_duplicate_keys_are_refused() -> None:
    assert _error("name: t\ncolumns:\n  a: {type: int}\n  a: {type: float}\n") == (
        "<contract>: columns: duplicate key 'a' (line 4)")


def test_every_problem_is_listed_with_its_line() -> None:
    message = _error("name: t\ncolumns:\n  a: {type: int, nulable: true}\n  b: {type: x}\n")
    assert message.split(PROBLEM_SEPARATOR) == [
        "<contract>: columns.a: unknown key 'nulable' (line 3); did you mean 'nullable'?",
        "columns.b.type: an unknown type 'x' (line 4); use one of int, float, string, bool, "
        "date, datetime, category"]


def test_aliases_are_refused() -> None:
    assert _error("name: &n t\ncolumns: {}\n") == (
        "<contract>: YAML anchors and aliases (&name, *name) are not allowed (line 1)")


FULL = ContractSpec(
    name="full", version=3, description="everything",
    columns={
        "age": ColumnSpec(type="int", nullable=False, min=17, max=90, description="years"),
        "ratio": ColumnSpec(type="float", max_null_fraction=0.25, min=0.5, max=1.5),
        "email": ColumnSpec(type="string", regex=r"^[^@\s]+@[^@\s]+$", min_length=3,
                            max_length=254, pii="email", severity="warn"),
        "sex": ColumnSpec(type="category", allowed=["Female", "Male", "yes", "1"]),
        "day": ColumnSpec(type="date", min="2020-01-01", max="2024-12-31", unique=True),
    },
    table=TableSpec(unique=[["age"], ["email", "day"]],
                    freshness=Freshness(column="day", max_age="24h"),
                    expressions=[Expression(name="adult", sql="age >= 18", severity="warn")]),
)


def test_round_trip() -> None:
    text = dump_contract_spec(FULL)
    assert load_contract_spec(text) == FULL
    assert dump_contract_spec(load_contract_spec(text)) == text


def test_dump_is_readable_and_stable() -> None:
    text = dump_contract_spec(FULL)
    assert text.startswith("name: full\nversion: 3\n")
    assert "  age:\n    type: int\n    nullable: false\n    min: 17\n    max: 90\n" in text
    assert "allowed: [Female, Male, 'yes', '1']" in text  # quoted where YAML would coerce
    assert "severity: error" not in text  # defaults are left out
    minimal = ContractSpec(name="m", columns={})
    assert dump_contract_spec(minimal) == "name: m\ncolumns: {}\n"
    assert load_contract_spec(dump_contract_spec(minimal)) == minimal
