"""Gates against both metadata backends: recorded decisions, protected aliases, promotion
through a passing decision or an audited override, and the audit trail they leave."""

from __future__ import annotations

from typing import Any

import pytest

import airlock
from airlock.errors import CheckFailed, NotFound, UsageError
from airlock.gates import Decision, decision_id, gate, load_policy, promote, protect
from airlock.gates._promote import MSG_ALREADY_PROTECTED
from airlock.store import get_store

NAME = "m"
RELEASE = """\
name: release
rules:
  - metric: roc_auc
    min: 0.85
  - fairness: demographic_parity_ratio
    feature: sex
    min: 0.3
  - metric: ece
    max: 0.05
    use: ci_high
    severity: warn
"""
# the same rules under another name: another sha256, so another policy
OTHER = RELEASE.replace("name: release", "name: other")


def score(df: Any) -> Any:
    """A model by reference: the cheapest thing to register."""
    return df["x"] * 2


def ci(value: float) -> dict[str, float]:
    return {"value": value, "ci_low": value - 0.01, "ci_high": value + 0.01}


def store_evaluation(version: int, *, auc: float, eval_id: str | None = None,
                     baseline: bool = False) -> str:
    """Store a hand-built binary evaluation of m@version; returns its id."""
    eval_id = eval_id or f"ev-{version}-{int(auc * 1000)}"
    result = {
        "id": eval_id,
        "model": {"ref": f"{NAME}@{version}", "name": NAME, "version": version,
                  "sha256": f"{version:064d}"},
        "dataset": {"name": "test", "digest": "d" * 64, "rows": 1000,
                    "schema": {"x": "float64", "sex": "string", "y": "int64"}},
        "task": "binary", "target": "y",
        "config": {"threshold": 0.5, "bootstrap": 100, "seed": 0, "confidence": 0.95,
                   "min_support": 30, "slices": [], "sensitive": ["sex"]},
        "support": 1000,
        "higher_is_better": {"roc_auc": True, "ece": False},
        "overall": {"roc_auc": ci(auc), "ece": ci(0.02)},
        "slices": {},
        "fairness": {"sex": {"by_group": {}, "disparities": {
            "demographic_parity_ratio": ci(0.4)}}},
        "baseline": None if not baseline else {
            "model": {"ref": f"{NAME}@1"},
            "deltas": {"roc_auc": {"candidate": auc, "baseline": 0.9, "delta": auc - 0.9,
                                   "ci_low": None, "ci_high": None, "p_value": 0.5}},
            "regressed_slices": []},
    }
    get_store().evaluations.save(eval_id=eval_id, name=NAME, version=version,
                                 model_sha256=f"{version:064d}", task="binary", result=result,
                                 dataset=None)
    return eval_id


@pytest.fixture
def versions(backend: str) -> list[int]:
    """Three versions of model m; production points at version 1 before protection."""
    made = [airlock.register_model(NAME, score).version for _ in range(3)]
    airlock.set_alias(f"{NAME}@1", "production")
    return made


def alias_of(alias: str) -> int:
    return airlock.get_model_version(f"{NAME}@{alias}").version


def actions() -> list[str]:
    return [e.action for e in airlock.list_events(subject=f"models/{NAME}")]


# -- gate ----------------------------------------------------------------------------------
def test_gate_records_the_decision_once(versions: list[int]) -> None:
    ev_id = store_evaluation(2, auc=0.9)
    policy = load_policy(RELEASE)
    decision = gate(ev_id, policy)
    assert isinstance(decision, Decision)
    assert decision.passed and decision.id == decision_id(ev_id, policy.sha256)
    assert [r.status for r in decision.rules] == ["pass", "pass", "pass"]
    # idempotent: by id, by the evaluation dict, by an object with an id, by YAML text
    assert gate({"id": ev_id}, RELEASE) == decision
    assert gate(type("Evaluation", (), {"id": ev_id})(), policy) == decision
    stored = get_store().evaluations.decisions(NAME, 2)
    assert len(stored) == 1
    row = stored[0]
    assert (row["id"], row["evaluation_id"], row["passed"]) == (decision.id, ev_id, True)
    assert (row["policy_name"], row["policy_sha256"]) == ("release", policy.sha256)
    assert row["result"] == decision.to_dict()
    assert row["created_by"] == "tester"
    assert actions().count("decision.recorded") == 1
    assert get_store().evaluations.decisions(NAME, 1) == []


