"""A small real store for the UI tests: runs with histories, a model with versions, a
protected alias promoted through a gate and by an override, and hostile names."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import airlock
from airlock.gates import gate, load_policy, promote, protect
from airlock.store import get_store

NAME = "churn"
EXPERIMENT = "churn-exp"
HOSTILE = "<script>alert(1)</script>"
POLICY = """\
name: release
rules:
  - metric: roc_auc
    min: 0.85
"""


def _evaluation(version: int, auc: float) -> str:
    eval_id = f"ev-{version}-{int(auc * 1000)}"
    ci = {"value": auc, "ci_low": auc - 0.01, "ci_high": auc + 0.01}
    result = {
        "id": eval_id, "task": "binary", "target": "y", "support": 1000,
        "model": {"ref": f"{NAME}@{version}", "name": NAME, "version": version,
                  "sha256": f"{version:064d}"},
        "dataset": {"name": "test", "digest": "d" * 64, "rows": 1000,
                    "schema": {"x": "float64", "y": "int64"}},
        "config": {"threshold": 0.5, "bootstrap": 100, "seed": 0, "confidence": 0.95,
                   "min_support": 30, "slices": [], "sensitive": []},
        "higher_is_better": {"roc_auc": True}, "overall": {"roc_auc": ci},
        "slices": {}, "fairness": {}, "baseline": None,
    }
    get_store().evaluations.save(eval_id=eval_id, name=NAME, version=version,
                                 model_sha256=f"{version:064d}", task="binary", result=result,
                                 dataset=None)
    return eval_id


def fill_store(tmp: Path) -> dict[str, Any]:
    """Three runs (one named and tagged with a <script>), two model versions from the
    first run, production protected: v1 through a passing gate, v2 by an override."""
    import polars as pl
    from sklearn.linear_model import LogisticRegression

    ids = []
    data = pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 0, 1, 1]})
    frame = data.to_pandas()
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    artifact = tmp / "notes.txt"
    artifact.write_text("hello from the run\n")
    for i, depth in enumerate((3, 6, 9)):
        name = HOSTILE if i == 2 else f"run-{depth}"
        with airlock.start_run(experiment=EXPERIMENT, name=name) as run:
            run.log_params({"max_depth": depth, "lr": 0.1, "seed": 7})
            run.set_tags({"team": HOSTILE if i == 2 else "growth"})
            for step in range(10):
                run.log_metric("val_auc", 0.7 + 0.02 * step + 0.01 * i, step=step)
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            if i == 0:
                run.log_artifact(artifact)
                run.log_input(data, name="train")
                v1 = airlock.register_model(NAME, model, input_example=frame[["x"]],
                                            datasets=[data])
                v2 = airlock.register_model(NAME, model, input_example=frame[["x"]])
        ids.append(run.id)
    policy = load_policy(POLICY)
    protect(NAME, "production", policy)
    gate(_evaluation(v1.version, 0.91), policy)
    promote(f"{NAME}@{v1.version}", to="production")
    gate(_evaluation(v2.version, 0.80), policy)
    promote(f"{NAME}@{v2.version}", to="production", override=True,
            reason="hotfix approved by the on-call lead")
    airlock.set_alias(f"{NAME}@{v1.version}", "staging")
    return {"runs": ids, "versions": [v1.version, v2.version]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ui(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    """A real `airlock ui` process on 127.0.0.1; returns it once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airlock", "ui", "--host", "127.0.0.1", "--port", str(port),
         *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"airlock ui exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/api/experiments", timeout=1).status_code < 600:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)  # polling interval while the port is not yet accepting
    proc.kill()
    raise RuntimeError("airlock ui did not answer within 30 s")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def filled_store(root: Path) -> dict[str, Any]:
    """Fill a fresh embedded store under ``root / "home"`` (environment restored after)."""
    from airlock.store import close_stores

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRLOCK_HOME", str(root / "home"))
        mp.setenv("AIRLOCK_ACTOR", "tester")
        mp.delenv("AIRLOCK_STORE_URI", raising=False)
        mp.delenv("AIRLOCK_ARTIFACT_URI", raising=False)
        info = fill_store(root)
        close_stores()
    return info
