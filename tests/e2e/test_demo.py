"""The README's demo, run as a user runs it: a fresh store, two tracked runs, one alias."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import airlock

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
    assert [v.version for v in versions] == [1, 2]
    assert {v.run_id for v in versions} == set(val_auc)
    best = max(versions, key=lambda v: val_auc[v.run_id])
    assert airlock.get_model_version(f"{NAME}@staging").version == best.version

    for run in runs:
        detail = airlock.get_run(run.id)
        assert [i["name"] for i in detail.inputs] == ["adult-train"]
        assert detail.artifacts, "the demo logs a report artifact per run"

    assert airlock.verify_events().ok
    assert "staging" in proc.stdout
    assert "audit events verified: ok" in proc.stdout