def test_gate_decides_what_was_stored_not_what_was_passed(versions: list[int]) -> None:
    ev_id = store_evaluation(2, auc=0.7)
    doctored = {"id": ev_id, "overall": {"roc_auc": ci(0.99)}}
    decision = gate(doctored, RELEASE)
    assert not decision.passed
    assert decision.failed[0].value == 0.7
    (row,) = get_store().evaluations.decisions(NAME, 2)
    assert row["passed"] is False


def test_gate_refuses_an_inapplicable_policy_before_recording(versions: list[int]) -> None:
    ev_id = store_evaluation(2, auc=0.9)
    with pytest.raises(UsageError, match=r"rule 1 \(line 3\) .*no baseline was given"):
        gate(ev_id, "name: b\nrules:\n  - {metric: roc_auc, max_drop: 0.01}\n")
    with pytest.raises(UsageError, match="feature 'race' is not a column of the data"):
        gate(ev_id, "name: f\nrules:\n  - {fairness: demographic_parity_ratio, feature: race,"
                    " min: 0.1}\n")
    with pytest.raises(UsageError, match="mae is not a metric of a binary task"):
        gate(ev_id, "name: r\nrules:\n  - {metric: mae, max: 1}\n")
    assert get_store().evaluations.decisions(NAME) == []


def test_gate_with_a_baseline_rule(versions: list[int]) -> None:
    ev_id = store_evaluation(2, auc=0.88, baseline=True)
    decision = gate(ev_id, "name: b\nrules:\n  - {metric: roc_auc, max_drop: 0.01}\n")
    assert decision.passed  # dropped 0.02, but p = 0.5: not significant
    assert decision.rules[0].evidence["baseline_model"] == f"{NAME}@1"


def test_gate_unknown_evaluation_and_bad_arguments(versions: list[int]) -> None:
    with pytest.raises(NotFound, match="evaluation not found: ev-nope"):
        gate("ev-nope", RELEASE)
    with pytest.raises(UsageError, match="evaluation id"):
        gate({"overall": {}}, RELEASE)


# -- protect and promote ------------------------------------------------------------------------
def test_a_protected_alias_moves_only_with_a_passing_decision(versions: list[int]) -> None:
    policy = load_policy(RELEASE)
    out = protect(NAME, "production", policy)
    assert out == {"name": NAME, "alias": "production", "policy": "release",
                   "policy_sha256": policy.sha256, "replaced": None, "changed": True}
    guard = get_store().evaluations.protection(NAME, "production")
    assert guard is not None and guard["policy"] == RELEASE
    assert guard["policy_sha256"] == policy.sha256

    def refused(match: str, **kw: Any) -> None:
        before = actions()
        with pytest.raises(CheckFailed, match=match):
            promote(f"{NAME}@2", "production", **kw)
        assert alias_of("production") == 1  # nothing moved
        assert [a for a in actions()[len(before):] if a.startswith("alias.")] == []

    # a plain alias move is refused
    with pytest.raises(CheckFailed, match=r"m@production is protected by a policy"):
        airlock.set_alias(f"{NAME}@2", "production")
    # no decision at all
    refused(r"m@2 has no passing decision under policy 'release' protecting m@production")
    # a failing decision for this version
    failing = gate(store_evaluation(2, auc=0.7), policy)
    assert not failing.passed
    refused(rf"m@2 failed policy 'release' protecting m@production \(decision {failing.id}: "
            r"rule 1 `roc_auc >= 0.85` failed\)")
    # a passing decision for ANOTHER version does not count
    assert gate(store_evaluation(3, auc=0.95), policy).passed
    refused("m@2 failed policy 'release'")
    # a passing decision for this version under a different policy does not count
    assert gate(store_evaluation(2, auc=0.95, eval_id="ev-2-other"), OTHER).passed
    refused(r"m@2 failed policy 'release'")

    # finally a passing decision for this version under the protecting policy
    passing = gate(store_evaluation(2, auc=0.9), policy)
    assert passing.passed
    moved = promote(f"{NAME}@2", "production")
    assert moved == {"name": NAME, "alias": "production", "from": 1, "to": 2,
                     "policy_sha256": policy.sha256, "decision": passing.id,
                     "protected": True}
    assert alias_of("production") == 2

    history = airlock.alias_history(NAME)
    assert [(e.action, e.payload.get("from"), e.payload.get("to")) for e in history] == [
        ("alias.set", None, 1), ("alias.protected", None, None), ("alias.moved", 1, 2)]
    last = history[-1]
    assert last.payload["decision"] == passing.id
    assert last.payload["policy_sha256"] == policy.sha256
    assert last.actor == "tester"
    assert airlock.list_events(subject=f"models/{NAME}", action="promotion.") == []
    assert airlock.verify_events().ok


