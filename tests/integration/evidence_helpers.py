"""A small real release for evidence-pack tests: a contract validated on the training data,
a tracked run with its input, a registered version with its intended use, an evaluation
with slices, a sensitive attribute and CIs, a gate decision and a promotion to a protected
`production`; and a second version with nothing but its registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import airlock

NAME = "credit"
CONTRACT = """name: credit-data
columns:
  age: {type: int, nullable: false, min: 0, max: 120}
  hours: {type: int, nullable: false}
  sex: {type: string, nullable: false}
"""
POLICY = """name: credit-release
rules:
  - metric: roc_auc
    min: 0.6
  - fairness: demographic_parity_ratio
    feature: sex
    min: 0.1
"""


def frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"age": rng.integers(18, 80, n), "hours": rng.integers(10, 60, n),
                       "sex": rng.choice(["F", "M"], n), "edu": rng.choice(["a", "b"], n)})
    df["income"] = ((df["age"] + df["hours"] + rng.normal(0, 10, n)) > 90).astype(int)
    return df


def build_release(folder: Path) -> dict[str, Any]:
    """The release described above; returns its refs and the policy's path."""
    from sklearn.linear_model import LogisticRegression

    df = frame()
    policy = folder / "gate.yaml"
    policy.write_text(POLICY)
    airlock.Contract.from_yaml(CONTRACT).validate(df)
    features = df[["age", "hours"]]
    with airlock.start_run("credit", params={"C": 1.0}) as run:
        info = run.log_input(df, name="credit-train")
        model = LogisticRegression(max_iter=300).fit(features, df["income"])
        run.log_metric("train_rows", len(df))
        v1 = airlock.register_model(NAME, model, run=run, input_example=features.head(),
                                    datasets=[info], description="credit pre-screen",
                                    intended_use="Tests only; no decision about people.")
    airlock.protect(NAME, "production", policy)
    airlock.evaluate(f"{NAME}@{v1.version}", df, target="income", slices=["edu"],
                     sensitive=["sex"], policy=policy, bootstrap=20, seed=1)
    airlock.promote(f"{NAME}@{v1.version}", to="production")
    v2 = airlock.register_model(NAME, model, input_example=features.head())
    return {"production": f"{NAME}@production", "v1": f"{NAME}@{v1.version}",
            "bare": f"{NAME}@{v2.version}", "run": run.id, "policy": policy}


def build_home(folder: Path) -> tuple[Path, dict[str, Any]]:
    """:func:`build_release` into an embedded store of its own at ``folder/home`` (for a
    module to build once and copy per test, or to drive with the CLI)."""
    import pytest

    from airlock.store import close_stores

    home = folder / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRLOCK_HOME", str(home))
        mp.delenv("AIRLOCK_STORE_URI", raising=False)
        mp.delenv("AIRLOCK_ARTIFACT_URI", raising=False)
        mp.setenv("AIRLOCK_ACTOR", "author")
        release = build_release(folder)
        close_stores()
    return home, release


def keypair(folder: Path, name: str = "key") -> tuple[Path, Path]:
    """An Ed25519 key pair as PEM files: (private, public)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private, public = folder / f"{name}.pem", folder / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public
