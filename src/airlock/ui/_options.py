"""The UI's configuration: a frozen model that only stores what ``airlock ui`` was given."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["UiConfig"]


class UiConfig(BaseModel):
    """``rules``: alert-rules files whose rules and state the endpoint pages show;
    ``references``: endpoint → reference (a saved profile or data) for its input drift;
    ``prediction_references``: endpoint → reference of its prediction drift (default: the
    profile recorded when the served version was evaluated);
    ``window``: the endpoint pages' default window; ``refresh_seconds``: how often the
    endpoint pages refresh themselves (with JavaScript; 0: never); ``reads_need_token``:
    reading needs a token too (``airlock ui`` sets it when it listens beyond loopback with
    tokens configured)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Path, ...] = ()
    references: dict[str, str] = Field(default_factory=dict)
    prediction_references: dict[str, str] = Field(default_factory=dict)
    window: str = "1h"
    refresh_seconds: int = Field(default=10, ge=0, le=3600)
    reads_need_token: bool = False
