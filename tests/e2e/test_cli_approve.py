"""`airlock approve` and `airlock promote` with two actors, as real CLI subprocesses: the
author cannot approve, an actor without the policy's role cannot either, a second actor with
it can, and only then does the protected alias move; an override records what was missing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression

import airlock
from airlock.gates._approvals import (
    MSG_NO_APPROVALS,
    MSG_NO_DECISION,
    MSG_NOT_PROTECTED,
    MSG_OWN_VERSION,
    MSG_ROLE,
)
from airlock.gates._promote import MSG_NEEDS_APPROVAL
from airlock.store import close_stores

from .test_cli import AIRLOCK, one_line_error

NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
POLICY = """name: release
rules:
  - metric: roc_auc
    min: 0.6
approvals:
  count: 1
  not_author: true
  roles: [approver]
"""
NO_APPROVALS = "name: plain\nrules:\n  - metric: roc_auc\n    min: 0.6\n"
TOKENS = "bob:approver=tok-bob-approver,carol:developer=tok-carol-dev"


def run(*args: str, home: Path, actor: str, tokens: str | None = TOKENS
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home), "AIRLOCK_ACTOR": actor, "COLUMNS": "200"}
    for var in ("AIRLOCK_STORE_URI", "AIRLOCK_TOKENS", "AIRLOCK_UI_TOKENS"):
        env.pop(var, None)
    if tokens is not None:
        env["AIRLOCK_TOKENS"] = tokens
    return subprocess.run([AIRLOCK, *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


@pytest.fixture
def gated(airlock_home: Path, adult_sample: Any, tmp_path: Path) -> dict[str, Any]:
    """Two versions registered by `tester`; version 1 evaluated and passing under POLICY,
    which protects m@production; version 2 never evaluated."""
    df = adult_sample.with_columns((pl.col("income") == ">50K").cast(pl.Int64))
    X = df.head(1200).select(NUMERIC).to_pandas()
    y = df.head(1200)["income"].to_numpy()
    for _ in range(2):
        airlock.register_model("m", LogisticRegression(max_iter=300).fit(X, y),
                               input_example=X[:5])
    policy = tmp_path / "release.yaml"
    policy.write_text(POLICY)
    ev = airlock.evaluate("m@1", df.tail(600), target="income", policy=policy, bootstrap=0)
    assert ev.passed
    airlock.protect("m", "production", policy)
    close_stores()
    (tmp_path / "plain.yaml").write_text(NO_APPROVALS)
    return {"policy": policy, "dir": tmp_path}


def test_promotion_needs_a_second_actor_with_the_role(gated: dict[str, Any],
                                                      airlock_home: Path) -> None:
    home = airlock_home
    # a passing decision alone is not enough
    refused = run("promote", "m@1", "--to", "production", home=home, actor="carol")
    assert one_line_error(refused, 1) == "error: " + MSG_NEEDS_APPROVAL.format(
        name="m", version=1, policy="release", alias="production", valid=0, required=1,
        what="1 approval with role approver, not the author")
    # the author (who registered the version) cannot approve it
    own = run("approve", "m@1", "--alias", "production", home=home, actor="tester",
              tokens="tester:approver=tok-tester")
    assert one_line_error(own) == "error: " + MSG_OWN_VERSION.format(
        actor="tester", name="m", version=1, how="registered it", policy="release")
    # a developer's approval does not count under `roles: [approver]`
    dev = run("approve", "m@1", "--alias", "production", home=home, actor="carol")
    assert one_line_error(dev) == "error: " + MSG_ROLE.format(
        actor="carol", policy="release", wanted="approver", has="role developer")
    nobody = run("approve", "m@1", "--alias", "production", home=home, actor="dave")
    assert one_line_error(nobody) == "error: " + MSG_ROLE.format(
        actor="dave", policy="release", wanted="approver", has="none")
    # bob, an approver, approves: an audit event with actor, comment and the decision
    ok = run("approve", "m@1", "--alias", "production", "--comment", "reviewed the slices",
             "--json", home=home, actor="bob")
    assert ok.returncode == 0, ok.stderr
    approval = json.loads(ok.stdout)
    assert approval["actor"] == "bob" and approval["changed"] is True
    assert approval["comment"] == "reviewed the slices" and approval["roles"] == ["approver"]
    assert approval["decision"].startswith("dc-") and approval["authors"] == ["tester"]
    again = run("approve", "m@1", "--alias", "production", "--json", home=home, actor="bob")
    assert json.loads(again.stdout)["changed"] is False and again.returncode == 0
    # now promotion passes, and says by whom it was approved
    moved = run("promote", "m@1", "--to", "production", "--json", home=home, actor="carol")
    assert moved.returncode == 0, moved.stderr
    out = json.loads(moved.stdout)
    assert out["decision"] == approval["decision"] and out["approved_by"] == ["bob"]
    events = json.loads(run("events", "--json", home=home, actor="carol").stdout)
    recorded = [e for e in events if e["action"] == "approval.recorded"]
    assert len(recorded) == 1 and recorded[0]["actor"] == "bob"
    assert recorded[0]["payload"]["decision"] == approval["decision"]
    assert recorded[0]["payload"]["comment"] == "reviewed the slices"
    moves = [e for e in events if e["action"] in ("alias.set", "alias.moved")]
    assert moves[-1]["actor"] == "carol" and moves[-1]["payload"]["to"] == 1


def test_nothing_to_approve_and_override_records_missing_approvals(
        gated: dict[str, Any], airlock_home: Path) -> None:
    home = airlock_home
    none = run("approve", "m@2", "--alias", "production", home=home, actor="bob")
    assert one_line_error(none) == "error: " + MSG_NO_DECISION.format(
        name="m", version=2, policy="release", alias="production")
    unprotected = run("approve", "m@1", "--alias", "staging", home=home, actor="bob")
    assert one_line_error(unprotected) == "error: " + MSG_NOT_PROTECTED.format(
        name="m", alias="staging")
    # a malformed token configuration is named by position, never shown
    bad = run("approve", "m@1", "--alias", "production", home=home, actor="bob",
              tokens="bob:approver")
    assert one_line_error(bad) == ("error: AIRLOCK_TOKENS entry 1 is not ACTOR:ROLE=TOKEN: "
                                   "write entries such as alice:developer=TOKEN or "
                                   "bob:approver+viewer=TOKEN, separated by commas")
    # version 1 passes but nobody approved: an override says which approvals were missing
    forced = run("promote", "m@1", "--to", "production", "--override", "--reason",
                 "incident 7", "--json", home=home, actor="carol")
    assert forced.returncode == 0, forced.stderr
    missing = json.loads(forced.stdout)["override"]["missing_approvals"]
    assert missing["required"] == 1 and missing["valid"] == 0
    assert missing["decision"].startswith("dc-")
    assert missing["policy"] == {"count": 1, "not_author": True, "roles": ["approver"]}
    events = json.loads(run("events", "--json", home=home, actor="carol").stdout)
    override = [e for e in events if e["action"] == "promotion.override"]
    assert override[-1]["actor"] == "carol"
    assert override[-1]["payload"]["missing_approvals"] == missing
    # a policy without approvals has nothing to approve
    swap = run("models", "protect", "m", "production", "--policy",
               str(gated["dir"] / "plain.yaml"), "--replace", home=home, actor="carol")
    assert swap.returncode == 0, swap.stderr
    plain = run("approve", "m@1", "--alias", "production", home=home, actor="bob")
    assert one_line_error(plain) == "error: " + MSG_NO_APPROVALS.format(
        policy="plain", name="m", alias="production", version=1)
