"""One reference grammar for models and prompts (``NAME``, ``NAME@VERSION``, ``NAME@ALIAS``),
each with its own type and the kind named in every message."""

from __future__ import annotations

from typing import Any

import pytest

from airlock.errors import UsageError
from airlock.prompts import PromptRef, parse_prompt_ref
from airlock.registry import ModelRef, parse_ref

KINDS = [(parse_ref, ModelRef, "model"), (parse_prompt_ref, PromptRef, "prompt")]


@pytest.mark.parametrize(("parse", "cls", "kind"), KINDS)
def test_both_kinds_parse_alike(parse: Any, cls: type, kind: str) -> None:
    assert parse("churn") == cls("churn") and str(parse("churn")) == "churn"
    three = parse("churn@3")
    assert (three.name, three.version, three.alias) == ("churn", 3, None)
    assert str(three) == "churn@3" and repr(three).startswith(f"{cls.__name__}(")
    prod = parse("churn@production")
    assert (prod.version, prod.alias, str(prod)) == (None, "production", "churn@production")
    assert parse(prod) is prod  # a parsed reference as it is
    bad = [("churn@@1", f"invalid {kind} reference 'churn@@1': expected NAME, "
                        "NAME@VERSION or NAME@ALIAS"),
           ("churn@", f"invalid {kind} reference 'churn@': nothing after '@'"),
           ("churn@0", f"invalid {kind} reference 'churn@0': versions start at 1"),
           ("bad name@1", f"invalid {kind} name 'bad name': letters, digits, '_', '.', '-' "
                          "(up to 256), starting with a letter or digit")]
    for text, message in bad:
        with pytest.raises(UsageError) as err:
            parse(text)
        assert str(err.value) == message


def test_a_model_reference_is_not_a_prompt_reference() -> None:
    assert ModelRef("x", 1) != PromptRef("x", 1)
    with pytest.raises(UsageError, match="invalid model reference"):
        parse_ref(PromptRef("x", 1))  # type: ignore[arg-type]
