"""The README's demo, run as a user runs it: a fresh store, two tracked runs, evaluation,
a gate and a promotion to a protected alias."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import airlock
import airlock.batch
import airlock.evidence
import airlock.store
from airlock.experiments import rollout_status

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo.py"
NAME = "adult-income"


@pytest.mark.slow
def test_demo_tracks_registers_and_promotes(airlock_home: Path) -> None:
    env = {**os.environ, "AIRLOCK_HOME": str(airlock_home)}
    proc = subprocess.run([sys.executable, str(DEMO)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout}\n{proc.stderr}"

    runs = airlock.search_runs(experiment=NAME)
    assert len(runs) == 2
    assert {r.status for r in runs} == {"FINISHED"}
    val_auc = {r.id: r.metrics["val_auc"] for r in runs}
    assert all(0.5 < auc <= 1.0 for auc in val_auc.values())

    versions = airlock.list_versions(NAME)
    assert [v.version for v in versions] == [1, 2, 3]
    broken = versions.pop()  # the rollout's deliberately broken candidate, no run
    assert broken.run_id is None and broken.flavor == "python"
    assert {v.run_id for v in versions} == set(val_auc)
    best = max(versions, key=lambda v: val_auc[v.run_id])
    assert airlock.get_model_version(f"{NAME}@staging").version == best.version

    for run in runs:
        detail = airlock.get_run(run.id)
        assert [i["name"] for i in detail.inputs] == ["adult-train"]
        assert detail.artifacts, "the demo logs a report artifact per run"

    # governance: both candidates evaluated and gated; production moved only through a
    # passing decision under the policy that protects it
    for v in versions:
        evals = airlock.store.get_store().evaluations.list_for(NAME, v.version)
        assert len(evals) == 1
        ev = airlock.get_evaluation(evals[0]["id"]).result
        assert set(ev["fairness"]) >= {"sex", "race"}
        assert "education" in ev["slices"] and ev["baseline"] is not None
        assert (airlock_home / "reports" / f"eval-{NAME}-{v.version}.html").is_file()
    production = airlock.get_model_version(f"{NAME}@production").version
    decisions = airlock.store.get_store().evaluations.decisions(NAME, production)
    assert decisions and decisions[-1]["passed"]
    moved = [e for e in airlock.alias_history(NAME) if e.payload["alias"] == "production"]
    assert moved[-1].payload["decision"] == decisions[-1]["id"]
    # ... and with the approval of a second actor (the demo's reviewer, not the author)
    assert moved[-1].payload["approved_by"] == ["reviewer"]
    approvals = airlock.approvals(f"{NAME}@{production}")
    assert [a["actor"] for a in approvals] == ["reviewer"]
    assert approvals[0]["decision"] == decisions[-1]["id"] and moved[-1].actor != "reviewer"
    card = (airlock_home / "reports" / f"card-{NAME}-{production}.md").read_text()
    prod_eval = airlock.store.get_store().evaluations.list_for(NAME, production)[0]["id"]
    assert prod_eval in card and "adult-release" in card and "passed" in card
    assert "Intended use: not recorded" not in card
    with pytest.raises(airlock.errors.CheckFailed):  # protected: no way around the gate
        airlock.set_alias(f"{NAME}@{production}", "production")

    # the data contract: both splits passed, the broken copy failed with examples
    validations = airlock.list_events(action="contract.")
    assert [e.payload["passed"] for e in validations] == [True, True, False]
    assert "range on age: 5 rows" in proc.stdout and "Alien" in proc.stdout
    assert any(r.text == "data contract 'adult-census' passes" and r.passed
               for r in airlock.gate(evals[0]["id"], ROOT / "examples" / "gate.yaml").rules)

    # batch scoring: the test split as a job, tracked, resumed with nothing left to do
    jobs = list(airlock.list_events(action="batch.finished"))
    assert len(jobs) == 2 and jobs[0].payload["job"] == jobs[1].payload["job"]
    status = airlock.batch.job_status(jobs[0].payload["job"])
    assert status.done == 2 and status.failed == 0 and status.rows + status.rejected > 16000
    assert "the same job again: 2 files already scored, 0 scored now" in proc.stdout
    assert (airlock_home / "reports" / "batch" / "scores.profile").is_file()

    # prompts: registered and aliased like a model
    prompt = airlock.load_prompt("support-answer@staging")
    assert prompt.version == 1 and prompt.aliases == ["staging"]
    assert f"prompt support-answer@1 (sha256 {prompt.sha256[:12]}…) -> staging" in proc.stdout

    # retrieval: an index over the README's sections, evaluated and gated into staging
    docs = airlock.get_model_version("airlock-docs@staging")
    assert docs.flavor == "index" and docs.version == 1
    assert docs.manifest["options"]["embedder"]["ref"] == "all-minilm-l6-v2@1"
    rag_eval = airlock.store.get_store().evaluations.list_for("airlock-docs", 1)
    assert len(rag_eval) == 1
    assert "gate docs-retrieval passed: airlock-docs@staging -> airlock-docs@1" in proc.stdout

    assert airlock.verify_events().ok
    assert "staging" in proc.stdout and "production" in proc.stdout
    assert "audit events verified: ok" in proc.stdout

    # the evidence pack of the production version: written, verified, its completeness said
    pack = airlock_home / "reports" / f"evidence-{NAME}"
    assert airlock.evidence.verify(pack).ok
    manifest = (pack / "manifest.json").read_text()
    assert f'"ref": "{NAME}@{production}"' in manifest
    assert f"evidence pack of {NAME}@production: " in proc.stdout
    assert "verified ok, completeness " in proc.stdout
    items = {i["item"]: i for i in json.loads(manifest)["items"]}
    assert items["drift"]["present"]  # the drift check the demo kept of its endpoint
    assert "production/drift_checks.json" in items["drift"]["files"]
    assert items["importance"]["present"]  # the demo evaluates with permutation importance

    # the rollout: the broken candidate on the canary route, rolled back at its first step
    # by the controller's evaluation of the real traffic, and in its own evidence pack
    rollout = rollout_status(NAME).rollout
    assert (rollout.version, rollout.status, rollout.step) == (broken.version, "rolled-back",
                                                              0)
    assert rollout.weights == {"primary": 100.0, "canary": 0.0}
    assert rollout.reason is not None and rollout.reason.startswith("error_rate breached")
    assert [e.action for e in airlock.list_events(action="rollout.")] == [
        "rollout.started", "rollout.rolled_back"]
    said = " ".join(proc.stdout.split())  # as printed, without the terminal's line breaks
    assert "rollout verdict: rolled-back at step 1 (25 %): error_rate breached" in said
    assert "-> rollback (error_rate +100% breach; srm pass)" in said
    assert "no restart: the next 20 requests went to {'primary': 20}" in said
    result = airlock.evidence.export(f"{NAME}@{broken.version}", airlock_home / "broken")
    assert "experiments" not in {m["item"] for m in result.completeness.recommended_missing}