def test_no_decision_message_mentions_a_decision_under_another_policy(
        versions: list[int]) -> None:
    protect(NAME, "production", RELEASE)
    gate(store_evaluation(2, auc=0.95), OTHER)
    with pytest.raises(CheckFailed, match=r"no passing decision under policy 'release'.*"
                                          r"a passing decision exists under a different "
                                          r"policy, 'other'"):
        promote(f"{NAME}@2", "production")


def test_override_needs_a_reason_and_is_audited(versions: list[int]) -> None:
    policy = load_policy(RELEASE)
    protect(NAME, "production", policy)
    failing = gate(store_evaluation(2, auc=0.7), policy)
    for reason in (None, "", "   "):
        with pytest.raises(UsageError, match="--override needs a non-empty --reason"):
            promote(f"{NAME}@2", "production", override=True, reason=reason)
    with pytest.raises(UsageError, match="--reason is only recorded with --override"):
        promote(f"{NAME}@2", "production", reason="because")
    assert alias_of("production") == 1

    out = promote(f"{NAME}@2", "production", override=True, reason="  hotfix for INC-42 ")
    assert alias_of("production") == 2
    expected_rules = [{"decision": failing.id, "index": 1, "text": "roc_auc >= 0.85",
                       "value": 0.7, "bound": 0.85, "severity": "fail", "reason": None}]
    assert out["override"] == {"reason": "hotfix for INC-42", "failing_rules": expected_rules}
    assert out["from"] == 1 and out["to"] == 2 and out["protected"] is True

    (event,) = airlock.list_events(subject=f"models/{NAME}", action="promotion.override")
    assert event.actor == "tester"
    assert event.payload == {"alias": "production", "version": 2,
                             "reason": "hotfix for INC-42", "failing_rules": expected_rules}
    moved = airlock.alias_history(NAME)[-1]
    assert moved.action == "alias.moved"
    assert moved.payload["override"]["reason"] == "hotfix for INC-42"
    assert "decision" not in moved.payload
    assert airlock.verify_events().ok


def test_override_without_any_decision_records_no_failing_rules(versions: list[int]) -> None:
    protect(NAME, "production", RELEASE)
    out = promote(f"{NAME}@3", "production", override=True, reason="emergency rollback")
    assert out["override"] == {"reason": "emergency rollback", "failing_rules": []}
    assert alias_of("production") == 3
    (event,) = airlock.list_events(action="promotion.override")
    assert event.payload["failing_rules"] == []


def test_override_uses_the_newest_decision_under_the_policy(versions: list[int]) -> None:
    protect(NAME, "production", RELEASE)
    gate(store_evaluation(2, auc=0.8), RELEASE)
    newest = gate(store_evaluation(2, auc=0.6), RELEASE)
    gate(store_evaluation(2, auc=0.1, eval_id="ev-other-policy"), OTHER)
    out = promote(f"{NAME}@2", "production", override=True, reason="known issue")
    assert [(r["decision"], r["value"]) for r in out["override"]["failing_rules"]] == [
        (newest.id, 0.6)]


def test_promote_to_an_unprotected_alias_just_sets_it(versions: list[int]) -> None:
    out = promote(f"{NAME}@2", "staging")
    assert out == {"name": NAME, "alias": "staging", "from": None, "to": 2,
                   "protected": False}
    assert promote(f"{NAME}@staging", "candidate")["to"] == 2  # a reference by alias
    assert promote(f"{NAME}@3", "staging")["from"] == 2
    with pytest.raises(UsageError, match="m@staging is not protected by a policy"):
        promote(f"{NAME}@1", "staging", override=True, reason="why not")
    assert alias_of("staging") == 3
    assert [e.action for e in airlock.alias_history(NAME)] == [
        "alias.set", "alias.set", "alias.set", "alias.moved"]


def test_protect_and_promote_errors(versions: list[int]) -> None:
    with pytest.raises(NotFound, match="model not found: ghost"):
        protect("ghost", "production", RELEASE)
    with pytest.raises(UsageError, match="invalid alias '3'"):
        protect(NAME, "3", RELEASE)
    with pytest.raises(UsageError, match="invalid alias 'pro duction'"):
        promote(f"{NAME}@2", "pro duction")
    with pytest.raises(UsageError, match=r"rule 1 \(line 3\): needs `min` or `max`"):
        protect(NAME, "production", "name: x\nrules:\n  - {metric: roc_auc}\n")
    assert get_store().evaluations.protection(NAME, "production") is None
    protect(NAME, "production", RELEASE)
    with pytest.raises(NotFound, match="model version not found: m@9"):
        promote(f"{NAME}@9", "production")
    assert alias_of("production") == 1


