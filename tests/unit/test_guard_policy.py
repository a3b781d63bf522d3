"""Guard policies: the built-in default, YAML with line-numbered errors, dicts, booleans."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.errors import NO_SUCH_FILE, NotFound, UsageError
from airlock.guard import Guard, GuardPolicy, load_guard_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "guard.yaml"


def test_default_policy_checks_input_and_output() -> None:
    p = load_guard_policy("default")
    assert p.name == "default"
    assert p.input.injection is not None and p.input.injection.action == "block"
    assert p.input.pii is not None and p.input.pii.action == "redact"
    assert p.input.pii.mode == "placeholder"
    assert p.output.injection is None and p.output.pii is not None
    assert load_guard_policy(p) is p
    assert Guard("default").policy == p == Guard().policy


def test_example_policy_loads_and_sha256_ignores_layout(tmp_path: Path) -> None:
    p = load_guard_policy(EXAMPLE)
    assert p.name == "support-bot" and p.max_input_bytes == 65536
    assert p.output.max_length is not None and p.output.max_length.chars == 4000
    assert p.output.topics["medical_advice"].keywords[0] == "diagnosis"
    same = tmp_path / "same.yaml"
    same.write_text("# comment\n" + EXAMPLE.read_text(), encoding="utf-8")
    assert load_guard_policy(same).sha256 == p.sha256
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE.read_text().replace("chars: 4000", "chars: 4001"))
    assert load_guard_policy(changed).sha256 != p.sha256


def test_dict_and_yaml_text_and_booleans() -> None:
    p = load_guard_policy({"name": "x", "input": {"pii": True, "injection": False}})
    assert p.input.pii is not None and p.input.injection is None
    q = load_guard_policy("name: y\ninput:\n  refusal: true\n")
    assert q.name == "y" and q.input.refusal is not None
    assert isinstance(q, GuardPolicy)


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("name: a\ninput:\n  pii:\n    actoin: redact\n",
     r"input\.pii: unknown key 'actoin' \(line 4\); did you mean 'action'\?$"),
    ("name: a\noutput:\n  injection:\n    threshold: 2\n",
     r"output\.injection\.threshold: input should be less than or equal to 1, got 2 "
     r"\(line 4\)$"),
    ("name: a\ninput:\n  pii:\n    mode: blur\n",
     r"input\.pii\.mode: an unknown mode 'blur' \(line 4\); use one of mask, placeholder, "
     r"hash, tokenize$"),
    ("name: a\ninput:\n  pii:\n    types: [EMAIL, PASSPORT]\n",
     r"input\.pii\.types\[1\]: an unknown PII type 'PASSPORT' \(line 4\); use one of EMAIL, "),
    ("name: a\nstages: {}\n", r"guard\.yaml: top level: unknown key 'stages' \(line 2\); "
     r"known keys: name, description, fallback_message"),
    ("name: a\noutput:\n  regexes:\n    - name: r\n      pattern: '(a+)+$'\n",
     r"output\.regexes\[0\]\.pattern: nested quantifiers .* \(line 5\)"),
    ("name: a\noutput:\n  regexes:\n    - name: r\n      pattern: '(unclosed'\n",
     r"output\.regexes\[0\]\.pattern: not a valid regular expression"),
    ("name: a\noutput:\n  json_schema:\n    schema: {type: 12}\n",
     r"output\.json_schema\.schema: not a valid JSON schema"),
    ("name: a\nmax_input_bytes: 0\n",
     r"max_input_bytes: .*greater than or equal to 1, got 0 \(line 2\)$"),
    ("name: a\ninput:\n  ner:\n    backend: not-an-import-path\n",
     r"input\.ner\.backend: string should match pattern .*, got 'not-an-import-path' "
     r"\(line 4\)$"),
    ("name: a\ninput: [1, 2\n", r"guard\.yaml: malformed YAML: .* \(line \d\)$"),
    ("name: a\ninput:\n  pii: {}\n  pii: {}\n", r"input: duplicate key 'pii' \(line 4\)$"),
    ("name: a\ninput:\n  pii: &p {}\noutput:\n  pii: *p\n",
     r"guard\.yaml: YAML anchors and aliases .* are not allowed \(line 3\)$"),
    ("name: a\ninput:\n  pii: {actoin: redact}\noutput:\n  injection: {threshold: 2}\n",
     r"input\.pii: unknown key 'actoin' \(line 3\); did you mean 'action'\? \| "
     r"output\.injection\.threshold: input should be less than or equal to 1, got 2 "
     r"\(line 5\)$"),
    ("name: a\noutput:\n  json_schema:\n    schema: missing-schema.json\n",
     r"output\.json_schema\.schema: no such JSON schema file: missing-schema\.json \(line 4\)"),
    ("- just\n- a list\n", r"guard\.yaml: expected a mapping of guard settings \(name, input, "
     r"output\), got a list \(line 1\)$"),
])
def test_bad_policies_name_the_key_and_line(tmp_path: Path, yaml_text: str, message: str
                                            ) -> None:
    path = tmp_path / "guard.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_guard_policy(path)


def test_missing_and_empty_policies(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        load_guard_policy("nope.yaml")
    assert str(info.value) == NO_SUCH_FILE.format(what="guard policy file", path="nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    with pytest.raises(UsageError, match=r"empty\.yaml: expected a mapping of .*, got an empty "
                                         r"document$"):
        load_guard_policy(empty)
    with pytest.raises(UsageError, match=r"^<guard policy>: top level: unknown key 'bogus'; "):
        load_guard_policy({"bogus": 1})


def test_unknown_stage_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown stage 'middle'"):
        Guard("default").check("hi", stage="middle")  # type: ignore[arg-type]
