"""The server processes airlock runs load their models first, then freeze the heap (so full
garbage collections do not walk the loaded libraries' objects on the request path), and only
then serve; an app embedded in someone else's process (``create_app``) freezes nothing."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.serving_helpers import NAME, register_adult

from airlock.serve import EndpointConfig, create_app, run


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Each case starts with nothing frozen and leaves the test process that way."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _config() -> EndpointConfig:
    return EndpointConfig.model_validate({"name": NAME,
                                          "routes": [{"model": f"{NAME}@production"}]})


def _loaded(app: Any) -> bool:
    return all(slot.model is not None for slot in app.state.endpoint.slots)


def test_one_worker_loads_then_freezes_before_uvicorn_starts(
        adult_sample: Any, unfrozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    register_adult(adult_sample, versions=1)
    seen: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        seen.update(frozen=gc.get_freeze_count(), loaded=_loaded(app), port=options["port"])

    monkeypatch.setattr(uvicorn, "run", fake_run)
    run(_config(), port=8765)  # no endpoint given: run loads the models itself
    assert seen["loaded"] is True and seen["port"] == 8765
    assert seen["frozen"] > 10_000  # numpy, scikit-learn, pandas, Arrow, the model


def test_each_worker_loads_then_freezes(adult_sample: Any, unfrozen: None, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.serve._server import app_from_env

    register_adult(adult_sample, versions=1)
    path = tmp_path / "endpoint.json"
    path.write_text(_config().model_dump_json())
    monkeypatch.setenv("AIRLOCK_SERVE_CONFIG", str(path))
    app = app_from_env()
    assert _loaded(app)
    assert gc.get_freeze_count() > 10_000


def test_create_app_freezes_nothing(adult_sample: Any, unfrozen: None) -> None:
    register_adult(adult_sample, versions=1)
    create_app(_config())
    assert gc.get_freeze_count() == 0