def test_reprotecting_with_another_policy_invalidates_old_decisions(
        versions: list[int]) -> None:
    protect(NAME, "production", RELEASE)
    assert gate(store_evaluation(2, auc=0.9), RELEASE).passed
    protect(NAME, "production", OTHER, replace=True)  # old decisions no longer count
    with pytest.raises(CheckFailed, match="no passing decision under policy 'other'"):
        promote(f"{NAME}@2", "production")
    assert gate(store_evaluation(2, auc=0.9, eval_id="ev-again"), OTHER).passed
    assert promote(f"{NAME}@2", "production")["to"] == 2
    assert [e.action for e in airlock.alias_history(NAME)] == [
        "alias.set", "alias.protected", "alias.protected", "alias.moved"]
    assert airlock.verify_events().ok


def test_changing_the_policy_of_a_protected_alias_needs_replace(versions: list[int]) -> None:
    """Issue 12 item 19: protecting again with another policy swapped it silently and the
    event recorded only the new sha256."""
    release, other = load_policy(RELEASE), load_policy(OTHER)
    protect(NAME, "production", release)
    expected = MSG_ALREADY_PROTECTED.format(name=NAME, alias="production", policy="release",
                                            sha=release.sha256[:12], new="other",
                                            new_sha=other.sha256[:12])
    with pytest.raises(UsageError) as refused:
        protect(NAME, "production", other)
    assert str(refused.value) == expected
    guard = get_store().evaluations.protection(NAME, "production")
    assert guard is not None and guard["policy_sha256"] == release.sha256  # unchanged
    same = protect(NAME, "production", RELEASE)  # the same policy again: nothing to change
    assert same["changed"] is False and same["replaced"] is None
    out = protect(NAME, "production", other, replace=True)
    assert out["changed"] is True and out["replaced"] == release.sha256
    events = airlock.list_events(subject=f"models/{NAME}", action="alias.protected")
    assert [e.payload for e in events] == [
        {"alias": "production", "policy_sha256": release.sha256},
        {"alias": "production", "policy_sha256": other.sha256,
         "previous_policy_sha256": release.sha256}]
    assert airlock.verify_events().ok


def test_a_concurrent_policy_change_is_refused_not_lost(versions: list[int]) -> None:
    """The store swaps a protection only if the policy in force is still the one the caller
    saw: of two concurrent replacements one wins, the other is refused."""
    release, other = load_policy(RELEASE), load_policy(OTHER)
    protect(NAME, "production", release)
    evals = get_store().evaluations
    evals.protect(NAME, "production", other.text, other.sha256, previous=release.sha256)
    with pytest.raises(UsageError, match="changed while it was being replaced"):
        evals.protect(NAME, "production", RELEASE, release.sha256, previous=release.sha256)
    guard = evals.protection(NAME, "production")
    assert guard is not None and guard["policy_sha256"] == other.sha256


def test_warnings_do_not_block_promotion(versions: list[int]) -> None:
    protect(NAME, "production", RELEASE)
    ev_id = store_evaluation(2, auc=0.9)
    stored = get_store().evaluations.get(ev_id)
    assert stored["overall"]["ece"]["ci_high"] == pytest.approx(0.03)
    strict = RELEASE.replace("max: 0.05", "max: 0.025")  # ece ci_high 0.03 now fails: a warning
    protect(NAME, "production", strict, replace=True)
    decision = gate(ev_id, strict)
    assert decision.passed and [w.index for w in decision.warnings] == [3]
    assert promote(f"{NAME}@2", "production")["decision"] == decision.id


def test_decision_results_round_trip_through_the_store(versions: list[int]) -> None:
    decision = gate(store_evaluation(2, auc=0.7), RELEASE)
    (row,) = get_store().evaluations.decisions(NAME, 2)
    assert row["result"] == decision.to_dict()
    assert row["result"]["passed"] is False and row["result"]["summary"]["failed"] == 1
    assert row["result"]["rules"][0]["evidence"] == {"value": 0.7, "ci_low": 0.69,
                                                     "ci_high": 0.71}
