"""The default reference of prediction drift: a profile of an evaluation's predictions.

When a model version is evaluated with the store, :func:`record_prediction_profile` keeps a
profile of its outputs on the evaluation data (``evaluations/{id}/predictions.profile`` in the
artifact store). Prediction drift of an endpoint then compares what the served version
answers with what it answered when it was evaluated — a reference that is named, fixed and
chosen before the traffic, never the traffic's own first window.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa

from airlock.errors import AirlockError

from ._profile import Profile

__all__ = ["evaluation_reference", "record_prediction_profile"]

_KEY = "evaluations/{}/predictions.profile"


def record_prediction_profile(evaluation_id: str, outputs: pa.Table) -> str | None:
    """Store a profile of an evaluation's predictions beside it; its artifact key, or None
    when the outputs hold no column a profile can describe."""
    from airlock.store import get_store

    try:
        profile = Profile.from_data(outputs)
    except AirlockError:
        return None
    key = _KEY.format(evaluation_id)
    with tempfile.TemporaryDirectory(prefix="airlock-profile-") as tmp:
        path = profile.save(Path(tmp) / "predictions.profile")
        get_store().artifacts.put_file(path, key)
    return key


def evaluation_reference(model: str, version: int) -> tuple[Profile | None, str]:
    """The profile of the newest evaluation of ``model`` version ``version`` that recorded
    one, and what it is; else None and why there is none."""
    from airlock.store import get_store

    store = get_store()
    evaluations = store.evaluations.list_for(model, version)
    for ev in reversed(evaluations):
        key = _KEY.format(ev["id"])
        if store.artifacts.exists(key):
            with store.artifacts.open(key) as fh:
                profile = Profile.from_bytes(fh.read(), name=f"profile {key!r}")
            return profile, (f"predictions of evaluation {ev['id']} of {model} v{version} "
                             f"({profile.rows:,} rows)")
    if evaluations:
        return None, (f"no evaluation of {model} v{version} recorded a profile of its "
                      "predictions (evaluate it again with this airlock, or pass a "
                      "prediction reference)")
    return None, (f"{model} v{version} has no stored evaluation to compare its predictions "
                  "with (run airlock eval, or pass a prediction reference)")
