"""The proxy-discrimination rule: a listed column is not among the top-k features of the
permutation importance, or its importance is under a bound."""

from __future__ import annotations

from typing import Any

import pytest

from airlock.errors import UsageError
from airlock.gates import ImportanceRule, decide, load_policy
from airlock.gates._decide import MSG_NO_IMPORTANCE
from airlock.gates._parse import MSG_IMPORTANCE_BOUND

POLICY = """name: proxy
rules:
  - importance: [sex, race]
    not_in_top: 2
    max: 0.01
"""


def _evaluation(importances: dict[str, float] | None) -> dict[str, Any]:
    ev: dict[str, Any] = {"id": "ev-1", "task": "binary", "overall": {}, "model": {}}
    if importances is not None:
        ranked = sorted(importances, key=lambda f: -importances[f])
        ev["importance"] = {"metric": "roc_auc", "features": {
            f: {"value": importances[f], "ci_low": importances[f] - 0.001,
                "ci_high": importances[f] + 0.001, "rank": ranked.index(f) + 1}
            for f in ranked}}
    return ev


def test_parse_text_and_sha() -> None:
    p = load_policy(POLICY)
    rule = p.rules[0]
    assert isinstance(rule, ImportanceRule) and p.needs_importance
    assert rule.features == ("sex", "race") and rule.not_in_top == 2 and rule.max == 0.01
    assert rule.text == "sex, race: not in the top 2 and importance <= 0.01 of the features"
    assert "- importance:\n  - sex\n  - race\n" in p.canonical
    assert load_policy(POLICY.replace("max: 0.01", "max: 0.02")).sha256 != p.sha256


@pytest.mark.parametrize(("rule", "message"), [
    ("  - importance: sex\n", f"policy: rule 1 (line 3): {MSG_IMPORTANCE_BOUND}"),
    ("  - importance: sex\n    not_in_top: 0\n",
     "policy: rule 1 (line 4): `not_in_top` must be a whole number >= 1 (got 0)"),
    ("  - importance: sex\n    min: 1\n",
     "policy: rule 1 (line 4): unknown key 'min' in a importance rule (allowed: importance, "
     "max, not_in_top, severity, use)"),
])
def test_bad_importance_rules(rule: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        load_policy("name: p\nrules:\n" + rule)
    assert str(info.value) == message


def test_decide_ranks_bounds_and_missing_importance() -> None:
    p = load_policy(POLICY)
    ok = decide(_evaluation({"age": 0.05, "education": 0.03, "sex": 0.004, "race": 0.001}), p)
    assert ok.passed and ok.rules[0].value == 0.004
    top = decide(_evaluation({"sex": 0.009, "age": 0.05, "race": 0.0}), p)  # sex ranks 2
    assert not top.passed
    rows = {r["feature"]: r for r in top.rules[0].evidence["features"]}
    assert rows["sex"]["rank"] == 2 and not rows["sex"]["passed"] and rows["race"]["passed"]
    big = decide(_evaluation({"a": 0.5, "b": 0.4, "c": 0.3, "sex": 0.02, "race": 0.0}), p)
    assert not big.passed and big.rules[0].value == 0.02 and big.rules[0].bound == 0.01
    high = load_policy(POLICY.replace("max: 0.01", "max: 0.01\n    use: ci_high"))
    assert not decide(_evaluation({"a": 0.5, "b": 0.4, "c": 0.3, "sex": 0.0095,
                                   "race": 0.0}), high).passed  # ci_high 0.0105
    none = decide(_evaluation(None), p)
    assert not none.passed and none.rules[0].evidence["reason"] == MSG_NO_IMPORTANCE
    absent = decide(_evaluation({"age": 0.1, "sex": 0.0}), p)
    assert absent.rules[0].evidence["reason"] == ("'race' is not an input feature of the "
                                                  "model (its features: age, sex)")
