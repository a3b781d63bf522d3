"""The `approvals:` block of a policy and the token configuration it is checked against."""

from __future__ import annotations

import pytest

from airlock._config import (
    MSG_TOKEN_ENTRY,
    MSG_TOKEN_ROLE,
    MSG_TOKEN_TWICE,
    MSG_TOKENS_BOTH,
    access_tokens,
    roles_of,
)
from airlock.errors import UsageError
from airlock.gates import ApprovalPolicy, load_policy

RULES = "name: p\nrules:\n  - metric: roc_auc\n    min: 0.6\n"


def test_approvals_parse_with_defaults_and_change_the_sha() -> None:
    plain = load_policy(RULES)
    full = load_policy(RULES + "approvals: {count: 2, not_author: false, roles: [approver]}\n")
    default = load_policy(RULES + "approvals: {}\n")
    assert plain.approvals is None and "approvals" not in plain.canonical
    assert full.approvals == ApprovalPolicy(count=2, not_author=False, roles=("approver",))
    assert default.approvals == ApprovalPolicy(count=1, not_author=True, roles=())
    assert len({plain.sha256, full.sha256, default.sha256}) == 3
    assert full.to_dict()["approvals"] == {"count": 2, "not_author": False,
                                           "roles": ["approver"]}
    # written differently, same requirement: same sha256
    same = load_policy(RULES + "approvals:\n  roles: approver\n  count: 2\n  not_author: false\n")
    assert same.sha256 == full.sha256


@pytest.mark.parametrize(("block", "message"), [
    ("approvals: {count: 0}", "policy: approvals (line 5): `count` must be a whole number >= 1 "
                              "(got 0)"),
    ("approvals: {not_author: maybe}", "policy: approvals (line 5): `not_author` must be true "
                                       "or false (got 'maybe')"),
    ("approvals: {roles: [boss]}", "policy: approvals (line 5): unknown role 'boss' (roles: "
                                   "viewer, developer, approver, admin)"),
    ("approvals: {cnt: 1}", "policy: approvals (line 5): unknown key 'cnt' in `approvals` "
                            "(allowed: count, not_author, roles)"),
    ("approvals: 1", "policy: approvals (line 5): must be a mapping like {count: 1, "
                     "not_author: true, roles: [approver]}"),
])
def test_bad_approvals_name_the_key_and_line(block: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        load_policy(RULES + block + "\n")
    assert str(info.value) == message


def test_tokens_entries_roles_and_legacy_form() -> None:
    env = {"AIRLOCK_TOKENS": "alice:developer=a=1,bob:approver+viewer=b2\ncarol:admin=c3"}
    tokens = access_tokens(env)
    assert [(e.actor, sorted(e.roles)) for e in tokens.entries] == [
        ("alice", ["developer"]), ("bob", ["approver", "viewer"]), ("carol", ["admin"])]
    found = tokens.find("a=1")
    assert found is not None and found.actor == "alice" and found.can("promote")
    assert not found.can("approve") and tokens.find("nope") is None and tokens.find("") is None
    assert "a=1" not in repr(tokens)  # a token never shows in a repr
    assert roles_of("bob", env) == {"approver", "viewer"} and roles_of("zed", env) == set()
    legacy = access_tokens({"AIRLOCK_UI_TOKENS": "alice=t1,bot=t2"})
    assert legacy.variable == "AIRLOCK_UI_TOKENS"
    assert [sorted(e.roles) for e in legacy.entries] == [["admin"], ["admin"]]


@pytest.mark.parametrize(("env", "message"), [
    ({"AIRLOCK_TOKENS": "a:developer=x,b=y"},
     MSG_TOKEN_ENTRY.format(var="AIRLOCK_TOKENS", n=2)),
    ({"AIRLOCK_TOKENS": "a:boss=x"},
     MSG_TOKEN_ROLE.format(var="AIRLOCK_TOKENS", n=1, role="boss")),
    ({"AIRLOCK_TOKENS": "a:viewer=x,b:viewer=x"}, MSG_TOKEN_TWICE.format(var="AIRLOCK_TOKENS")),
    ({"AIRLOCK_TOKENS": "a:viewer=x", "AIRLOCK_UI_TOKENS": "a=y"}, MSG_TOKENS_BOTH),
])
def test_bad_tokens_name_the_entry_never_the_secret(env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        access_tokens(env)
    assert str(info.value) == message and "=x" not in str(info.value)
