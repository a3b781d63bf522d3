"""The prompt store on SQLite and PostgreSQL: versions and dedup, aliases, one namespace with
models, protection, stored LLM evaluations, decisions and gated promotion of a protected
prompt alias, every change in the audit chain (which verifies, aliases included)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

import airlock
from airlock.errors import CheckFailed, NotFound, UsageError
from airlock.prompts import prompt_history, register_prompt
from airlock.store import get_store
from airlock.store._subjects import AMBIGUOUS, NAME_TAKEN

pytestmark = pytest.mark.usefixtures("backend")

POLICY = "name: answers\nrules:\n  - {metric: token_f1, min: 0.8}\n"


def _register(template: str = "Q: {{ q }}") -> airlock.Prompt:
    return register_prompt("faq", template=template, variables={"q": "str"},
                           model_config={"model": "m"})


def _evaluation(version: int, sha: str, token_f1: float, ev_id: str) -> str:
    result = {"id": ev_id, "task": "llm", "model": "http://x/v1",
              "prompt": {"name": "faq", "version": version, "ref": f"faq@{version}",
                         "sha256": sha},
              "overall": {"token_f1": {"value": token_f1, "ci_low": None, "ci_high": None}}}
    get_store().evaluations.save(eval_id=ev_id, name="faq", version=version,
                                 model_sha256=sha, task="llm", result=result, dataset=None)
    return ev_id


def test_versions_dedup_and_aliases() -> None:
    store = get_store()
    v1 = _register()
    assert _register().version == 1  # same content: the same version, nothing written
    v2 = _register("Question: {{ q }}")
    assert (v1.version, v2.version) == (1, 2)
    got = store.prompts.get_version("faq", 2)
    assert (got.kind, got.template, got.variables, got.model_config) == (
        "text", "Question: {{ q }}", {"q": "str"}, {"model": "m"})
    airlock.set_alias("faq@1", "staging")
    airlock.set_alias("faq@2", "staging")
    assert airlock.load_prompt("faq@staging").version == 2
    assert store.prompts.list_prompts()[0].to_dict() | {"created_at": 0, "updated_at": 0} == {
        "name": "faq", "created_at": 0, "updated_at": 0, "latest_version": 2,
        "aliases": {"staging": 2}}
    assert store.prompts.delete_alias("faq", "staging") == 2
    with pytest.raises(NotFound, match="alias not found: faq@staging"):
        store.prompts.delete_alias("faq", "staging")
    actions = [(e.action, e.payload.get("from"), e.payload.get("to"))
               for e in prompt_history("faq")]
    assert actions == [("alias.set", None, 1), ("alias.moved", 1, 2), ("alias.removed", 2, None)]
    registered = store.events.list(subject="prompts/faq", action="prompt.registered")
    assert [e.payload for e in registered] == [
        {"version": 1, "kind": "text", "sha256": v1.sha256},
        {"version": 2, "kind": "text", "sha256": v2.sha256}]
    assert store.events.verify().ok


def test_models_and_prompts_share_one_namespace() -> None:
    _register()
    airlock.register_model("churn", lambda df: np.zeros(len(df)))
    with pytest.raises(UsageError) as err:
        register_prompt("churn", template="x")
    assert str(err.value) == NAME_TAKEN.format(name="churn", other="model")
    with pytest.raises(UsageError) as err:
        airlock.register_model("faq", lambda df: np.zeros(len(df)))
    assert str(err.value) == NAME_TAKEN.format(name="faq", other="prompt")
    assert [m.name for m in airlock.list_models()] == ["churn"]
    assert [p.name for p in airlock.list_prompts()] == ["faq"]
    # the name says which registry an alias goes to
    assert isinstance(airlock.set_alias("faq@1", "prod"), airlock.Prompt)
    assert airlock.set_alias("churn@1", "prod").flavor
    with pytest.raises(NotFound, match="model or prompt not found: ghost"):
        airlock.set_alias("ghost@1", "prod")
    # a name in both tables (a store edited by hand) is refused, never silently picked
    with get_store().engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO prompts (name, created_at, updated_at) "
                             "VALUES ('churn', 0, 0)"))
    with pytest.raises(UsageError) as err:
        airlock.set_alias("churn@1", "prod")
    assert str(err.value) == AMBIGUOUS.format(name="churn")
    with pytest.raises(UsageError, match="registered both as a model and as a prompt"):
        airlock.promote("churn@1", to="prod")


def test_protected_prompt_alias_moves_only_through_a_passing_decision() -> None:
    store = get_store()
    v1, v2 = _register(), _register("Answer: {{ q }}")
    from airlock.llm import load_llm_gate

    policy = load_llm_gate(POLICY)
    out = airlock.protect("faq", "production", POLICY)  # text: loaded as an LLM gate
    assert out["changed"] and store.evaluations.protection("faq", "production") is not None
    with pytest.raises(CheckFailed, match="faq@production is protected by a policy"):
        airlock.set_alias("faq@1", "production")
    with pytest.raises(CheckFailed, match="no passing decision"):
        airlock.promote("faq@1", to="production")

    bad = _evaluation(2, v2.sha256, 0.5, "llm-bad")
    good = _evaluation(1, v1.sha256, 0.9, "llm-good")
    assert [e["id"] for e in store.evaluations.list_for("faq")] == ["llm-bad", "llm-good"]
    assert store.evaluations.get("llm-good")["prompt"]["ref"] == "faq@1"
    failed = airlock.gate(bad, POLICY)  # a path or text: loaded with the LLM metrics
    assert not failed.passed and failed.model == "faq@2"
    with pytest.raises(CheckFailed) as err:
        airlock.promote("faq@2", to="production")
    assert "faq@2 failed policy 'answers' protecting faq@production" in str(err.value)
    assert "token_f1 >= 0.8" in str(err.value)
    passed = airlock.gate(good, POLICY)
    assert passed.passed
    assert airlock.gate(good, POLICY).id == passed.id  # idempotent
    assert [d["id"] for d in store.evaluations.decisions("faq", 1)] == [passed.id]

    moved = airlock.promote("faq@1", to="production")
    assert moved == {"name": "faq", "alias": "production", "from": None, "to": 1,
                     "policy_sha256": policy.sha256, "decision": passed.id, "protected": True}
    assert airlock.load_prompt("faq@production").version == 1
    over = airlock.promote("faq@2", to="production", override=True, reason="hotfix")
    assert over["override"]["reason"] == "hotfix"
    assert over["override"]["failing_rules"][0]["decision"] == failed.id
    history = prompt_history("faq")
    assert [e.action for e in history] == ["alias.protected", "alias.set", "alias.moved"]
    assert history[1].payload["decision"] == passed.id
    assert history[2].payload["override"]["reason"] == "hotfix"
    overrides = store.events.list(subject="prompts/faq", action="promotion.override")
    assert overrides[0].payload["reason"] == "hotfix"
    # nothing of this touched the models' tables
    assert store.evaluations.decisions("faq", 2)[0]["evaluation_id"] == "llm-bad"
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM decisions")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM evaluations")).scalar() == 0
    assert store.events.verify().ok


def test_an_edited_prompt_alias_is_caught_by_verify() -> None:
    _register()
    _register("v2 {{ q }}")
    airlock.set_alias("faq@1", "prod")
    store = get_store()
    assert store.events.verify().ok
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE prompt_aliases SET version = 2"))
    result = store.events.verify()
    assert not result.ok
    assert result.reason == ("alias faq@prod points at version 2 but the audit log last set "
                             "it to 1: the aliases table was edited outside airlock")


def test_an_evaluation_of_an_unknown_prompt_version_writes_nothing() -> None:
    v1 = _register()
    with pytest.raises(NotFound, match="prompt version not found: faq@5"):
        _evaluation(5, v1.sha256, 0.9, "llm-x")
    store = get_store()
    with pytest.raises(NotFound):
        store.evaluations.get("llm-x")
    assert store.events.list(action="evaluation.") == []


def test_concurrent_registrations_of_one_content_make_one_version() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        got: list[Any] = list(pool.map(lambda _: _register().version, range(8)))
    assert got == [1] * 8
    assert [v.version for v in get_store().prompts.list_versions("faq")] == [1]
